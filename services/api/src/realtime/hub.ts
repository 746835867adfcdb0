// The realtime fan-out: one Redis reader per tenant stream in this process, delivering to every
// open SSE stream of that tenant, with the credential behind each stream re-checked, a cap per
// principal and a bound on what a slow client can make the process buffer.
import type { ServerResponse } from 'node:http';
import {
  REALTIME_EVENT_FIELD,
  REALTIME_STREAM_MAX_LEN,
  realtimeEventSchema,
} from '@switchboard/messaging/producer';
import type { MetricsRegistry } from '@switchboard/telemetry';
import type { Redis } from 'ioredis';
import { ApiError } from '../errors.ts';
import type { Principal } from '../plugins/auth.ts';
import { compareStreamIds } from './stream-ids.ts';

/** Why the API ended a stream; sent to the client in the final `stream.closed` event. */
export type StreamCloseReason =
  | 'member_removed'
  | 'credential_revoked'
  | 'token_expired'
  | 'slow_consumer'
  | 'unavailable'
  | 'shutting_down'
  | 'client_closed';

/** What a principal check may find: the principal is gone, and why. */
export type PrincipalGoneReason = Extract<StreamCloseReason, 'member_removed' | 'credential_revoked'>;

/**
 * Checks a tenant's principals against the database: returns those no longer allowed to read the
 * stream (by `principalKey`), with the reason. It must reject (not answer "all gone") when it
 * cannot tell, e.g. the database is down: the streams then stay open until the next check.
 */
export type PrincipalCheck = (
  tenantId: string,
  principals: readonly Principal[],
) => Promise<Map<string, PrincipalGoneReason>>;

/**
 * The field of a control entry in a tenant's event stream: "credentials changed, re-check your
 * streams", appended by the API process that made the change so every other API process (each
 * reads the stream anyway) re-checks at once. It has no event field, so it is never sent to a
 * client; a resuming client's Last-Event-ID is unaffected.
 */
export const RECHECK_FIELD = 'recheck';

/** The final event's message per reason (the client sees it; nothing secret). */
const CLOSE_MESSAGES: Record<StreamCloseReason, string> = {
  member_removed: 'you are no longer a member of this tenant',
  credential_revoked: 'the API key was revoked or expired, or its creator is no longer a member',
  token_expired: 'the access token expired; reconnect with a fresh one and Last-Event-ID',
  slow_consumer: 'the client did not read fast enough; reconnect with Last-Event-ID',
  unavailable: 'the event stream could not be read; reconnect with Last-Event-ID',
  shutting_down: 'the server is shutting down; reconnect with Last-Event-ID',
  client_closed: 'the client closed the stream',
};

/** Options of RealtimeHub. */
export interface RealtimeHubOptions {
  /**
   * The API's shared connection: it reads the newest entry and resumption backlogs (failing fast
   * when Redis is down, so an opening stream answers 503), and each tenant reader is its duplicate.
   */
  redis: Redis;
  /** Re-checks principals (databasePrincipalCheck in production). */
  checkPrincipals: PrincipalCheck;
  /** Open streams per principal (member or API key) in this process; one more answers 429. Default 16. */
  maxStreamsPerPrincipal?: number;
  /** How often every open stream's principal is re-checked, ms. Default 30 s. */
  recheckIntervalMs?: number;
  /**
   * Bytes a stream may have waiting in this process (beyond what the socket took) before it is
   * dropped as too slow; it resumes losslessly with Last-Event-ID. Default 256 KiB.
   */
  maxBufferedBytes?: number;
  /** How long one XREAD blocks, ms; a keepalive comment goes out after each empty read. Default 15 s. */
  blockMs?: number;
  /** Entries per XREAD and per resumption page. Default 500. */
  readCount?: number;
  logger?: { warn(object: object, message: string): void };
  metrics?: MetricsRegistry;
}

/** The key a principal is counted and re-checked under. */
export function principalKey(principal: Principal): string {
  return principal.kind === 'user'
    ? `user:${principal.tenantId}:${principal.userId}`
    : `key:${principal.tenantId}:${principal.apiKeyId}`;
}

