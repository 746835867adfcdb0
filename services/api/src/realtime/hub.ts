// The realtime fan-out: one Redis reader per tenant stream in this process (tenant-reader.ts),
// delivering to every open SSE stream of that tenant (stream.ts), with the credential behind each
// stream re-checked, a cap per principal and a bound on what a slow client can make the process
// buffer.
import type { ServerResponse } from 'node:http';
import { REALTIME_STREAM_MAX_LEN } from '@switchboard/messaging/producer';
import type { MetricsRegistry } from '@switchboard/telemetry';
import type { Redis } from 'ioredis';
import { ApiError } from '../errors.ts';
import type { Principal } from '../plugins/auth.ts';
import type { Frame } from './frames.ts';
import { RealtimeStream, type StreamCloseReason } from './stream.ts';
import { RECHECK_FIELD, TenantReader } from './tenant-reader.ts';

/** What a principal check may find: the principal is gone, and why. */
export type PrincipalGoneReason = Extract<
  StreamCloseReason,
  'member_removed' | 'credential_revoked' | 'session_ended'
>;

/**
 * Checks a tenant's principals against the database: returns those no longer allowed to read the
 * stream (by `checkKey`), with the reason. It must reject (not answer "all gone") when it
 * cannot tell, e.g. the database is down: the streams then stay open until the next check.
 */
export type PrincipalCheck = (
  tenantId: string,
  principals: readonly Principal[],
) => Promise<Map<string, PrincipalGoneReason>>;

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
  /**
   * How long a stream dropped as too slow has to read what is buffered and its final
   * `stream.closed` event before its socket is cut, ms. Default 10 s.
   */
  slowCloseGraceMs?: number;
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

/**
 * The key a principal is re-checked under: a member's signed-in session is its own (one member's
 * sessions end separately), so it is principalKey plus the session id.
 */
export function checkKey(principal: Principal): string {
  return principal.kind === 'user' && principal.sessionId
    ? `${principalKey(principal)}:${principal.sessionId}`
    : principalKey(principal);
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
 * (counted under reason `slow_consumer`), never buffered without bound: nothing more is written to
 * it but a final `stream.closed` event, and its socket is cut if that is not read within
 * `slowCloseGraceMs`. Its client reconnects with the last id it received and reads the rest from
 * Redis.
 */
export class RealtimeHub {
  readonly redis: Redis;
  readonly maxStreamsPerPrincipal: number;
  readonly recheckIntervalMs: number;
  readonly maxBufferedBytes: number;
  readonly slowCloseGraceMs: number;
  readonly blockMs: number;
  readonly readCount: number;
  private readonly checkPrincipals: PrincipalCheck;
  private readonly logger: RealtimeHubOptions['logger'];
  private readonly readers = new Map<string, TenantReader>();
  private readonly perPrincipal = new Map<string, number>();
  /** Responses of slow streams still flushing their final event (cut at shutdown). */
  private readonly draining = new Set<ServerResponse>();
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
    this.slowCloseGraceMs = options.slowCloseGraceMs ?? 10_000;
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
  /** Open streams, tenant readers, and slow streams' responses still flushing their final event. */
  stats(): { streams: number; readers: number; draining: number } {
    let streams = 0;
    for (const reader of this.readers.values()) streams += reader.streams.size;
    return { streams, readers: this.readers.size, draining: this.draining.size };
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
    for (const res of this.draining) res.destroy();
    this.draining.clear();
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
        principals.set(checkKey(stream.principal), stream.principal);
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
          const reason = gone.get(checkKey(stream.principal));
          if (reason) stream.close(reason);
        }
      }
    }
  }

  /** @internal A stream ended: its place is free again; a reader with no streams stops. */
  streamClosed(stream: RealtimeStream, reason: StreamCloseReason): void {
    this.release(stream.principalKey);
    this.closedTotal?.inc({ reason });
    stream.reader.streams.delete(stream);
    const reader = this.readers.get(stream.reader.key);
    if (reader === stream.reader && reader.streams.size === 0 && reader.admitting === 0) {
      this.readers.delete(reader.key);
      reader.stop();
    }
  }

  /** @internal A slow stream's response flushes its final event until it closes (or shutdown cuts it). */
  lingering(res: ServerResponse): void {
    this.draining.add(res);
    res.once('close', () => this.draining.delete(res));
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
