// Sends queued outside a session's consumer (automated replies, call replies, campaign messages,
// bot answers): the message row is committed `queued` with its realtime `message.created` in the
// outbox, then its job is added to the session's outbound queue. A crash between the commit and
// the add leaves a queued message, which the session's consumer re-enqueues when it starts.
import { queueTelemetry } from '@switchboard/telemetry';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { type OutboundJob, outboundJobOptions, QUEUE_NAMES, queuePrefix } from '../contracts.ts';
import type { OutboxEffect } from '../outbox/entries.ts';

/** The outbox effect announcing a new outbound message to the inbox (the realtime `message.created`). */
export function outboundCreatedEffect(message: {
  id: string;
  conversationId: string;
  sessionId: string;
  createdAt: Date;
}): OutboxEffect {
  return {
    kind: 'realtime.event',
    payload: {
      type: 'message.created',
      at: message.createdAt.toISOString(),
      data: {
        messageId: message.id,
        conversationId: message.conversationId,
        sessionId: message.sessionId,
        direction: 'outbound',
      },
    },
  };
}

/** Options of {@link SendJobs}. */
export interface SendJobsOptions {
  /** A command-role (or worker-role) connection: the sessions' outbound queues. */
  connection: Redis;
  keyPrefix: string;
  /** Kicked with the committed outbox rows; without it the relay's sweep performs them. */
  relay?: { kick(ids: readonly string[]): Promise<void> } | undefined;
  onError?: ((error: unknown, context: { what: string; sessionId: string }) => void) | undefined;
}

/** Adds the outbound jobs of committed queued messages, one BullMQ queue per session, kept open. */
export class SendJobs {
  private readonly options: SendJobsOptions;
  private readonly queues = new Map<string, Queue>();

  constructor(options: SendJobsOptions) {
    this.options = options;
  }

  /**
   * After the commit: kicks the relay with `outboxIds` (not awaited: the sweep performs what a
   * failed kick left) and adds the send jobs of `messageIds` (jobId from the message id: adding
   * one again is a no-op, and the consumer sends a message only while it is `queued`).
   */
  async afterCommit(
    tenantId: string,
    sessionId: string,
    messageIds: readonly string[],
    outboxIds: readonly string[] = [],
  ): Promise<void> {
    if (outboxIds.length > 0)
      void this.options.relay
        ?.kick(outboxIds)
        .catch((error: unknown) => this.options.onError?.(error, { what: 'kick outbox', sessionId }));
    if (messageIds.length === 0) return;
    await this.queue(sessionId).addBulk(
      messageIds.map((messageId) => {
        const job: OutboundJob = { kind: 'send', tenantId, messageId };
        return { name: 'send', data: job, opts: outboundJobOptions(job) };
      }),
    );
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((queue) => queue.close()));
    this.queues.clear();
  }

  private queue(sessionId: string): Queue {
    let queue = this.queues.get(sessionId);
    if (!queue) {
      queue = new Queue(QUEUE_NAMES.outbound(sessionId), {
        connection: this.options.connection,
        prefix: queuePrefix(this.options.keyPrefix),
        telemetry: queueTelemetry(),
      });
      this.queues.set(sessionId, queue);
    }
    return queue;
  }
}
