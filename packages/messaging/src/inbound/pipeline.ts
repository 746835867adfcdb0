import type { IdentityLink, InboundMessage, Receipt } from '@switchboard/channels';
import type { Db } from '@switchboard/db';
import { pipelineMetrics, spanAttributes, withSpan } from '@switchboard/telemetry';
import type { Redis } from 'ioredis';
import { OutboxRelay } from '../outbox/relay.ts';
import type { WebhookRetryPolicy } from '../webhooks/schedule.ts';
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
}

/**
 * The inbound side of a held session: stores what the channel emits; the store's transaction
 * also writes the outbox rows of what must follow (realtime event, webhook deliveries, media
 * download), and right after the commit the relay performs them. A crash between the commit and
 * the effects loses nothing: the rows stay and the next sweep performs them.
 */
export class InboundPipeline {
  private readonly options: InboundPipelineOptions;
  private readonly relay: OutboxRelay;
  private readonly ownsRelay: boolean;

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
      const result = await storeInbound(this.options.db, this.options.tenantId, message, {
        ...(this.options.epoch === undefined ? {} : { epoch: this.options.epoch }),
      });
      const stored = result.outcome === 'created' || result.outcome === 'updated';
      const counted = stored ? 'stored' : result.outcome === 'duplicate' ? 'duplicate' : 'ignored';
      return { result, counted, after: stored ? () => this.relay.kick(result.outboxIds) : undefined };
    });
  }

  /** Applies a receipt and, when the status moved, performs its `message.updated` event. */
  async handleReceipt(receipt: Receipt): Promise<ApplyReceiptResult> {
    return await this.observe('receipt', receipt.sessionId, async () => {
      const result = await applyReceipt(this.options.db, this.options.tenantId, receipt);
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
      const result = await applyIdentityLink(this.options.db, this.options.tenantId, link);
      return { result, counted: 'stored', after: () => this.relay.kick(result.outboxIds) };
    });
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

  /** Waits for its kicks and closes its own relay's queues (not a shared relay, nor the Redis connection). */
  async close(): Promise<void> {
    if (this.ownsRelay) await this.relay.close();
  }
}
