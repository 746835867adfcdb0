// The webhook events of a conversation change made through the API (assign, resolve, reopen),
// recorded in the change's own transaction (services/conversations.ts calls this once per change).
import type { Conversation, TenantTx } from '@switchboard/db';
import { recordWebhookEvent } from '@switchboard/messaging/producer';

/**
 * Records what changed between `before` and `after` of one conversation: `conversation.assigned`
 * when the assignee changed (null: unassigned), `conversation.resolved` / `conversation.reopened`
 * when the status did. A change that changes nothing (resolving a resolved conversation) records
 * nothing.
 */
export async function recordConversationChange(
  tx: TenantTx,
  before: Conversation,
  after: Conversation,
): Promise<void> {
  const data = {
    conversationId: after.id,
    sessionId: after.sessionId,
    contactId: after.contactId,
    status: after.status,
    assigneeId: after.assigneeId,
  };
  if (before.assigneeId !== after.assigneeId)
    await recordWebhookEvent(tx, after.tenantId, {
      type: 'conversation.assigned',
      data: { ...data, previousAssigneeId: before.assigneeId },
    });
  if (before.status !== after.status)
    await recordWebhookEvent(tx, after.tenantId, {
      type: after.status === 'resolved' ? 'conversation.resolved' : 'conversation.reopened',
      data,
    });
}
