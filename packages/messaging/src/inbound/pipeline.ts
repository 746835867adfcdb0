import type { IdentityLink, InboundMessage, Receipt } from '@switchboard/channels';
import type { Db } from '@switchboard/db';
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
    const result = await storeInbound(this.options.db, this.options.tenantId, message, {
      ...(this.options.epoch === undefined ? {} : { epoch: this.options.epoch }),
    });
    if (result.outcome === 'created' || result.outcome === 'updated') await this.relay.kick(result.outboxIds);
    return result;
  }

  /** Applies a receipt and, when the status moved, performs its `message.updated` event. */
  async handleReceipt(receipt: Receipt): Promise<ApplyReceiptResult> {
    const result = await applyReceipt(this.options.db, this.options.tenantId, receipt);
    if (result.applied) await this.relay.kick(result.outboxIds);
    return result;
  }

  /** Records a PN <-> LID link (merging two contacts when both were known apart). */
  async handleIdentity(link: IdentityLink): Promise<ApplyIdentityLinkResult> {
    const result = await applyIdentityLink(this.options.db, this.options.tenantId, link);
    await this.relay.kick(result.outboxIds);
    return result;
  }

  /** Waits for its kicks and closes its own relay's queues (not a shared relay, nor the Redis connection). */
  async close(): Promise<void> {
    if (this.ownsRelay) await this.relay.close();
  }
}
