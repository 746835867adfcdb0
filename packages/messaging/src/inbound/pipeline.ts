import type { IdentityLink, InboundMessage, Receipt } from '@switchboard/channels';
import type { Db } from '@switchboard/db';
import {
  currentTraceContext,
  currentTraceparent,
  pipelineMetrics,
  spanAttributes,
  type TraceContext,
  withSpan,
  withTraceContext,
} from '@switchboard/telemetry';
import type { Redis } from 'ioredis';
import { OutboxRelay } from '../outbox/relay.ts';
import type { WebhookRetryPolicy } from '../webhooks/schedule.ts';
import { batchable, storeInboundBatch } from './batch.ts';
import { type ApplyIdentityLinkResult, applyIdentityLink } from './identities.ts';
import { type StoreInboundResult, storeInbound } from './messages.ts';
import { type ApplyReceiptResult, applyReceipt } from './receipts.ts';

/** Options for {@link InboundPipeline}. */
export interface InboundPipelineOptions {
  db: Db;
  /** A command-role connection (streams and Queue.add). */
  redis: Redis;
  tenantId: string;
  keyPrefix: string;
  /** The worker's fencing epoch for the session, recorded on stored rows. */
  epoch?: bigint;
  webhookRetry?: WebhookRetryPolicy;
  /**
   * The process's relay (shared by every session; the worker starts its sweep). Without one the
   * pipeline makes its own, which only performs what this pipeline kicks: leftovers are then the
   * sweep's of whichever relay runs one.
   */
  relay?: OutboxRelay;
  onError?: (error: unknown, context: { what: string; outboxId?: string }) => void;
  /**
   * The most messages one transaction stores (default 100). Messages that arrive while a batch
   * commits wait for the next one; one that arrives alone is stored on the next turn of the
   * event loop, alone.
   */
  maxBatch?: number;
  /** Told after each batch (one message or more): its size, and whether it fell back to one by one. */
  onBatch?: (batch: { size: number; outcome: 'committed' | 'one-by-one'; error?: unknown }) => void;
}

/**
 * One event waiting in the pipeline's queue, how to settle its caller, and the trace context of
 * its `process whatsapp.<kind>` span (the loop works outside that span; the outbox rows it writes
 * keep that span's traceparent, so a relay after a crash continues the event's trace).
 */
type Queued = { traced: TraceContext } & (
  | { kind: 'message'; message: InboundMessage; done: Settle<StoreInboundResult> }
  | { kind: 'receipt'; receipt: Receipt; done: Settle<ApplyReceiptResult> }
  | { kind: 'identity'; link: IdentityLink; done: Settle<ApplyIdentityLinkResult> }
);
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type Settle<R> = { resolve: (result: R) => void; reject: (error: unknown) => void };

/**
 * The inbound side of a held session: stores what the channel emits; the store's transaction
 * also writes the outbox rows of what must follow (realtime event, webhook deliveries, media
 * download), and right after the commit the relay performs them. A crash between the commit and
 * the effects loses nothing: the rows stay and the next sweep performs them.
 *
 * Group commit: every event goes into one FIFO queue, worked by one loop. Consecutive new
 * messages at its head (up to `maxBatch`) are stored in ONE transaction (storeInboundBatch);
 * receipts, identity links, edits, deletes and ignored chats are applied one at a time in their
 * place, so events are applied in the order they arrived (per conversation included), and a
 * caller's promise settles only after its event's transaction committed. A batch that fails is
 * stored again one message per transaction, so a poison message fails alone.
 */
export class InboundPipeline {
  private readonly options: InboundPipelineOptions;
  private readonly relay: OutboxRelay;
  private readonly ownsRelay: boolean;
  private readonly queue: Queued[] = [];
  private working: Promise<void> | undefined;

  constructor(options: InboundPipelineOptions) {
    this.options = options;
    this.ownsRelay = options.relay === undefined;
    this.relay =
      options.relay ??
      new OutboxRelay({
        db: options.db,
        redis: options.redis,
        tenantId: options.tenantId,
        keyPrefix: options.keyPrefix,
        ...(options.webhookRetry ? { webhookRetry: options.webhookRetry } : {}),
        ...(options.onError ? { onError: options.onError } : {}),
      });
  }

  /**
   * Stores one message and performs its effects. Resolves once the effects happened or were kept
   * in the outbox for a retry (a Redis outage does not fail a stored message).
   */
  async handleMessage(message: InboundMessage): Promise<StoreInboundResult> {
    return await this.observe('message', message.sessionId, async () => {
      const result = await this.enqueue<StoreInboundResult>((done) => ({ kind: 'message', message, done }));
      const stored = result.outcome === 'created' || result.outcome === 'updated';
      const counted = stored ? 'stored' : result.outcome === 'duplicate' ? 'duplicate' : 'ignored';
      return { result, counted, after: stored ? () => this.relay.kick(result.outboxIds) : undefined };
    });
  }

  /** Applies a receipt and, when the status moved, performs its `message.updated` event. */
  async handleReceipt(receipt: Receipt): Promise<ApplyReceiptResult> {
    return await this.observe('receipt', receipt.sessionId, async () => {
      const result = await this.enqueue<ApplyReceiptResult>((done) => ({ kind: 'receipt', receipt, done }));
      return {
        result,
        counted: result.applied ? 'stored' : 'ignored',
        after: result.applied ? () => this.relay.kick(result.outboxIds) : undefined,
      };
    });
  }

  /** Records a PN <-> LID link (merging two contacts when both were known apart). */
  async handleIdentity(link: IdentityLink): Promise<ApplyIdentityLinkResult> {
    return await this.observe('identity', link.sessionId, async () => {
      const result = await this.enqueue<ApplyIdentityLinkResult>((done) => ({
        kind: 'identity',
        link,
        done,
      }));
      return { result, counted: 'stored', after: () => this.relay.kick(result.outboxIds) };
    });
  }

