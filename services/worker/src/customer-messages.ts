// The worker's one reader of customers' new messages: the tenant's realtime stream, read with a
// blocking XREAD on a connection of its own, each inbound `message.created` handed to every
// automation that answers customers (away replies, the assistant, the session bot). One reader,
// not one per automation: one Redis connection and one parse per event, whatever the number of
// automations. The position read so far is kept in Redis, so that a worker that starts again
// (all replicas restarting, a rollout) hands on what arrived meanwhile, within a bound.
import { REALTIME_EVENT_FIELD, realtimeEventSchema, realtimeStreamKey } from '@switchboard/messaging';
import { RedisScript } from '@switchboard/redis';
import type { Redis } from 'ioredis';

/** One automation fed by the reader. */
export interface CustomerMessageHandler {
  /** Names the handler in errors (`<name> failed`). */
  name: string;
  handle(messageId: string): Promise<unknown>;
  /**
   * `ordered` (default): awaited before the next event, so the handler sees one conversation's
   * messages in order. `concurrent`: started and not awaited, for a handler that waits on a slow
   * remote (the assistant's provider) and must not hold the others' messages.
   */
  mode?: 'ordered' | 'concurrent';
}

/** Options of {@link CustomerMessageReader}. */
export interface CustomerMessageReaderOptions {
  /** A connection of the reader's own (XREAD BLOCK holds it; `close()` disconnects it). */
  connection: Redis;
  keyPrefix: string;
  handlers: readonly CustomerMessageHandler[];
  /** How long one XREAD blocks (default 5 s); `close()` ends a blocked one at once. */
  blockMs?: number;
  /**
   * How far back a start resumes (default 10 minutes): from the position the tenant's readers
   * reached, but never from before now less this. An automated answer to an older message would
   * come too late to help; those are left to the team.
   */
  resumeWindowMs?: number;
  /** The clock of the resume window (tests inject one). */
  now?: () => number;
  onError?: (error: unknown, context: { what: string; messageId?: string }) => void;
}

/**
 * Reads the stream from the position the tenant's readers reached (`positionKey`: the highest
 * entry any replica handed on, moved forward after each batch), or from the resume window's start
 * when that is later; from the stream's end (`$`) when no reader ever read it.
 * So a message stored while no worker read the stream is handed on when one starts within the
 * window; the handlers are idempotent (each claims what it answers), so a message two replicas
 * both hand on, or one handed on again after a restart, is answered once.
 */
export class CustomerMessageReader {
  private readonly options: CustomerMessageReaderOptions;
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(options: CustomerMessageReaderOptions) {
    this.options = options;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.read();
  }

  /** Stops reading (a blocked XREAD ends with the connection) and waits for the handlers in flight. */
  async close(): Promise<void> {
    this.running = false;
    this.options.connection.disconnect();
    await this.loop?.catch(() => undefined);
    await Promise.allSettled([...this.inFlight]);
  }

  private async read(): Promise<void> {
    const { connection, keyPrefix } = this.options;
    const key = realtimeStreamKey(keyPrefix);
    let last = await this.startPosition().catch((error: unknown) => {
      this.options.onError?.(error, { what: 'read the stream position' });
      return '$';
    });
    while (this.running) {
      try {
        const batch = (await connection.xread(
          'COUNT',
          100,
          'BLOCK',
          this.options.blockMs ?? 5_000,
          'STREAMS',
          key,
          last,
        )) as [string, [string, string[]][]][] | null;
        const entries = batch?.[0]?.[1] ?? [];
        for (const [id, fields] of entries) {
          last = id;
          const messageId = customerMessageId(fields);
          if (messageId !== undefined) await this.dispatch(messageId);
        }
        if (entries.length > 0) await advancePosition(connection, keyPrefix, last);
      } catch (error) {
        if (!this.running) return;
        this.options.onError?.(error, { what: 'read realtime stream' });
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
  }

  /** Where a start reads from: the readers' position, bounded by the resume window; the end without one. */
  private async startPosition(): Promise<string> {
    const key = positionKey(this.options.keyPrefix);
    const now = this.options.now?.() ?? Date.now();
    const position = await this.options.connection.get(key);
    if (position === null) {
      // The first reader of this tenant starts at the end, and says so: a restart resumes from here.
      await this.options.connection.set(key, `${now}-0`, 'PX', POSITION_TTL_MS, 'NX');
      return '$';
    }
    const earliest = now - (this.options.resumeWindowMs ?? DEFAULT_RESUME_WINDOW_MS);
    // XREAD answers the entries after the id given: `<earliest - 1>-<max>` starts at `earliest`.
    return streamIdMs(position) >= earliest ? position : `${earliest - 1}-18446744073709551615`;
  }

  /** Hands `messageId` to every handler; one handler's failure is reported and does not stop the others. */
  private async dispatch(messageId: string): Promise<void> {
    for (const handler of this.options.handlers) {
      const handled = handler
        .handle(messageId)
        .catch((error: unknown) => this.options.onError?.(error, { what: handler.name, messageId }));
      if (handler.mode === 'concurrent') {
        this.inFlight.add(handled);
        void handled.finally(() => this.inFlight.delete(handled));
      } else {
        await handled;
      }
    }
  }
}

const DEFAULT_RESUME_WINDOW_MS = 10 * 60_000;
/** The position outlives any resume window by far, and goes when the tenant's readers are gone. */
const POSITION_TTL_MS = 7 * 24 * 3600_000;

/** The tenant's readers' position in the realtime stream (the last entry handed on). */
export function positionKey(keyPrefix: string): string {
  return `${keyPrefix}worker:customer-messages:position`;
}

/** The milliseconds part of a stream entry id (`<ms>-<seq>`). */
function streamIdMs(id: string): number {
  return Number(id.split('-')[0]);
}

// Moves the position forward only (replicas race; the highest entry handed on wins).
// KEYS[1] the position; ARGV[1] the new entry id, ARGV[2] the TTL in ms.
const ADVANCE_POSITION = new RedisScript(`
local current = redis.call('GET', KEYS[1])
if current then
  local cm, cs = string.match(current, '^(%d+)-(%d+)$')
  local nm, ns = string.match(ARGV[1], '^(%d+)-(%d+)$')
  if cm and (tonumber(nm) < tonumber(cm) or (tonumber(nm) == tonumber(cm) and tonumber(ns) <= tonumber(cs))) then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`);

/** Moves the readers' position to stream entry `id` unless it is already there or further. */
export async function advancePosition(redis: Redis, keyPrefix: string, id: string): Promise<void> {
  await ADVANCE_POSITION.run(redis, [positionKey(keyPrefix)], [id, POSITION_TTL_MS]);
}

/** The message id of an inbound `message.created` stream entry; undefined for any other entry. */
function customerMessageId(fields: string[]): string | undefined {
  const at = fields.indexOf(REALTIME_EVENT_FIELD);
  const raw = at >= 0 ? fields[at + 1] : undefined;
  if (raw === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return undefined;
  }
  const parsed = realtimeEventSchema.safeParse(json);
  if (!parsed.success || parsed.data.type !== 'message.created') return undefined;
  return parsed.data.data.direction === 'inbound' ? parsed.data.data.messageId : undefined;
}