/** What `RealtimeHub.admit` returns: a reserved place; `start` turns it into an open stream. */
export interface StreamAdmission {
  /**
   * Starts the stream on `res` (the route has hijacked the reply): the 200 head, `: connected`,
   * then the backlog after `resumeFrom` (when given) and every new event. `expiresAt` (epoch ms):
   * when the credential expires; the stream ends then with `token_expired`.
   */
  start(
    res: ServerResponse,
    options: { resumeFrom?: string | undefined; expiresAt?: number | undefined },
  ): void;
}

const CONNECTED = Buffer.from(': connected\n\n');
const KEEPALIVE = Buffer.from(': keepalive\n\n');
// setTimeout fires at once for delays past 2^31 - 1 ms; such expiries are left to the re-check.
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The process's realtime streams. For each tenant stream (`sb:<slug>:events`) with at least one
 * open SSE stream there is one reader: one connection, one XREAD BLOCK loop, each entry parsed and
 * framed once and written to every open stream of that tenant. A stream that resumes with
 * Last-Event-ID first reads its backlog with XRANGE on the shared connection while the reader's
 * live entries wait for it, so it sees every entry once, in order.
 *
 * Credentials: every `recheckIntervalMs`, and at once on `revalidate` (the plugin calls it after
 * any successful change through the team, API key and auth routes, and announces the change with
 * `announceChange`; a reader that reads such an announcement calls it too), the principals of the
 * open streams are checked; a stream whose principal is gone gets a final `stream.closed` event with the
 * reason and ends. A member's stream also ends when its access token expires.
 *
 * Backpressure: a stream whose unsent bytes in this process pass `maxBufferedBytes` is dropped
 * (counted under reason `slow_consumer`), never buffered without bound; its client reconnects with
 * the last id it received and reads the rest from Redis.
 */
export class RealtimeHub {
  readonly redis: Redis;
  readonly maxStreamsPerPrincipal: number;
  readonly recheckIntervalMs: number;
  readonly maxBufferedBytes: number;
  readonly blockMs: number;
  readonly readCount: number;
  private readonly checkPrincipals: PrincipalCheck;
  private readonly logger: RealtimeHubOptions['logger'];
  private readonly readers = new Map<string, TenantReader>();
  private readonly perPrincipal = new Map<string, number>();
  private readonly closedTotal: { inc(labels: { reason: StreamCloseReason }): void } | undefined;
  private readonly deliveryLag: { observe(seconds: number): void } | undefined;
  private readonly recheckTimer: ReturnType<typeof setInterval>;
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  /** Which tenant the queued check covers (undefined: all). */
  private queuedScope: { tenantId: string | undefined } | undefined;
  private closing = false;

  constructor(options: RealtimeHubOptions) {
    this.redis = options.redis;
    this.checkPrincipals = options.checkPrincipals;
    this.maxStreamsPerPrincipal = options.maxStreamsPerPrincipal ?? 16;
    this.recheckIntervalMs = options.recheckIntervalMs ?? 30_000;
    this.maxBufferedBytes = options.maxBufferedBytes ?? 256 * 1024;
    this.blockMs = options.blockMs ?? 15_000;
    this.readCount = options.readCount ?? 500;
    this.logger = options.logger;
    if (options.metrics) {
      this.closedTotal = options.metrics.counter<'reason'>({
        name: 'switchboard_api_realtime_streams_closed_total',
        help: 'Realtime streams ended, by reason (slow_consumer: dropped for not reading; member_removed, credential_revoked, token_expired: the credential is gone).',
        labelNames: ['reason'],
      });
      this.deliveryLag = options.metrics.histogram({
        name: 'switchboard_api_realtime_delivery_lag_seconds',
        help: "From an event's append to Redis (its stream id's time) until it was written to every open stream of the process.",
        buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      });
      const hub = this;
      options.metrics.gauge({
        name: 'switchboard_api_realtime_streams_connections',
        help: 'Realtime (SSE) streams open in this process.',
        collect() {
          this.set(hub.stats().streams);
        },
      });
      options.metrics.gauge({
        name: 'switchboard_api_realtime_readers_connections',
        help: 'Redis connections reading tenant event streams for this process (one per tenant with open streams).',
        collect() {
          this.set(hub.stats().readers);
        },
      });
    }
    this.recheckTimer = setInterval(() => void this.revalidate(), this.recheckIntervalMs);
    this.recheckTimer.unref();
  }

