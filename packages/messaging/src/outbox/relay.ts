import { type Db, Prisma, withTenantSql } from '@switchboard/db';
import { RedisScript } from '@switchboard/redis';
import {
  currentTraceContext,
  queueTelemetry,
  type TraceContext,
  traceContextFromTraceparent,
  withSpan,
} from '@switchboard/telemetry';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  mediaDownloadJobId,
  QUEUE_NAMES,
  queuePrefix,
  REALTIME_EVENT_FIELD,
  REALTIME_STREAM_MAX_LEN,
  realtimeStreamKey,
  webhookJobOptions,
} from '../contracts.ts';
import { DEFAULT_WEBHOOK_RETRY, type WebhookRetryPolicy } from '../webhooks/schedule.ts';
import { type ParsedOutboxEntry, parseOutboxEntry } from './entries.ts';

/** The stream entry's field holding the outbox row id, beside the event (`e`): a reader can tell a repeat. */
export const REALTIME_OUTBOX_ID_FIELD = 'o';

/** Options for {@link OutboxRelay}. */
export interface OutboxRelayOptions {
  db: Db;
  /** A command-role connection (the stream, Queue.add). */
  redis: Redis;
  tenantId: string;
  keyPrefix: string;
  /** The attempts of the webhook jobs it adds (default {@link DEFAULT_WEBHOOK_RETRY}). */
  webhookRetry?: WebhookRetryPolicy;
  /** Rows per transaction (default 100). */
  batchSize?: number;
  /** How often `start()` sweeps for leftovers (default 5 s). */
  sweepIntervalMs?: number;
  /**
   * Rows younger than this are left to the kick that follows their commit (default 2 s), so a
   * sweep does not compete with it; a crash leaves them for the next sweep after that.
   */
  sweepGraceMs?: number;
  /** Longest one effect may take before it counts as failed (default 5 s; Redis may be reconnecting). */
  effectTimeoutMs?: number;
  /** Retry delay of a failed row: `baseMs` doubling per attempt up to `maxMs`, ±20 % (default 1 s .. 60 s). */
  retry?: { baseMs: number; maxMs: number };
  /** How long a performed realtime event is remembered, so a repeat of its row appends nothing (default 1 h). */
  realtimeDedupTtlMs?: number;
  onError?: (error: unknown, context: { what: string; outboxId?: string }) => void;
}

/** What one pass over some rows did. */
export interface RelayPassResult {
  /** Rows whose effect happened (and were deleted). */
  performed: number;
  /** Rows kept for a retry (attempts + 1, last_error). */
  failed: number;
}

// The marker and the event in one script: either both happen or neither, so a repeat of a row
// whose event was appended (relay died before deleting the row) appends nothing.
const APPEND_ONCE =
  new RedisScript(`if not redis.call('set', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 0 end
redis.call('xadd', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', ARGV[3], ARGV[4], ARGV[5], ARGV[6])
return 1`);

// APPEND_ONCE for many rows in one call (a relay pass's realtime rows): KEYS[1] the stream,
// KEYS[1 + j] row j's marker; ARGV: the marker TTL, MAXLEN, the event field, the row id field, then
// row j's event and id at 3 + 2j and 4 + 2j (so for KEYS[i], 2i + 1 and 2i + 2). Each row's marker
// and entry together, in row order.
const APPEND_EACH_ONCE = new RedisScript(`for i = 2, #KEYS do
  if redis.call('set', KEYS[i], '1', 'NX', 'PX', ARGV[1]) then
    redis.call('xadd', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', ARGV[3], ARGV[2 * i + 1], ARGV[4], ARGV[2 * i + 2])
  end
end
return #KEYS - 1`);

/** A pass's row, as selected. */
type OutboxRow = { id: string; kind: string; payload: unknown; attempts: number; traceparent: string | null };

interface PendingKick {
  id: string;
  done: () => void;
}

/**
 * Performs the outbox's effects: right after a commit for the rows it wrote (`kick`), and on
 * start and periodically for leftovers (`start`, `drain`). Rows are taken with
 * `FOR UPDATE SKIP LOCKED` inside a transaction that lasts until each effect happened and the
 * row is deleted, so two relays (two workers, or a kick and a sweep) never perform one row at the
 * same time. A failed effect (Redis unreachable) keeps its row with `attempts + 1` and
 * `last_error`, and is retried with exponential backoff. Each effect runs in a PRODUCER span
 * continuing the row's stored traceparent (the commit that wrote it), so an effect performed by
 * a sweep after a crash, in another process, is still in the commit's trace.
 */
