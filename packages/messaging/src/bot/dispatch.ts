import { type Db, type TenantTx, withTenant } from '@switchboard/db';
import type { JobsOptions } from 'bullmq';
import { z } from 'zod';
import { FAILED_WEBHOOK_JOB_RETENTION } from '../contracts.ts';
import { DEFAULT_WEBHOOK_RETRY, type WebhookRetryPolicy } from '../webhooks/schedule.ts';
import { matchesKeyword } from './answer.ts';
import { resumeAutomation, stopAutomation } from './automation.ts';

/** The queue of bot deliveries (one per tenant, under its key prefix). */
export const BOT_DELIVERIES_QUEUE = 'bot-deliveries';

/** A job on the bot-deliveries queue: one bot_deliveries row, by id (jobId = `bot-<id>`). */
export const botDeliveryJobSchema = z.strictObject({ tenantId: z.uuid(), deliveryId: z.uuid() });
export type BotDeliveryJob = z.infer<typeof botDeliveryJobSchema>;

/**
 * BullMQ options of a bot delivery's job: the tenant webhooks' retry policy and retention (the
 * worker's `bot` backoff), jobId from the delivery so adding it twice is a no-op.
 */
export function botDeliveryJobOptions(
  deliveryId: string,
  policy: WebhookRetryPolicy = DEFAULT_WEBHOOK_RETRY,
): JobsOptions & { jobId: string } {
  return {
    jobId: `bot-${deliveryId}`,
    attempts: policy.attempts,
    backoff: { type: 'bot' },
    removeOnComplete: { count: 1000 },
    removeOnFail: { age: FAILED_WEBHOOK_JOB_RETENTION.age, count: FAILED_WEBHOOK_JOB_RETENTION.count },
  };
}

/** What {@link dispatchToBot} did with a stored message. */
export type BotDispatchOutcome =
  | { outcome: 'queued'; deliveryId: string }
  | {
      outcome:
        | 'off'
        | 'not-customer-message'
        | 'taken'
        | 'stopped'
        | 'handed-off'
        | 'restarted'
        | 'already-dispatched';
    };

/** Audits an automation change made by a customer's keyword (no user acted: the system). */
async function auditKeyword(
  tx: TenantTx,
  tenantId: string,
  conversationId: string,
  action: string,
  messageId: string,
): Promise<void> {
  await tx.auditLogEntry.create({
    data: {
      tenantId,
      actorType: 'system',
      actorId: null,
      action,
      targetType: 'conversation',
      targetId: conversationId,
      metadata: { via: 'keyword', messageId },
    },
  });
}

/**
 * Decides what the session's bot does with stored message `messageId`, in one transaction: nothing
 * when the bot is off, the message is not a customer's, or an agent has the conversation; the
 * hand-off keyword stops the bot for the conversation (left unassigned for the team), the restart
 * keyword restarts a stopped one; otherwise a bot_deliveries row (unique per message, so replicas
 * dispatching the same message make one). The caller adds the job of a `queued` delivery; a crash
 * before that leaves a pending row, which BotDeliveryWorker's start-up sweep enqueues.
 */
export async function dispatchToBot(
  db: Db,
  tenantId: string,
  messageId: string,
): Promise<BotDispatchOutcome & { outboxIds: string[] }> {
  return await withTenant(db, tenantId, async (tx) => {
    const none = { outboxIds: [] as string[] };
    const message = await tx.message.findUnique({
      where: { id: messageId },
      select: { direction: true, type: true, body: true, conversationId: true, sessionId: true },
    });
    // A reaction or a call line is not a message to answer.
    if (message?.direction !== 'inbound' || message.type === 'reaction' || message.type === 'call')
      return { outcome: 'not-customer-message', ...none } as const;
    const settings = await tx.sessionBotSettings.findUnique({
      where: { tenantId_sessionId: { tenantId, sessionId: message.sessionId } },
    });
    if (!settings?.enabled) return { outcome: 'off', ...none } as const;
    const conversation = await tx.conversation.findUnique({
      where: { id: message.conversationId },
      select: { id: true, assigneeId: true, automationStoppedAt: true },
    });
    if (!conversation || conversation.assigneeId !== null) return { outcome: 'taken', ...none } as const;
    if (conversation.automationStoppedAt !== null) {
      if (!matchesKeyword(message.body, settings.restartKeyword))
        return { outcome: 'stopped', ...none } as const;
      const resumed = await resumeAutomation(tx, tenantId, conversation.id);
      await auditKeyword(tx, tenantId, conversation.id, 'conversation.automation_resumed', messageId);
      return { outcome: 'restarted', outboxIds: resumed.outboxIds } as const;
    }
    if (matchesKeyword(message.body, settings.handoffKeyword)) {
      const stopped = await stopAutomation(tx, tenantId, conversation.id, 'keyword');
      await auditKeyword(tx, tenantId, conversation.id, 'conversation.automation_stopped', messageId);
      return { outcome: 'handed-off', outboxIds: stopped.outboxIds } as const;
    }
    const rows = await tx.$queryRaw<{ id: string }[]>`
      INSERT INTO bot_deliveries (tenant_id, session_id, conversation_id, message_id, next_attempt_at)
      VALUES (${tenantId}::uuid, ${message.sessionId}::uuid, ${conversation.id}::uuid, ${messageId}::uuid, now())
      ON CONFLICT (tenant_id, message_id) DO NOTHING
      RETURNING id::text AS id`;
    const row = rows[0];
    if (!row) return { outcome: 'already-dispatched', ...none } as const;
    return { outcome: 'queued', deliveryId: row.id, ...none } as const;
  });
}