  /** Open streams and tenant readers (each reader is one Redis connection). */
  stats(): { streams: number; readers: number } {
    let streams = 0;
    for (const reader of this.readers.values()) streams += reader.streams.size;
    return { streams, readers: this.readers.size };
  }

  /**
   * Reserves a stream for `principal` on the tenant stream `key`: throws `realtime_stream_limit`
   * (429) when the principal already has `maxStreamsPerPrincipal` open here, `unavailable` (503)
   * when Redis cannot be read. Nothing may be written to the reply before this resolves.
   */
  async admit(principal: Principal, key: string): Promise<StreamAdmission> {
    if (this.closing) throw shuttingDown();
    const who = principalKey(principal);
    const open = this.perPrincipal.get(who) ?? 0;
    if (open >= this.maxStreamsPerPrincipal)
      throw new ApiError(
        'realtime_stream_limit',
        `this credential already has ${open} realtime streams open (at most ${this.maxStreamsPerPrincipal}); close one first`,
      );
    this.perPrincipal.set(who, open + 1);
    let reader = this.readers.get(key);
    if (!reader) {
      reader = new TenantReader(this, key);
      this.readers.set(key, reader);
    }
    reader.admitting += 1;
    try {
      await reader.ready;
    } catch (error) {
      reader.admitting -= 1;
      this.release(who);
      this.readerFailed(reader, error);
      throw new ApiError('unavailable', 'the realtime stream cannot be read; retry later');
    }
    if (this.closing) {
      reader.admitting -= 1;
      this.release(who);
      throw shuttingDown();
    }
    let used = false;
    const started = reader;
    return {
      start: (res, options) => {
        if (used) throw new Error('a stream admission starts one stream');
        used = true;
        started.admitting -= 1;
        const stream = new RealtimeStream(this, started, principal, who, res, options.expiresAt);
        stream.begin(options.resumeFrom);
      },
    };
  }

  /**
   * Re-checks the principals of the open streams (of `tenantId`, or all) now, and ends the streams
   * whose principal is gone or whose token expired. Calls made while a check runs share the next
   * one, so a burst of changes costs two checks at most. Never rejects.
   */
  revalidate(tenantId?: string): Promise<void> {
    if (this.queued && this.queuedScope) {
      // Joining a queued check for another tenant widens it to all.
      if (this.queuedScope.tenantId !== tenantId) this.queuedScope.tenantId = undefined;
      return this.queued;
    }
    const scope = { tenantId };
    this.queuedScope = scope;
    const after = this.running ?? Promise.resolve();
    this.queued = after.then(() => {
      this.queued = undefined;
      this.queuedScope = undefined;
      this.running = this.check(scope.tenantId)
        .catch((error: unknown) => {
          this.logger?.warn({ err: error }, 'realtime credential re-check failed');
        })
        .finally(() => {
          this.running = undefined;
        });
      return this.running;
    });
    return this.queued;
  }

  /**
   * Tells every API process reading the tenant stream `key` to re-check its streams now (a control
   * entry in the stream; see RECHECK_FIELD). A failure is logged, not thrown: the periodic re-check
   * still comes.
   */
  async announceChange(key: string): Promise<void> {
    try {
      await this.redis.xadd(key, 'MAXLEN', '~', REALTIME_STREAM_MAX_LEN, '*', RECHECK_FIELD, '1');
    } catch (error) {
      this.logger?.warn({ err: error, key }, 'could not announce a credential change to other API processes');
    }
  }

