import { randomUUID } from 'node:crypto';
import type { InboundMessage, MessageContent } from '@switchboard/channels';
import { createDb, type Db, withTenant } from '@switchboard/db';
import type { TestDatabase } from '@switchboard/testing';

/** Test-only: a tenant with `sessions` sessions, through the application role (RLS applies). */
export async function seedTenant(
  database: TestDatabase,
  sessions = 1,
): Promise<{ db: Db; tenantId: string; sessionIds: string[] }> {
  const db = createDb({ databaseUrl: database.appUrl, maxConnections: 8 });
  const tenantId = randomUUID();
  const sessionIds = await withTenant(db, tenantId, async (tx) => {
    await tx.tenant.create({
      data: { id: tenantId, slug: `t-${tenantId.slice(0, 8)}`, displayName: 'Test' },
    });
    const ids: string[] = [];
    for (let i = 0; i < sessions; i++)
      ids.push((await tx.session.create({ data: { tenantId, name: `s${i}`, channel: 'baileys' } })).id);
    return ids;
  });
  return { db, tenantId, sessionIds };
}

/** Test-only: an inbound direct message from `pn` (and `lid`, when given). */
export function inboundMessage(
  sessionId: string,
  providerMessageId: string,
  from: { pn?: string; lid?: string; pushName?: string },
  content: MessageContent = { type: 'text', text: `hello ${providerMessageId}` },
  extra: Partial<InboundMessage> = {},
): InboundMessage {
  const address = from.pn ? `${from.pn}@s.whatsapp.net` : `${from.lid}@lid`;
  const contact = { address, ...from };
  return {
    sessionId,
    providerMessageId,
    chat: { address, kind: 'direct', contact },
    sender: contact,
    fromMe: false,
    timestamp: new Date(),
    live: true,
    content,
    ...extra,
  };
}

/** Test-only: an outbound text message stored as the API stores it (status queued), to `pn`. */
export async function queueOutboundText(
  db: Db,
  tenantId: string,
  sessionId: string,
  pn: string,
  text: string,
): Promise<string> {
  return await withTenant(db, tenantId, async (tx) => {
    const identity = await tx.contactIdentity.findFirst({ where: { kind: 'pn', value: pn } });
    let contactId = identity?.contactId;
    if (!contactId) {
      contactId = (await tx.contact.create({ data: { tenantId } })).id;
      await tx.contactIdentity.create({ data: { tenantId, contactId, kind: 'pn', value: pn } });
    }
    const conversation = await tx.conversation.upsert({
      where: { tenantId_sessionId_contactId: { tenantId, sessionId, contactId } },
      create: { tenantId, sessionId, contactId },
      update: {},
    });
    const message = await tx.message.create({
      data: {
        tenantId,
        sessionId,
        conversationId: conversation.id,
        direction: 'outbound',
        status: 'queued',
        type: 'text',
        body: text,
      },
    });
    return message.id;
  });
}

/** Polls `check` until it returns true (no timing assertion: the test's timeout bounds it). */
export async function eventually(check: () => Promise<boolean> | boolean, intervalMs = 25): Promise<void> {
  for (;;) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
