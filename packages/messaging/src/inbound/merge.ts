import type { TenantTx } from '@switchboard/db';
import { writeOutbox } from '../outbox/entries.ts';

/**
 * Merging two contacts that turned out to be one person: WhatsApp addresses a chat by phone
 * number (PN) or by LID and does not always say both, so the same customer can be stored twice
 * (a PN contact and a LID contact) until the provider links them (an identity event, or a message
 * carrying both). Runs inside the caller's transaction, which already holds the identity locks.
 */

/** Why two contacts are merged: the PN and LID the provider linked. */
export interface MergeReason {
  pn: string;
  lid: string;
  sessionId?: string;
  /** What revealed the link. */
  source: 'identity-event' | 'message';
}

/** What {@link mergeContacts} did. */
export interface MergeResult {
  survivorId: string;
  mergedId: string;
  /** Conversations of the merged contact moved to the survivor as they were (no survivor conversation in that session). */
  conversationsMoved: number;
  /** Conversations folded into the survivor's conversation of the same session (their messages moved). */
  conversationsMerged: number;
  messagesMoved: number;
  /** The outbox rows of the `conversation.updated` events (for the relay's kick). */
  outboxIds: string[];
}

/** Serialises merges (exclusive) against inbound stores (shared) of one contact, until commit. */
export async function lockContact(
  tx: TenantTx,
  contactId: string,
  mode: 'shared' | 'exclusive',
): Promise<void> {
  const key = `contact:${contactId}`;
  if (mode === 'exclusive')
    await tx.$queryRaw`SELECT pg_advisory_xact_lock(hashtextextended(${key}, 0))::text AS locked`;
  else await tx.$queryRaw`SELECT pg_advisory_xact_lock_shared(hashtextextended(${key}, 0))::text AS locked`;
}

/**
 * Merges contacts `a` and `b` into the older one (created first; the smaller id on a tie): the
 * newer contact's identities move to it; each of its conversations moves to it, or, when the
 * survivor already has a conversation in that session, is folded into that one (messages and
 * scheduled messages moved, unread counts added, the later last_message_at, open if either was
 * open, the survivor's assignee unless it had none), then the newer contact is deleted. Names the
 * survivor lacks are taken from the other, and so are its labels and campaign opt-out (the latest
 * change of the two wins). An audit_log entry (actor 'system') records it, and a
 * `conversation.updated` event per touched conversation goes through the outbox.
 *
 * Both contacts are locked exclusively (in id order, so two merges cannot deadlock); inbound
 * stores take the shared lock of the contact they write to, so none writes into the merged
 * contact while it moves, and one that resolved it just before re-resolves after the merge.
 */