  /** Ends every stream (`shutting_down`) and reader; later admissions answer 503. */
  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.recheckTimer);
    for (const reader of [...this.readers.values()]) {
      for (const stream of [...reader.streams]) stream.close('shutting_down');
      reader.stop();
    }
    this.readers.clear();
    await this.running;
  }

  private async check(tenantId: string | undefined): Promise<void> {
    const now = Date.now();
    const byTenant = new Map<string, Map<string, Principal>>();
    for (const reader of [...this.readers.values()]) {
      for (const stream of [...reader.streams]) {
        if (stream.expiresAt !== undefined && stream.expiresAt <= now) {
          stream.close('token_expired');
          continue;
        }
        // A queued check may run for one tenant only: the periodic one covers all.
        if (tenantId !== undefined && stream.principal.tenantId !== tenantId) continue;
        let principals = byTenant.get(stream.principal.tenantId);
        if (!principals) {
          principals = new Map();
          byTenant.set(stream.principal.tenantId, principals);
        }
        principals.set(stream.principalKey, stream.principal);
      }
    }
    for (const [tenant, principals] of byTenant) {
      let gone: Map<string, PrincipalGoneReason>;
      try {
        gone = await this.checkPrincipals(tenant, [...principals.values()]);
      } catch (error) {
        // Cannot tell (the database is down): keep the streams; the next check tries again.
        this.logger?.warn({ err: error, tenantId: tenant }, 'realtime credential re-check failed');
        continue;
      }
      if (gone.size === 0) continue;
      for (const reader of [...this.readers.values()]) {
        for (const stream of [...reader.streams]) {
          const reason = gone.get(stream.principalKey);
          if (reason) stream.close(reason);
        }
      }
    }
  }

  /** @internal A stream ended: its place is free again; a reader with no streams stops. */
  streamClosed(stream: RealtimeStream, reason: StreamCloseReason): void {
    this.release(stream.principalKey);
    this.closedTotal?.inc({ reason });
    const reader = stream.reader;
    reader.streams.delete(stream);
    if (reader.streams.size === 0 && reader.admitting === 0 && this.readers.get(reader.key) === reader) {
      this.readers.delete(reader.key);
      reader.stop();
    }
  }

  /** @internal A read was written to every stream: its entries' lag since their append. */
  delivered(batch: readonly Frame[]): void {
    if (!this.deliveryLag) return;
    const now = Date.now();
    for (const { id } of batch)
      this.deliveryLag.observe(Math.max(0, now - Number(id.slice(0, id.indexOf('-')))) / 1000);
  }

  /** @internal A reader's connection failed: its streams end (`unavailable`) and resume elsewhere. */
  readerFailed(reader: TenantReader, error: unknown): void {
    if (this.readers.get(reader.key) === reader) this.readers.delete(reader.key);
    reader.stop();
    if (reader.streams.size > 0)
      this.logger?.warn({ err: error, key: reader.key }, 'realtime read failed; closing its streams');
    for (const stream of [...reader.streams]) stream.close('unavailable');
  }

  private release(who: string): void {
    const open = (this.perPrincipal.get(who) ?? 1) - 1;
    if (open > 0) this.perPrincipal.set(who, open);
    else this.perPrincipal.delete(who);
  }
}

function shuttingDown(): ApiError {
  return new ApiError('unavailable', 'the server is shutting down; retry');
}

/** One entry framed for SSE once, written to every stream as the same bytes. */
function frameOf(id: string, fields: string[]): Buffer | undefined {
  const at = fields.indexOf(REALTIME_EVENT_FIELD);
  if (at < 0) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(fields[at + 1] ?? '');
  } catch {
    return undefined;
  }
  // Only events of the contract reach clients: an entry that is not one is skipped, not sent.
  const parsed = realtimeEventSchema.safeParse(json);
  if (!parsed.success) return undefined;
  return Buffer.from(`id: ${id}\nevent: ${parsed.data.type}\ndata: ${JSON.stringify(parsed.data)}\n\n`);
}

type XReadResult = [string, [string, string[]][]][] | null;

/** One entry framed for SSE, with its id. */
interface Frame {
  id: string;
  frame: Buffer;
}

/** The one reader of a tenant stream in this process: a connection of its own and its XREAD loop. */
class TenantReader {
  readonly streams = new Set<RealtimeStream>();
  /** Admissions that have not started their stream yet (the reader must not stop under them). */
  admitting = 0;
  /** The id of the newest entry read (delivered to the streams). */
  last = '0-0';
  readonly ready: Promise<void>;
  private connection: Redis | undefined;
  private isStopped = false;
  private readonly hub: RealtimeHub;
  readonly key: string;

