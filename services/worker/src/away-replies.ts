// Away replies: a customer's message that arrives outside the tenant's business hours gets the
// tenant's away message, at most once per conversation per window, through the normal outbound
// path (a queued message row, then its job on the session's outbound queue), unless the session's
// assistant or bot answers that customer.
import { randomUUID } from 'node:crypto';
import { type Db, type TenantTx, withTenant } from '@switchboard/db';
import {
  automationMayAnswer,
  isWithinBusinessHours,
  outboundCreatedEffect,
  readBusinessHours,
  SendJobs,
  writeOutbox,
} from '@switchboard/messaging';
import type { Redis } from 'ioredis';
import { type AssistantPlatformSettings, assistantAnswers } from './assistant-replies.ts';

/** Options of {@link AwayReplier}. */
export interface AwayReplierOptions {
  db: Db;
  /** A command-role connection: the outbound queues, the assistant's governance (a peek: nothing claimed or counted). */
  redis: Redis;
  tenantId: string;
  keyPrefix: string;
  /** The clock business hours and windows are read on (tests inject one). */
  now?: () => Date;
  /** Kicked with the reply's outbox row (its realtime `message.created`); else the relay's sweep performs it. */
  relay?: { kick(ids: readonly string[]): Promise<void> };
  /**
   * What the platform team lets the AI assistant do (ASSISTANT_ENABLED, ASSISTANT_ALLOWED_MODELS;
   * default: on, any model): with it off, a session's assistant never answers, so the away message does.
   */
  assistantPlatform?: AssistantPlatformSettings;
  /** Test-only: runs after the checks and before the claim of the window (forces two replicas' race). */
  beforeClaim?: () => Promise<void>;
  onError?: (error: unknown, context: { what: string; messageId?: string }) => void;
}

/** What {@link AwayReplier.replyIfAway} did with a message. */
export type AwayReplyOutcome =
  | { outcome: 'replied'; replyId: string }
  | { outcome: 'off' | 'not-customer-message' | 'within-hours' | 'within-window' | 'automation-answers' };

/**
 * Sends the away reply for customers' messages outside business hours. Every worker replica runs
 * one and is handed every customer message (customer-messages.ts), so each is seen by all of them; the window's claim decides which replica replies: one statement,
 * `INSERT ... ON CONFLICT DO UPDATE ... WHERE` the last reply is older than the window, in the
 * transaction that creates the reply's message row. A second replica's claim waits for the first's
 * commit on the conflicting row, then finds the window taken and replies nothing.
 */
export class AwayReplier {
  private readonly options: AwayReplierOptions;
  private readonly sends: SendJobs;

  constructor(options: AwayReplierOptions) {
    this.options = options;
    this.sends = new SendJobs({
      connection: options.redis,
      keyPrefix: options.keyPrefix,
      relay: options.relay,
      onError: options.onError,
    });
  }

  /**
   * Whether the session's automation answers the customer's message now: its bot when on and the
   * conversation is open to automation (nobody assigned, not handed off), or its assistant by the
   * assistant's own rules and a governance peek ({@link assistantAnswers}: a kill switch on, a model
   * not allowed, a spent budget or a burst limit mean it does not answer, so the away message does).
   */
  private async automationAnswers(tx: TenantTx, message: StoredCustomerMessage, now: Date): Promise<boolean> {
    const { tenantId } = this.options;
    const conversation = await tx.conversation.findUnique({
      where: { id: message.conversationId },
      select: { assigneeId: true, automationStoppedAt: true },
    });
    if (!conversation || !automationMayAnswer(conversation)) return false;
    const bot = await tx.sessionBotSettings.findUnique({
      where: { tenantId_sessionId: { tenantId, sessionId: message.sessionId } },
      select: { enabled: true },
    });
    if (bot?.enabled) return true;
    return await assistantAnswers(
      tx,
      {
        redis: this.options.redis,
        tenantId,
        keyPrefix: this.options.keyPrefix,
        platform: this.options.assistantPlatform ?? { enabled: true, allowedModels: undefined },
      },
      message,
      now,
    );
  }

  async close(): Promise<void> {
    await this.sends.close();
  }

  /**
   * Answers message `messageId` with the away message when it is a customer's message, the
   * tenant's away replies are on, the clock is outside business hours, and its conversation had
   * no away reply within the window. The reply is a queued outbound message (with its realtime
   * `message.created` in the outbox) committed with the window's claim, then its job is added
   * (jobId from the message id: adding it twice is harmless; a crash before the add leaves a
   * queued message, which the session's consumer re-enqueues when it starts).
   */
  async replyIfAway(messageId: string): Promise<AwayReplyOutcome> {
    const { db, tenantId } = this.options;
    const now = this.options.now?.() ?? new Date();
    const result = await withTenant(db, tenantId, async (tx) => {
      const hours = await readBusinessHours(tx, tenantId);
      if (!hours?.enabled || hours.awayMessage === null) return { outcome: 'off' } as const;
      const message = await tx.message.findUnique({
        where: { id: messageId },
        select: {
          id: true,
          direction: true,
          type: true,
          body: true,
          conversationId: true,
          sessionId: true,
          senderJid: true,
        },
      });
      // A reaction or a call line (services/worker calls.ts) is not a message to answer, and
      // neither is anything in a WhatsApp group (a message with a sender, a group event line).
      if (
        message?.direction !== 'inbound' ||
        message.type === 'reaction' ||
        message.type === 'call' ||
        message.type === 'group_event' ||
        message.senderJid !== null
      )
        return { outcome: 'not-customer-message' } as const;
      if (isWithinBusinessHours(hours, now)) return { outcome: 'within-hours' } as const;
      // The session's assistant or bot answers this customer: one answer, not two.
      if (await this.automationAnswers(tx, message, now)) return { outcome: 'automation-answers' } as const;
      await this.options.beforeClaim?.();
      const replyId = randomUUID();
      const claimed = await tx.$queryRaw<{ message_id: string }[]>`
        INSERT INTO away_replies (tenant_id, conversation_id, sent_at, message_id)
        VALUES (${tenantId}::uuid, ${message.conversationId}::uuid, ${now}, ${replyId}::uuid)
        ON CONFLICT (tenant_id, conversation_id) DO UPDATE
           SET sent_at = EXCLUDED.sent_at, message_id = EXCLUDED.message_id
         WHERE away_replies.sent_at <= EXCLUDED.sent_at - make_interval(mins => ${hours.awayWindowMinutes}::int)
        RETURNING message_id::text`;
      if (claimed.length === 0) return { outcome: 'within-window' } as const;
      const reply = await tx.message.create({
        data: {
          id: replyId,
          tenantId,
          sessionId: message.sessionId,
          conversationId: message.conversationId,
          direction: 'outbound',
          status: 'queued',
          type: 'text',
          body: hours.awayMessage,
        },
      });
      await tx.conversation.update({
        where: { id: message.conversationId },
        data: { lastMessageAt: reply.createdAt },
      });
      const outboxIds = await writeOutbox(tx, tenantId, [outboundCreatedEffect(reply)]);
      return { outcome: 'replied', replyId, sessionId: message.sessionId, outboxIds } as const;
    });
    if (result.outcome !== 'replied') return result;
    await this.sends.afterCommit(tenantId, result.sessionId, [result.replyId], result.outboxIds);
    return { outcome: 'replied', replyId: result.replyId };
  }
}

/** A customer's message as the away replier reads it. */
type StoredCustomerMessage = Parameters<typeof assistantAnswers>[2];
