import type { IdentityLink, InboundMessage, Receipt } from '@switchboard/channels';
import type { Db } from '@switchboard/db';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { publishRealtimeEvent, QUEUE_NAMES, queuePrefix } from '../contracts.ts';
import { type MediaDownloadJob, mediaDownloadJobId } from '../effects.ts';
import { enqueueWebhookEvent } from '../webhooks/enqueue.ts';
import { DEFAULT_WEBHOOK_RETRY, type WebhookRetryPolicy } from '../webhooks/schedule.ts';
import {
  type ApplyIdentityLinkResult,
  type ApplyReceiptResult,
  applyIdentityLink,
  applyReceipt,
  type StoreInboundResult,
  storeInbound,
} from './store.ts';

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
}

/**
 * The inbound side of a held session: stores what the channel emits, then (after commit, and only
 * for what was new) appends the realtime event, enqueues the tenant's webhook deliveries and the
 * media download. A crash between the commit and those effects loses the effects, not the message
 * (the README describes the outbox that would close that gap).
 */
export class InboundPipeline {
  private readonly webhookQueue: Queue;
  private readonly mediaQueue: Queue;
  private readonly options: InboundPipelineOptions;

  constructor(options: InboundPipelineOptions) {
    this.options = options;
    const prefix = queuePrefix(options.keyPrefix);
    this.webhookQueue = new Queue(QUEUE_NAMES.webhookDeliveries, { connection: options.redis, prefix });
    this.mediaQueue = new Queue(QUEUE_NAMES.mediaDownloads, { connection: options.redis, prefix });
  }

  /** Stores one message and, when it was new, emits its events. */
  async handleMessage(message: InboundMessage): Promise<StoreInboundResult> {
    const { db, tenantId, keyPrefix, redis } = this.options;
    const result = await storeInbound(db, tenantId, message, {
      ...(this.options.epoch === undefined ? {} : { epoch: this.options.epoch }),
    });
    const at = new Date().toISOString();
    if (result.outcome === 'updated') {
      await publishRealtimeEvent(redis, keyPrefix, {
        type: 'message.updated',
        at,
        data: { messageId: result.messageId, conversationId: result.conversationId, status: result.status },
      });
      return result;
    }
    if (result.outcome !== 'created') return result;
    await publishRealtimeEvent(redis, keyPrefix, {
      type: 'message.created',
      at,
      data: {
        messageId: result.messageId,
        conversationId: result.conversationId,
        sessionId: message.sessionId,
        direction: message.fromMe ? 'outbound' : 'inbound',
      },
    });
    await enqueueWebhookEvent(
      db,
      this.webhookQueue,
      tenantId,
      {
        type: message.fromMe ? 'message.sent' : 'message.received',
        at: new Date(),
        data: {
          messageId: result.messageId,
          conversationId: result.conversationId,
          sessionId: message.sessionId,
          providerMessageId: message.providerMessageId,
          from: message.sender.pn ?? message.sender.lid ?? message.sender.address,
          type: message.content.type,
          ...(message.content.type === 'text' ? { text: message.content.text } : {}),
          timestamp: message.timestamp.toISOString(),
        },
      },
      this.options.webhookRetry ?? DEFAULT_WEBHOOK_RETRY,
    );
    if (result.hasMedia) {
      const job: MediaDownloadJob = { tenantId, sessionId: message.sessionId, messageId: result.messageId };
      await this.mediaQueue.add('download', job, {
        jobId: mediaDownloadJobId(result.messageId),
        attempts: 5,
        backoff: { type: 'exponential', delay: 5_000 },
      });
    }
    return result;
  }

  /** Applies a receipt and, when the status moved, appends `message.updated`. */
  async handleReceipt(receipt: Receipt): Promise<ApplyReceiptResult> {
    const result = await applyReceipt(this.options.db, this.options.tenantId, receipt);
    if (result.applied)
      await publishRealtimeEvent(this.options.redis, this.options.keyPrefix, {
        type: 'message.updated',
        at: new Date().toISOString(),
        data: {
          messageId: result.messageId,
          conversationId: result.conversationId,
          status: result.status,
          ...(result.reason ? { reason: result.reason } : {}),
        },
      });
    return result;
  }

  /** Records a PN <-> LID link. */
  async handleIdentity(link: IdentityLink): Promise<ApplyIdentityLinkResult> {
    return await applyIdentityLink(this.options.db, this.options.tenantId, link);
  }

  /** Closes the queues (not the Redis connection, which the caller owns). */
  async close(): Promise<void> {
    await Promise.all([this.webhookQueue.close(), this.mediaQueue.close()]);
  }
}