  constructor(hub: RealtimeHub, key: string) {
    this.hub = hub;
    this.key = key;
    this.ready = this.start();
    // Awaited by every admission; this keeps a failure with no admission left from going unhandled.
    this.ready.catch(() => {});
  }

  private async start(): Promise<void> {
    // New streams start after the current newest entry (not '$' on every read, which would drop
    // what arrives between two reads).
    const newest = await this.hub.redis.xrevrange(this.key, '+', '-', 'COUNT', 1);
    this.last = newest[0]?.[0] ?? '0-0';
    if (this.stopped) return;
    // Not with the shared client's producer settings: a blocking read must outlive the socket
    // timeout, and it waits through a reconnect instead of failing at once.
    this.connection = this.hub.redis.duplicate({
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      socketTimeout: this.hub.blockMs + 10_000,
      // Named, so CLIENT LIST shows which connections read which tenant's stream.
      connectionName: `switchboard-api-realtime:${this.key}`,
      lazyConnect: false,
    });
    this.connection.on('error', () => {
      // Reconnects are ioredis's; a read that fails for good ends the loop below.
    });
    void this.run(this.connection);
  }

  private async run(connection: Redis): Promise<void> {
    while (!this.stopped) {
      let result: XReadResult;
      try {
        result = (await connection.xread(
          'COUNT',
          this.hub.readCount,
          'BLOCK',
          this.hub.blockMs,
          'STREAMS',
          this.key,
          this.last,
        )) as XReadResult;
      } catch (error) {
        if (!this.stopped) this.hub.readerFailed(this, error);
        return;
      }
      if (this.stopped) return;
      if (!result) {
        for (const stream of [...this.streams]) stream.keepalive();
        continue;
      }
      const batch: Frame[] = [];
      let recheck = false;
      for (const [, entries] of result) {
        for (const [id, fields] of entries) {
          this.last = id;
          if (fields[0] === RECHECK_FIELD) recheck = true;
          const frame = frameOf(id, fields);
          if (frame) batch.push({ id, frame });
        }
      }
      // Another process (or this one) changed credentials: re-check this process's streams.
      if (recheck) void this.hub.revalidate();
      if (batch.length === 0) continue;
      // The whole read as one buffer, built once: one write per stream per read, however many
      // entries it holds (a loaded process reads more per XREAD, so it writes less per entry).
      const joined = batch.length === 1 ? batch[0]!.frame : Buffer.concat(batch.map((b) => b.frame));
      for (const stream of [...this.streams]) stream.deliverBatch(batch, joined);
      this.hub.delivered(batch);
    }
  }

  /** True once the reader stopped (no stream may start on it). */
  get stopped(): boolean {
    return this.isStopped;
  }

  stop(): void {
    this.isStopped = true;
    this.connection?.disconnect();
  }
}

/** One open SSE stream. */
class RealtimeStream {
  /** The id of the last entry this stream has passed (sent or skipped). */
  private cursor = '0-0';
  private state: 'catching_up' | 'live' | 'closed' = 'live';
  /** Live entries that arrived while the backlog was read; sent after it. */
  private pending: { id: string; frame: Buffer }[] = [];
  private pendingBytes = 0;
  private expiryTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly hub: RealtimeHub;
  private readonly res: ServerResponse;
  readonly reader: TenantReader;
  readonly principal: Principal;
  readonly principalKey: string;
  /** When the credential expires (epoch ms), if it does. */
  readonly expiresAt: number | undefined;

  constructor(
    hub: RealtimeHub,
    reader: TenantReader,
    principal: Principal,
    who: string,
    res: ServerResponse,
    expiresAt: number | undefined,
  ) {
    this.hub = hub;
    this.reader = reader;
    this.principal = principal;
    this.principalKey = who;
    this.res = res;
    this.expiresAt = expiresAt;
  }