export class OutboxRelay {
  private readonly options: OutboxRelayOptions;
  private readonly webhookQueue: Queue;
  private readonly mediaQueue: Queue;
  private readonly batchSize: number;
  private readonly effectTimeoutMs: number;
  /** In-memory backoff: row id -> earliest next attempt (ms). Rows another relay failed are retried at its pace. */
  private readonly retryAt = new Map<string, number>();
  private readonly pending: PendingKick[] = [];
  // The trace of the commit that kicked each row: the effect's parent when the row has no stored
  // traceparent (written with tracing off, or before the column existed).
  private readonly traceContexts = new Map<string, TraceContext>();
  private pumping: Promise<void> | undefined;
  private sweeping: Promise<unknown> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(options: OutboxRelayOptions) {
    this.options = options;
    this.batchSize = options.batchSize ?? 100;
    this.effectTimeoutMs = options.effectTimeoutMs ?? 5_000;
    const prefix = queuePrefix(options.keyPrefix);
    const telemetry = queueTelemetry();
    this.webhookQueue = new Queue(QUEUE_NAMES.webhookDeliveries, {
      connection: options.redis,
      prefix,
      telemetry,
    });
    this.mediaQueue = new Queue(QUEUE_NAMES.mediaDownloads, { connection: options.redis, prefix, telemetry });
    for (const queue of [this.webhookQueue, this.mediaQueue])
      queue.on('error', (error) => options.onError?.(error, { what: `outbox ${queue.name} queue` }));
  }

  /**
   * Performs the given rows now (just committed by the caller). Kicks arriving while a batch runs
   * are gathered into the next one. Resolves once each row was performed or kept for a retry;
   * never rejects (a row that could not be done stays in the table for the sweep).
   */
  kick(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return Promise.resolve();
    const trace = currentTraceContext();
    for (const id of ids) this.traceContexts.set(id, trace);
    const waits = ids.map((id) => new Promise<void>((done) => this.pending.push({ id, done })));
    this.schedulePump();
    return Promise.all(waits).then(() => undefined);
  }

  private schedulePump(): void {
    if (this.pumping) return;
    this.pumping = this.pump().finally(() => {
      this.pumping = undefined;
      // A kick that arrived after the loop's last check and before this callback.
      if (this.pending.length > 0) this.schedulePump();
    });
  }

  /** Performs every due row (oldest first, in batches) until none is left or a batch made no progress. */
  async drain(options: { graceMs?: number } = {}): Promise<RelayPassResult> {
    const total: RelayPassResult = { performed: 0, failed: 0 };
    for (;;) {
      const result = await this.pass({ sweep: options.graceMs ?? 0 });
      total.performed += result.performed;
      total.failed += result.failed;
      if (result.performed === 0 || result.performed + result.failed < this.batchSize) return total;
    }
  }

  /** Drains what a crash left behind, then sweeps every `sweepIntervalMs`. */
  start(): void {
    if (this.running) return;
    this.running = true;
    const sweep = (graceMs: number) => {
      this.sweeping = this.drain({ graceMs })
        .catch((error: unknown) => this.options.onError?.(error, { what: 'outbox sweep' }))
        .finally(() => {
          this.sweeping = undefined;
          if (this.running) this.timer = setTimeout(() => sweep(this.sweepGraceMs()), this.sweepIntervalMs());
        });
    };
    // At start nothing of ours is in flight: every row is a leftover.
    sweep(0);
  }

