// History on pairing (InboundMessage.history, packages/channels baileys/history.ts): imported
// messages are stored like live ones, de-duplicated on (session, provider message id), with none
// of a live message's effects. What differs is here; storeInbound and the batch call it.
import type { InboundMessage } from '@switchboard/channels';
import type { TenantTx } from '@switchboard/db';
import type { OutboxEffect } from '../outbox/entries.ts';

/**
 * Whether `message` came from a history import. Such a message:
 * - sends no webhook (`message.received` / `message.sent`) and no realtime `message.created`,
 *   which is what the away replier, the assistant and the bot answer: none of them answers it;
 *   open inboxes get one `conversation.updated` per conversation instead, to refresh their lists;
 * - adds nothing to the conversation's unread count and does not reopen a resolved conversation;
 *   a conversation it creates starts `resolved` (the team's open queue holds what needs an answer;
 *   the customer's next live message reopens it), its last_message_at the newest imported
 *   message's own timestamp;
 * - is dated (created_at, the thread's order) by its own timestamp, so it sits in the thread
 *   where it was written, before messages that arrived live earlier;
 * - still has its media downloaded.
 */
export function isHistory(message: InboundMessage): boolean {
  return message.history === true;
}

/**
 * What follows an imported message's commit: its media download, and with `announce` (the first
 * imported message of its conversation in a transaction) the conversation's `conversation.updated`.
 */
export function historyEffects(
  tenantId: string,
  stored: { sessionId: string; messageId: string; conversationId: string; hasMedia: boolean },
  announce: boolean,
): OutboxEffect[] {
  const effects: OutboxEffect[] = [];
  if (announce)
    effects.push({
      kind: 'realtime.event',
      payload: {
        type: 'conversation.updated',
        at: new Date().toISOString(),
        data: { conversationId: stored.conversationId },
      },
    });
  if (stored.hasMedia)
    effects.push({
      kind: 'media.download',
      payload: { tenantId, sessionId: stored.sessionId, messageId: stored.messageId },
    });
  return effects;
}

/**
 * The conversation an imported message is filed under: created `resolved` (resolved at the
 * message's time) when missing; an existing one keeps its status and unread count, and its
 * last_message_at moves only forward.
 */
export async function upsertHistoryConversation(
  tx: TenantTx,
  tenantId: string,
  sessionId: string,
  contactId: string,
  at: Date,
): Promise<string> {
  const rows = await tx.$queryRaw<{ id: string }[]>`
    INSERT INTO conversations (tenant_id, session_id, contact_id, status, last_message_at, unread_count, resolved_at)
    VALUES (${tenantId}::uuid, ${sessionId}::uuid, ${contactId}::uuid, 'resolved', ${at}, 0, ${at})
    ON CONFLICT (tenant_id, session_id, contact_id) DO UPDATE SET
      last_message_at = GREATEST(conversations.last_message_at, EXCLUDED.last_message_at),
      updated_at = now()
    RETURNING id`;
  return rows[0]!.id;
}