  begin(resumeFrom: string | undefined): void {
    this.cursor = resumeFrom ?? this.reader.last;
    this.reader.streams.add(this);
    this.res.on('close', () => this.close('client_closed'));
    this.res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    this.res.write(CONNECTED);
    // The client may have gone while the stream was admitted: 'close' has fired already then.
    if (this.res.destroyed) {
      this.close('client_closed');
      return;
    }
    // Its reader failed while the stream was admitted: the client reconnects to a new one.
    if (this.reader.stopped) {
      this.close('unavailable');
      return;
    }
    if (this.expiresAt !== undefined) {
      const delay = this.expiresAt - Date.now();
      if (delay <= 0) {
        this.close('token_expired');
        return;
      }
      if (delay <= MAX_TIMER_MS) {
        this.expiryTimer = setTimeout(() => this.close('token_expired'), delay);
        this.expiryTimer.unref();
      }
    }
    if (resumeFrom !== undefined) {
      this.state = 'catching_up';
      void this.catchUp();
    }
  }

  /**
   * A read's entries from the reader (the same buffers every stream gets): written as one buffer
   * when the stream is live and has sent none of them, else entry by entry.
   */
  deliverBatch(batch: readonly Frame[], joined: Buffer): void {
    if (this.state === 'live' && compareStreamIds(batch[0]!.id, this.cursor) > 0) {
      this.cursor = batch[batch.length - 1]!.id;
      this.write(joined);
      return;
    }
    for (const { id, frame } of batch) this.deliver(id, frame);
  }

  /** A live entry (the same frame every stream gets). */
  deliver(id: string, frame: Buffer): void {
    if (this.state === 'closed') return;
    if (this.state === 'catching_up') {
      this.pending.push({ id, frame });
      this.pendingBytes += frame.length;
      if (this.pendingBytes > this.hub.maxBufferedBytes) this.close('slow_consumer');
      return;
    }
    if (compareStreamIds(id, this.cursor) <= 0) return;
    this.cursor = id;
    this.write(frame);
  }

  /** True once the stream ended (a getter, so a check after an await is not narrowed away). */
  private get closed(): boolean {
    return this.state === 'closed';
  }

  keepalive(): void {
    if (this.state === 'live') this.write(KEEPALIVE);
  }

  /** Writes, then drops the stream if the bytes waiting in this process pass the bound. */
  private write(chunk: Buffer): void {
    this.res.write(chunk);
    if (this.res.writableLength > this.hub.maxBufferedBytes) this.close('slow_consumer');
  }

  /** The backlog after the resume id, page by page (waiting for the socket between pages). */
  private async catchUp(): Promise<void> {
    try {
      for (;;) {
        const page = await this.hub.redis.xrange(
          this.reader.key,
          `(${this.cursor}`,
          '+',
          'COUNT',
          this.hub.readCount,
        );
        if (this.closed) return;
        for (const [id, fields] of page) {
          this.cursor = id;
          const frame = frameOf(id, fields);
          if (frame) this.res.write(frame);
        }
        if (page.length < this.hub.readCount) break;
        // The next page only once the socket took this one: a backlog never piles up here.
        if (this.res.writableNeedDrain) await this.drained();
        if (this.closed) return;
      }
    } catch {
      this.close('unavailable');
      return;
    }
    // Everything up to the cursor is written; what the reader delivered meanwhile follows.
    const pending = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    this.state = 'live';
    for (const { id, frame } of pending) {
      if (this.closed) return;
      this.deliver(id, frame);
    }
    if (!this.closed && this.res.writableLength > this.hub.maxBufferedBytes) this.close('slow_consumer');
  }

  /** Resolves when the socket has taken what was written, or the stream closed. */
  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.on('drain', done);
      this.res.on('close', done);
    });
  }

  /** Ends the stream: a final `stream.closed` event saying why, unless the client is gone or too slow. */
  close(reason: StreamCloseReason): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.pending = [];
    clearTimeout(this.expiryTimer);
    this.hub.streamClosed(this, reason);
    if (reason === 'client_closed') return;
    if (reason === 'slow_consumer') {
      // Its buffer is full: a final event would wait behind it. The socket is cut instead.
      this.res.destroy();
      return;
    }
    const data = JSON.stringify({ type: 'stream.closed', reason, message: CLOSE_MESSAGES[reason] });
    this.res.end(`event: stream.closed\ndata: ${data}\n\n`);
  }
}