  /**
   * Queues an event with the active trace context and starts the loop if idle. Synchronous, and
   * called synchronously from the handle* methods (observe starts its span and calls its handler
   * without awaiting first), so call order is queue order.
   */
  private enqueue<R>(entry: (done: Settle<R>) => DistributiveOmit<Queued, 'traced'>): Promise<R> {
    const traced = currentTraceContext();
    const committed = new Promise<R>((resolve, reject) => {
      this.queue.push({ ...entry({ resolve, reject } as Settle<R>), traced } as Queued);
    });
    // The caller awaits it inside its span; this keeps an early rejection from counting as unhandled.
    committed.catch(() => {});
    this.startWorking();
    return committed;
  }

  private startWorking(): void {
    if (this.working) return;
    // The next turn of the event loop: events emitted together (one socket read, one payload) are
    // queued by then and go into one transaction.
    this.working = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.work())
      .finally(() => {
        this.working = undefined;
        // An event queued after the loop's last look and before this callback.
        if (this.queue.length > 0) this.startWorking();
      });
  }

  /** Works the queue until it is empty: a batch of messages, or one other event, at a time. */
  private async work(): Promise<void> {
    const max = this.options.maxBatch ?? 100;
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      if (head.kind === 'message' && batchable(head.message)) {
        let size = 1;
        while (size < max && size < this.queue.length) {
          const next = this.queue[size]!;
          if (next.kind !== 'message' || !batchable(next.message)) break;
          size++;
        }
        const batch = this.queue.splice(0, size) as Extract<Queued, { kind: 'message' }>[];
        await this.storeBatch(batch);
        continue;
      }
      this.queue.shift();
      await this.applyOne(head);
    }
  }

  private storeOptions() {
    return this.options.epoch === undefined ? {} : { epoch: this.options.epoch };
  }

  /**
   * One transaction for the batch (a batch of one included: its statements are fewer than
   * storeInbound's); on any error, storeInbound per message.
   */
  private async storeBatch(batch: Extract<Queued, { kind: 'message' }>[]): Promise<void> {
    let results: StoreInboundResult[];
    try {
      results = await storeInboundBatch(
        this.options.db,
        this.options.tenantId,
        batch.map((entry) => entry.message),
        { ...this.storeOptions(), traceparents: batch.map((entry) => currentTraceparent(entry.traced)) },
      );
    } catch (error) {
      // Nothing of the batch was stored (its transaction rolled back): each message again in a
      // transaction of its own, so one that cannot be stored fails alone.
      this.reportBatch({ size: batch.length, outcome: 'one-by-one', error });
      for (const entry of batch) await this.applyOne(entry);
      return;
    }
    this.reportBatch({ size: batch.length, outcome: 'committed' });
    for (const [i, entry] of batch.entries()) entry.done.resolve(results[i]!);
  }

  private reportBatch(batch: Parameters<NonNullable<InboundPipelineOptions['onBatch']>>[0]): void {
    try {
      this.options.onBatch?.(batch);
    } catch (error) {
      this.options.onError?.(error, { what: 'inbound onBatch' });
    }
  }

  /** One event in its own transaction, in its span's trace context, settling its caller. */
  private async applyOne(entry: Queued): Promise<void> {
    await withTraceContext(entry.traced, () => this.applyInContext(entry));
  }

  private async applyInContext(entry: Queued): Promise<void> {
    const { db, tenantId } = this.options;
    try {
      switch (entry.kind) {
        case 'message':
          entry.done.resolve(await storeInbound(db, tenantId, entry.message, this.storeOptions()));
          break;
        case 'receipt':
          entry.done.resolve(await applyReceipt(db, tenantId, entry.receipt));
          break;
        case 'identity':
          entry.done.resolve(await applyIdentityLink(db, tenantId, entry.link));
          break;
      }
    } catch (error) {
      entry.done.reject(error);
    }
  }

  /**
   * One event in a CONSUMER span (`process whatsapp.<kind>`, the messaging conventions; a child of
   * the job's span for Cloud API payloads, a trace of its own for a socket's event), counted by
   * result with its time to commit; `after` (the relay's kick) runs inside the span, so the
   * effects it enqueues continue the trace.
   */
  private async observe<R>(
    kind: 'message' | 'receipt' | 'identity',
    sessionId: string,
    handle: () => Promise<{
      result: R;
      counted: 'stored' | 'duplicate' | 'ignored';
      after?: (() => Promise<void>) | undefined;
    }>,
  ): Promise<R> {
    const metrics = pipelineMetrics();
    const started = performance.now();
    const attributes = {
      'messaging.system': 'whatsapp',
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'messaging.destination.name': `whatsapp.${kind}`,
      [spanAttributes.session]: sessionId,
    };
    return await withSpan(`process whatsapp.${kind}`, { kind: 'consumer', attributes }, async () => {
      let outcome: Awaited<ReturnType<typeof handle>>;
      try {
        outcome = await handle();
      } catch (error) {
        metrics.inboundEvents.inc({ kind, result: 'failed' });
        throw error;
      }
      metrics.inboundEvents.inc({ kind, result: outcome.counted });
      metrics.inboundCommit.observe({ kind }, (performance.now() - started) / 1000);
      await outcome.after?.();
      return outcome.result;
    });
  }

  /**
   * Waits for the queued events to be stored and for its kicks, and closes its own relay's queues
   * (not a shared relay, nor the Redis connection).
   */
  async close(): Promise<void> {
    while (this.working) await this.working;
    if (this.ownsRelay) await this.relay.close();
  }
}
