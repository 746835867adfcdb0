import { randomUUID } from 'node:crypto';
import type { TenantTx } from '@switchboard/db';
import { outboundCreatedEffect } from '../outbound/send-jobs.ts';
import { writeOutbox } from '../outbox/entries.ts';
import { recordWebhookEvent } from '../webhooks/events.ts';
import type { BotReply } from './answer.ts';

/**
 * A conversation's automation hand-off state (`conversations.automation_stopped_at`, shared with
 * the AI assistant) and the replies automation sends, each inside the caller's transaction with
 * its realtime event in the outbox.
 */

/** Why automation stopped for a conversation (the assistant's are `assistant:<why>`). */
export type AutomationStopReason = 'keyword' | 'bot' | 'api' | 'agent' | `assistant:${string}`;

/** A conversation automation may answer: nobody assigned and automation not stopped. */
export function automationMayAnswer(conversation: {
  assigneeId: string | null;
  automationStoppedAt: Date | null;
}): boolean {
  return conversation.assigneeId === null && conversation.automationStoppedAt === null;
}

/**
 * Stops automation for a conversation (the bot and the assistant no longer answer it): it stays,
 * or becomes, open in the inbox for the team, with its realtime `conversation.updated` and the
 * `conversation.automation_stopped` webhook; `at` is when (default now). Returns false when it was
 * already stopped.
 */
export async function stopAutomation(
  tx: TenantTx,
  tenantId: string,
  conversationId: string,
  reason: AutomationStopReason,
  at: Date = new Date(),
): Promise<{ changed: boolean; outboxIds: string[] }> {
  const { count } = await tx.conversation.updateMany({
    where: { id: conversationId, automationStoppedAt: null },
    data: {
      automationStoppedAt: at,
      automationStoppedReason: reason,
      status: 'open',
      resolvedAt: null,
    },
  });
  if (count === 0) return { changed: false, outboxIds: [] };
  return { changed: true, outboxIds: await announce(tx, tenantId, conversationId, 'stopped') };
}

/** Restarts automation for a conversation, announced like a stop; false when it was not stopped. */
export async function resumeAutomation(
  tx: TenantTx,
  tenantId: string,
  conversationId: string,
): Promise<{ changed: boolean; outboxIds: string[] }> {
  const { count } = await tx.conversation.updateMany({
    where: { id: conversationId, automationStoppedAt: { not: null } },
    data: { automationStoppedAt: null, automationStoppedReason: null },
  });
  if (count === 0) return { changed: false, outboxIds: [] };
  return { changed: true, outboxIds: await announce(tx, tenantId, conversationId, 'resumed') };
}

/** The realtime `conversation.updated` and the automation webhook of a changed conversation. */
async function announce(
  tx: TenantTx,
  tenantId: string,
  conversationId: string,
  change: 'stopped' | 'resumed',
): Promise<string[]> {
  const row = await tx.conversation.findUniqueOrThrow({ where: { id: conversationId } });
  const realtime = await writeOutbox(tx, tenantId, [
    {
      kind: 'realtime.event',
      payload: { type: 'conversation.updated', at: new Date().toISOString(), data: { conversationId } },
    },
  ]);
  const webhook = await recordWebhookEvent(tx, tenantId, {
    type: change === 'stopped' ? 'conversation.automation_stopped' : 'conversation.automation_resumed',
    data: {
      conversationId,
      sessionId: row.sessionId,
      contactId: row.contactId,
      status: row.status,
      assigneeId: row.assigneeId,
      reason: row.automationStoppedReason,
    },
  });
  return [...realtime, ...webhook];
}

/** What {@link storeAutomatedReplies} stored. */
export interface StoredReplies {
  /** Every reply's message id, in order (those stored by an earlier call with the same keys too). */
  messageIds: string[];
  /** How many of them this call created. */
  created: number;
  outboxIds: string[];
}

/**
 * Stores replies as queued outbound messages marked `automatedBy: 'bot'`, reply i under the idempotency key
 * `<keyPrefix>:<i>` (unique per tenant): the same replies stored again (a retried delivery, a
 * repeated API call) create nothing, so each is sent exactly once. The caller adds the outbound
 * jobs of `messageIds` after the commit (jobId from the message id: adding one twice is a no-op).
 */
export async function storeAutomatedReplies(
  tx: TenantTx,
  tenantId: string,
  conversation: { id: string; sessionId: string },
  keyPrefix: string,
  replies: readonly BotReply[],
): Promise<StoredReplies> {
  if (replies.length === 0) return { messageIds: [], created: 0, outboxIds: [] };
  const keys = replies.map((_, index) => `${keyPrefix}:${index}`);
  const now = Date.now();
  // One created_at per reply, a millisecond apart, so the thread keeps the answer's order.
  const created = await tx.message.createManyAndReturn({
    data: replies.map((reply, index) => ({
      id: randomUUID(),
      tenantId,
      sessionId: conversation.sessionId,
      conversationId: conversation.id,
      direction: 'outbound' as const,
      status: 'queued' as const,
      type: 'text' as const,
      body: reply.text,
      automatedBy: 'bot',
      idempotencyKey: keys[index]!,
      createdAt: new Date(now + index),
    })),
    skipDuplicates: true,
    select: { id: true, createdAt: true },
  });
  const rows = await tx.message.findMany({
    where: { idempotencyKey: { in: keys } },
    select: { id: true, idempotencyKey: true },
  });
  const byKey = new Map(rows.map((row) => [row.idempotencyKey, row.id]));
  const messageIds = keys.map((key) => {
    const id = byKey.get(key);
    if (!id) throw new Error(`automated reply ${key} was neither created nor found`);
    return id;
  });
  let outboxIds: string[] = [];
  if (created.length > 0) {
    const last = created.reduce((a, b) => (a.createdAt > b.createdAt ? a : b));
    await tx.conversation.update({ where: { id: conversation.id }, data: { lastMessageAt: last.createdAt } });
    outboxIds = await writeOutbox(
      tx,
      tenantId,
      created.map((row) =>
        outboundCreatedEffect({ ...row, conversationId: conversation.id, sessionId: conversation.sessionId }),
      ),
    );
  }
  return { messageIds, created: created.length, outboxIds };
}