  /** Stops sweeping and waits for the work in progress (kicks included). */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.sweeping;
    await this.pumping;
  }

  /** Stops and closes the queue handles (not the Redis connection, which the caller owns). */
  async close(): Promise<void> {
    await this.stop();
    await Promise.all([this.webhookQueue.close(), this.mediaQueue.close()]);
  }

  private sweepIntervalMs(): number {
    return this.options.sweepIntervalMs ?? 5_000;
  }

  private sweepGraceMs(): number {
    return this.options.sweepGraceMs ?? 2_000;
  }

  private async pump(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, this.batchSize);
      try {
        await this.pass({ ids: batch.map((k) => k.id) });
      } catch (error) {
        // The rows stay in the table (the transaction rolled back): the sweep retries them.
        this.options.onError?.(error, { what: 'outbox kick' });
      } finally {
        for (const kick of batch) {
          this.traceContexts.delete(kick.id);
          kick.done();
        }
      }
    }
  }

  /**
   * One transaction: lock some rows, perform their effects, delete the done ones, record the
   * failures. Two round trips (withTenantSql): BEGIN and the tenant's setting go with the read,
   * COMMIT with the last write. The transaction is held while the effects run, each bounded by
   * effectTimeoutMs; every statement by the pool's statement timeout.
   */
  private async pass(selection: { ids: string[] } | { sweep: number }): Promise<RelayPassResult> {
    const { db, tenantId } = this.options;
    const now = Date.now();
    for (const [id, at] of this.retryAt) if (at <= now) this.retryAt.delete(id);
    const backingOff = [...this.retryAt.keys()];
    return await withTenantSql(db, tenantId, async (tx) => {
      type Row = {
        id: string;
        kind: string;
        payload: unknown;
        attempts: number;
        traceparent: string | null;
      };
      // RLS scopes both to this tenant's rows. SKIP LOCKED: a row another relay holds is its.
      const rows =
        'ids' in selection
          ? await tx.query<Row>(Prisma.sql`
                SELECT id::text AS id, kind, payload, attempts, traceparent FROM outbox
                 WHERE id = ANY(${selection.ids}::uuid[])
                 ORDER BY created_at, id
                 FOR UPDATE SKIP LOCKED`)
          : await tx.query<Row>(Prisma.sql`
                SELECT id::text AS id, kind, payload, attempts, traceparent FROM outbox
                 WHERE created_at <= clock_timestamp() - make_interval(secs => ${selection.sweep / 1000})
                   AND NOT (id = ANY(${backingOff}::uuid[]))
                 ORDER BY created_at, id
                 LIMIT ${this.batchSize}
                 FOR UPDATE SKIP LOCKED`);
      if (rows.length === 0) return { performed: 0, failed: 0 };
      const outcomes = await this.performAll(rows);
      const done = rows.filter((_, i) => outcomes[i] === undefined).map((row) => row.id);
      const failed = rows.flatMap((row, i) => {
        const error = outcomes[i];
        return error === undefined ? [] : [{ row, error }];
      });
      // The delete and the failures' update, the last of them sent with the COMMIT.
      const writes: Prisma.Sql[] = [];
      if (done.length > 0) writes.push(Prisma.sql`DELETE FROM outbox WHERE id = ANY(${done}::uuid[])`);
      if (failed.length > 0)
        writes.push(Prisma.sql`
            UPDATE outbox SET attempts = outbox.attempts + 1, last_error = f.error
              FROM unnest(${failed.map((f) => f.row.id)}::uuid[], ${failed.map((f) => f.error)}::text[]) AS f(id, error)
             WHERE outbox.id = f.id`);
      for (const [i, write] of writes.entries()) {
        if (i === writes.length - 1) await tx.commitWith(write);
        else await tx.query(write);
      }
      for (const id of done) this.retryAt.delete(id);
      for (const { row } of failed)
        this.retryAt.set(row.id, Date.now() + this.retryDelayMs(row.attempts + 1));
      return { performed: done.length, failed: failed.length };
    });
  }

  /**
   * Performs the rows' effects, each in its own PRODUCER span (see perform), with the pass's
   * realtime rows appended by ONE script call and its webhook jobs added by ONE addBulk (each job
   * carrying its row's span as its trace parent, as a job added inside that span would); other
   * kinds (media downloads) one by one. A batched call that fails fails each of its rows (their effects are
   * idempotent, so a retry of the rows it did perform repeats nothing). Returns per row the error
   * message, or undefined when done.
   */
  private async performAll(rows: readonly OutboxRow[]): Promise<(string | undefined)[]> {
    const realtime: { entry: Extract<ParsedOutboxEntry, { kind: 'realtime.event' }>; done: Deferred }[] = [];
    const webhooks: {
      entry: Extract<ParsedOutboxEntry, { kind: 'webhook.enqueue' }>;
      metadata?: string;
      done: Deferred;
    }[] = [];
    const telemetry = queueTelemetry();
    const outcomes = rows.map((row) =>
      this.perform(row, (entry) => {
        const done = deferred();
        if (entry.kind === 'realtime.event') realtime.push({ entry, done });
        else if (entry.kind === 'webhook.enqueue') {
          const metadata = telemetry.contextManager.getMetadata(telemetry.contextManager.active());
          webhooks.push({ entry, ...(metadata ? { metadata } : {}), done });
        } else return withTimeout(this.effect(entry), this.effectTimeoutMs, `${entry.kind} effect`);
        return done.promise;
      }),
    );
    // Every row registered its effect synchronously (perform starts its span and calls it at once).
    const batched: Promise<void>[] = [];
    if (realtime.length > 0)
      batched.push(
        settleAll(
          realtime.map((r) => r.done),
          withTimeout(
            this.appendEachOnce(
              realtime.map((r) => ({ id: r.entry.id, event: JSON.stringify(r.entry.payload) })),
            ),
            this.effectTimeoutMs,
            'realtime.event effect',
          ),
        ),
      );
    if (webhooks.length > 0) {
      const { tenantId } = this.options;
      const policy = this.options.webhookRetry ?? DEFAULT_WEBHOOK_RETRY;
      batched.push(
        settleAll(
          webhooks.map((w) => w.done),
          withTimeout(
            this.webhookQueue.addBulk(
              webhooks.flatMap((w) =>
                w.entry.payload.deliveryIds.map((deliveryId) => ({
                  name: 'deliver',
                  data: { tenantId, deliveryId },
                  opts: {
                    ...webhookJobOptions(deliveryId, policy),
                    ...(w.metadata ? { telemetry: { metadata: w.metadata } } : {}),
                  },
                })),
              ),
            ),
            this.effectTimeoutMs,
            'webhook.enqueue effect',
          ),
        ),
      );
    }
    await Promise.all(batched);
    return await Promise.all(outcomes);
  }

  /** Performs one row's effect; returns the error message when it failed (undefined when done). */
  private async perform(
    row: OutboxRow,
    run: (entry: ParsedOutboxEntry) => Promise<unknown> = (entry) =>
      withTimeout(this.effect(entry), this.effectTimeoutMs, `${entry.kind} effect`),
  ): Promise<string | undefined> {
    let entry: ParsedOutboxEntry;
    try {
      entry = parseOutboxEntry(row);
    } catch (error) {
      this.options.onError?.(error, { what: 'outbox row', outboxId: row.id });
      return (error as Error).message;
    }
    const parent = traceContextFromTraceparent(entry.traceparent) ?? this.traceContexts.get(row.id);
    try {
      // A PRODUCER span per effect (the messaging conventions), in the trace of the commit that
      // wrote the row (stored with it), else of the commit that kicked it.
      await withSpan(
        `publish outbox.${entry.kind}`,
        {
          kind: 'producer',
          ...(parent ? { parent } : {}),
          attributes: {
            'messaging.system': 'switchboard.outbox',
            'messaging.operation.type': 'send',
            'messaging.operation.name': 'publish',
            'messaging.destination.name': entry.kind,
            'messaging.message.id': row.id,
          },
        },
        () => run(entry),
      );
      return undefined;
    } catch (error) {
      this.options.onError?.(error, { what: `outbox ${entry.kind}`, outboxId: row.id });
      return `${entry.kind}: ${(error as Error).message ?? String(error)}`.slice(0, 1000);
    }
  }

  private async effect(entry: ParsedOutboxEntry): Promise<void> {
    const { tenantId } = this.options;
    switch (entry.kind) {
      case 'realtime.event':
        await this.appendOnce(entry.id, JSON.stringify(entry.payload));
        return;
      case 'webhook.enqueue': {
        const policy = this.options.webhookRetry ?? DEFAULT_WEBHOOK_RETRY;
        await this.webhookQueue.addBulk(
          entry.payload.deliveryIds.map((deliveryId) => ({
            name: 'deliver',
            data: { tenantId, deliveryId },
            opts: webhookJobOptions(deliveryId, policy),
          })),
        );
        return;
      }
      case 'media.download':
        await this.mediaQueue.add('download', entry.payload, {
          jobId: mediaDownloadJobId(entry.payload.messageId),
          attempts: 5,
          backoff: { type: 'exponential', delay: 5_000 },
        });
        return;
    }
  }

  private async appendOnce(outboxId: string, event: string): Promise<void> {
    const { redis, keyPrefix } = this.options;
    await APPEND_ONCE.run(
      redis,
      [`${keyPrefix}outbox:done:${outboxId}`, realtimeStreamKey(keyPrefix)],
      [
        this.options.realtimeDedupTtlMs ?? 3_600_000,
        REALTIME_STREAM_MAX_LEN,
        REALTIME_EVENT_FIELD,
        event,
        REALTIME_OUTBOX_ID_FIELD,
        outboxId,
      ],
    );
  }

  /** APPEND_EACH_ONCE: the rows' realtime events, each appended unless its marker says it was. */
  private async appendEachOnce(rows: readonly { id: string; event: string }[]): Promise<void> {
    const { redis, keyPrefix } = this.options;
    const keys = [realtimeStreamKey(keyPrefix), ...rows.map((r) => `${keyPrefix}outbox:done:${r.id}`)];
    const args = [
      String(this.options.realtimeDedupTtlMs ?? 3_600_000),
      String(REALTIME_STREAM_MAX_LEN),
      REALTIME_EVENT_FIELD,
      REALTIME_OUTBOX_ID_FIELD,
      ...rows.flatMap((r) => [r.event, r.id]),
    ];
    await APPEND_EACH_ONCE.run(redis, keys, args);
  }

  private retryDelayMs(attempt: number): number {
    const { baseMs, maxMs } = this.options.retry ?? { baseMs: 1_000, maxMs: 60_000 };
    const delay = Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 20));
    return Math.round(delay * (0.8 + Math.random() * 0.4));
  }
}

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Settles every waiter with the outcome of one batched call; never rejects itself. */
async function settleAll(waiters: readonly Deferred[], call: Promise<unknown>): Promise<void> {
  try {
    await call;
    for (const waiter of waiters) waiter.resolve();
  } catch (error) {
    for (const waiter of waiters) waiter.reject(error);
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
