// The worker's one reader of customers' new messages: the tenant's realtime stream, read with a
// blocking XREAD on a connection of its own, each inbound `message.created` handed to every
// automation that answers customers (away replies, the assistant, the session bot). One reader,
// not one per automation: one Redis connection and one parse per event, whatever the number of
// automations.
import { REALTIME_EVENT_FIELD, realtimeEventSchema, realtimeStreamKey } from '@switchboard/messaging';
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
  onError?: (error: unknown, context: { what: string; messageId?: string }) => void;
}

/**
 * Reads the stream from its end (`$`) at `start()`: a message stored while no worker read the
 * stream is not offered to the handlers (each automation says what that means for it).
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
    let last = '$';
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
        for (const [id, fields] of batch?.[0]?.[1] ?? []) {
          last = id;
          const messageId = customerMessageId(fields);
          if (messageId !== undefined) await this.dispatch(messageId);
        }
      } catch (error) {
        if (!this.running) return;
        this.options.onError?.(error, { what: 'read realtime stream' });
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
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
