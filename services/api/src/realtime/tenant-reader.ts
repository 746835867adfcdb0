// The one reader of a tenant stream in this process: a Redis connection of its own looping on
// XREAD BLOCK, each read framed once and delivered to every open stream of the tenant.
import type { Redis } from 'ioredis';
import { type Frame, frameOf } from './frames.ts';
import type { RealtimeStream } from './stream.ts';

/**
 * The field of a control entry in a tenant's event stream: "credentials changed, re-check your
 * streams", appended by the API process that made the change so every other API process (each
 * reads the stream anyway) re-checks at once. It has no event field, so it is never sent to a
 * client; a resuming client's Last-Event-ID is unaffected.
 */
export const RECHECK_FIELD = 'recheck';

/** What a reader needs of the hub (RealtimeHub). */
export interface ReaderHost {
  /** The shared connection: the newest entry is read on it, and the reader's own is its duplicate. */
  readonly redis: Redis;
  /** How long one XREAD blocks, ms. */
  readonly blockMs: number;
  /** Entries per XREAD. */
  readonly readCount: number;
  /** Re-checks the principals of the open streams (a credential change was announced). */
  revalidate(): Promise<void>;
  /** The reader's connection failed for good. */
  readerFailed(reader: TenantReader, error: unknown): void;
  /** A read was written to every stream. */
  delivered(batch: readonly Frame[]): void;
}

type XReadResult = [string, [string, string[]][]][] | null;

/** The one reader of a tenant stream in this process: a connection of its own and its XREAD loop. */
export class TenantReader {
  readonly streams = new Set<RealtimeStream>();
  /** Admissions that have not started their stream yet (the reader must not stop under them). */
  admitting = 0;
  /** The id of the newest entry read (delivered to the streams). */
  last = '0-0';
  readonly ready: Promise<void>;
  private connection: Redis | undefined;
  private isStopped = false;
  private readonly hub: ReaderHost;
  readonly key: string;

  constructor(hub: ReaderHost, key: string) {
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