export async function mergeContacts(
  tx: TenantTx,
  tenantId: string,
  a: string,
  b: string,
  reason: MergeReason,
): Promise<MergeResult> {
  if (a === b) throw new Error(`cannot merge contact ${a} with itself`);
  for (const id of [a, b].sort()) await lockContact(tx, id, 'exclusive');
  const contacts = await tx.contact.findMany({ where: { id: { in: [a, b] } } });
  if (contacts.length !== 2) throw new Error(`contacts ${a} and ${b} must both exist to be merged`);
  contacts.sort((x, y) => x.createdAt.getTime() - y.createdAt.getTime() || (x.id < y.id ? -1 : 1));
  const [survivor, merged] = contacts as [(typeof contacts)[0], (typeof contacts)[0]];

  await tx.contactIdentity.updateMany({ where: { contactId: merged.id }, data: { contactId: survivor.id } });

  const survivorConversations = await tx.conversation.findMany({ where: { contactId: survivor.id } });
  const bySession = new Map(survivorConversations.map((c) => [c.sessionId, c]));
  const theirs = await tx.conversation.findMany({ where: { contactId: merged.id } });
  let conversationsMoved = 0;
  let conversationsMerged = 0;
  let messagesMoved = 0;
  const touched = new Set<string>();
  for (const conversation of theirs) {
    const target = bySession.get(conversation.sessionId);
    if (!target) {
      await tx.conversation.update({ where: { id: conversation.id }, data: { contactId: survivor.id } });
      conversationsMoved++;
      touched.add(conversation.id);
      continue;
    }
    const moved = await tx.message.updateMany({
      where: { conversationId: conversation.id },
      data: { conversationId: target.id },
    });
    messagesMoved += moved.count;
    await tx.scheduledMessage.updateMany({
      where: { conversationId: conversation.id },
      data: { conversationId: target.id },
    });
    await tx.$executeRaw`
      INSERT INTO conversation_labels (tenant_id, conversation_id, label_id, created_at)
      SELECT tenant_id, ${target.id}::uuid, label_id, created_at
        FROM conversation_labels WHERE conversation_id = ${conversation.id}::uuid
      ON CONFLICT DO NOTHING`;
    await tx.$executeRaw`DELETE FROM conversation_labels WHERE conversation_id = ${conversation.id}::uuid`;
    const open = target.status === 'open' || conversation.status === 'open';
    await tx.conversation.update({
      where: { id: target.id },
      data: {
        unreadCount: target.unreadCount + conversation.unreadCount,
        lastMessageAt:
          conversation.lastMessageAt > target.lastMessageAt
            ? conversation.lastMessageAt
            : target.lastMessageAt,
        ...(open && target.status !== 'open' ? { status: 'open', resolvedAt: null } : {}),
        ...(target.assigneeId === null && conversation.assigneeId !== null
          ? { assigneeId: conversation.assigneeId }
          : {}),
      },
    });
    await tx.conversation.delete({ where: { id: conversation.id } });
    conversationsMerged++;
    // The folded conversation is gone: a client that shows it refetches and drops it.
    touched.add(conversation.id);
    touched.add(target.id);
  }

  await tx.contact.update({
    where: { id: survivor.id },
    data: {
      displayName: survivor.displayName ?? merged.displayName,
      pushName: survivor.pushName ?? merged.pushName,
    },
  });
  await moveContactRecords(tx, merged.id, survivor.id);
  await tx.contact.delete({ where: { id: merged.id } });
  await tx.auditLogEntry.create({
    data: {
      tenantId,
      actorType: 'system',
      actorId: null,
      action: 'contact.merged',
      targetType: 'contact',
      targetId: survivor.id,
      metadata: {
        mergedContactId: merged.id,
        pn: reason.pn,
        lid: reason.lid,
        source: reason.source,
        ...(reason.sessionId ? { sessionId: reason.sessionId } : {}),
        conversationsMoved,
        conversationsMerged,
        messagesMoved,
      },
    },
  });
  const at = new Date().toISOString();
  const outboxIds = await writeOutbox(
    tx,
    tenantId,
    [...touched].map((conversationId) => ({
      kind: 'realtime.event' as const,
      payload: { type: 'conversation.updated' as const, at, data: { conversationId } },
    })),
  );
  return {
    survivorId: survivor.id,
    mergedId: merged.id,
    conversationsMoved,
    conversationsMerged,
    messagesMoved,
    outboxIds,
  };
}

/**
 * What else is kept per contact moves to the survivor: its labels (the survivor keeps its own),
 * and its campaign opt-out, where the two contacts' latest change wins (the same person opted out
 * under one identity and back in under the other later is in; the other way round, out).
 */
async function moveContactRecords(tx: TenantTx, from: string, to: string): Promise<void> {
  await tx.$executeRaw`
    INSERT INTO contact_labels (tenant_id, contact_id, label_id, created_at)
    SELECT tenant_id, ${to}::uuid, label_id, created_at FROM contact_labels WHERE contact_id = ${from}::uuid
    ON CONFLICT DO NOTHING`;
  await tx.$executeRaw`DELETE FROM contact_labels WHERE contact_id = ${from}::uuid`;
  await tx.$executeRaw`
    WITH theirs AS (DELETE FROM contact_opt_outs WHERE contact_id = ${from}::uuid RETURNING *)
    INSERT INTO contact_opt_outs AS o
           (tenant_id, contact_id, keyword, message_id, opted_out_at, opted_in_at, opted_in_by)
    SELECT tenant_id, ${to}::uuid, keyword, message_id, opted_out_at, opted_in_at, opted_in_by FROM theirs
    ON CONFLICT (tenant_id, contact_id) DO UPDATE
       SET keyword = EXCLUDED.keyword, message_id = EXCLUDED.message_id,
           opted_out_at = EXCLUDED.opted_out_at, opted_in_at = EXCLUDED.opted_in_at,
           opted_in_by = EXCLUDED.opted_in_by
     WHERE greatest(EXCLUDED.opted_out_at, EXCLUDED.opted_in_at) > greatest(o.opted_out_at, o.opted_in_at)`;
}
