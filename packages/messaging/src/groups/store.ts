// WhatsApp groups in the tenant's database: a group is one conversation per session, filed under a
// contact that stands for the group (no pn/lid identity: `whatsapp_groups` links it to the group's
// JID and holds its subject and participants). Group changes become thread lines of type
// `group_event` with their realtime event and webhook, once per notification.
import type { ContactRef, GroupChange, GroupEvent, GroupInfo, InboundMessage } from '@switchboard/channels';
import { type Db, type Prisma, type TenantTx, tenantStatement, withTenant } from '@switchboard/db';
import { upsertConversation } from '../inbound/identities.ts';
import { INBOUND_TX, lock } from '../inbound/transaction.ts';
import { writeOutbox } from '../outbox/entries.ts';
import { recordWebhookEvent } from '../webhooks/events.ts';
import { type GroupMentions, type StoredParticipant, storedParticipantsSchema } from './contracts.ts';

/**
 * The contact a group's conversations are filed under, created with the group's row on first
 * sight. A transaction-scoped lock on the JID makes concurrent first sights create one.
 */
export async function groupContactId(
  tx: TenantTx,
  tenantId: string,
  jid: string,
  subject?: string | null,
): Promise<string> {
  await lock(tx, `group:${jid}`);
  const row = await tx.whatsappGroup.findUnique({
    where: { tenantId_jid: { tenantId, jid } },
    select: { contactId: true },
  });
  if (row) return row.contactId;
  const contact = await tx.contact.create({ data: { tenantId, pushName: subject ?? null } });
  await tx.whatsappGroup.create({
    data: { tenantId, jid, contactId: contact.id, ...(subject ? { subject } : {}) },
  });
  return contact.id;
}

/** The sender and mention columns of a stored group message (null for direct chats' senders). */
export function groupMessageColumns(message: InboundMessage): {
  senderJid: string | null;
  senderPn: string | null;
  senderName: string | null;
  mentions: Prisma.InputJsonValue | undefined;
} {
  const isGroup = message.chat.kind === 'group';
  const mentions: GroupMentions | undefined = message.mentions?.map((m) => ({
    jid: m.address,
    ...(m.pn ? { pn: m.pn } : {}),
  }));
  return {
    senderJid: isGroup ? message.sender.address || null : null,
    senderPn: isGroup ? (message.sender.pn ?? null) : null,
    senderName: isGroup ? (message.sender.pushName ?? null) : null,
    mentions: mentions?.length ? mentions : undefined,
  };
}

function storedParticipant(ref: ContactRef, role: StoredParticipant['role']): StoredParticipant {
  return {
    jid: ref.address,
    ...(ref.pn ? { pn: ref.pn } : {}),
    ...(ref.lid ? { lid: ref.lid } : {}),
    ...(ref.pushName ? { name: ref.pushName } : {}),
    role,
  };
}

function sameParticipant(a: StoredParticipant, b: ContactRef): boolean {
  return a.jid === b.address || (!!a.pn && a.pn === b.pn) || (!!a.lid && a.lid === b.lid);
}

function readParticipants(value: unknown): StoredParticipant[] {
  const parsed = storedParticipantsSchema.safeParse(value);
  return parsed.success ? parsed.data : [];
}

/** Stores a group's whole info as the channel read it (subject, description, owner, participants). */
export async function storeGroupInfo(db: Db, tenantId: string, info: GroupInfo): Promise<void> {
  await withTenant(
    db,
    tenantId,
    async (tx) => {
      const contactId = await groupContactId(tx, tenantId, info.address, info.subject);
      await tx.whatsappGroup.update({
        where: { tenantId_jid: { tenantId, jid: info.address } },
        data: {
          subject: info.subject ?? null,
          description: info.description ?? null,
          ownerJid: info.owner?.address ?? null,
          participants: info.participants.map((p) => storedParticipant(p, p.role)),
          groupCreatedAt: info.createdAt ?? null,
          refreshedAt: new Date(),
        },
      });
      if (info.subject)
        await tx.contact.update({ where: { id: contactId }, data: { pushName: info.subject } });
    },
    INBOUND_TX,
  );
}

/** The participants after `change` (unchanged for changes that are not about participants). */
function applyParticipants(current: StoredParticipant[], change: GroupChange): StoredParticipant[] {
  if (change.type !== 'participants') return current;
  const touched = (p: StoredParticipant) => change.participants.some((c) => sameParticipant(p, c));
  switch (change.action) {
    case 'add':
      return [
        ...current.filter((p) => !touched(p)),
        ...change.participants.map((c) => storedParticipant(c, 'member')),
      ];
    case 'remove':
    case 'leave':
      return current.filter((p) => !touched(p));
    case 'promote':
      return current.map((p) => (touched(p) && p.role === 'member' ? { ...p, role: 'admin' as const } : p));
    case 'demote':
      return current.map((p) => (touched(p) ? { ...p, role: 'member' as const } : p));
    case 'modify':
      return current;
  }
}

/** How a person is named in a line: the team's name for them, their push name, else their number. */
async function namesOf(
  tx: TenantTx,
  refs: ContactRef[],
  participants: StoredParticipant[],
): Promise<Map<ContactRef, string>> {
  const pns = [...new Set(refs.map((r) => r.pn).filter((pn): pn is string => !!pn))];
  const known =
    pns.length === 0
      ? []
      : await tx.$queryRaw<{ pn: string; name: string | null }[]>`
          SELECT i.value AS pn, COALESCE(c.display_name, c.push_name) AS name
            FROM contact_identities i JOIN contacts c ON c.id = i.contact_id
           WHERE i.kind = 'pn' AND i.value = ANY(${pns}::text[])`;
  const names = new Map<ContactRef, string>();
  for (const ref of refs) {
    const stored = participants.find((p) => sameParticipant(p, ref));
    const name =
      known.find((k) => k.pn === ref.pn)?.name ??
      ref.pushName ??
      stored?.name ??
      (ref.pn ? `+${ref.pn}` : (ref.lid ?? ref.address));
    names.set(ref, name);
  }
  return names;
}

function list(names: string[]): string {
  if (names.length <= 1) return names[0] ?? '';
  return `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

/** The line shown in the thread for a change. */
export function groupLine(change: GroupChange, actor: string | undefined, people: string[]): string {
  const who = actor ?? 'Someone';
  const them = list(people);
  switch (change.type) {
    case 'created':
      return `${who} created the group “${change.subject}”`;
    case 'subject':
      return `${who} changed the subject to “${change.subject}”`;
    case 'description':
      return change.description === null
        ? `${who} removed the group description`
        : `${who} changed the group description`;
    case 'participants':
      switch (change.action) {
        case 'add':
          return actor && !people.includes(actor) ? `${actor} added ${them}` : `${them} joined`;
        case 'remove':
          return actor ? `${actor} removed ${them}` : `${them} was removed`;
        case 'leave':
          return `${them} left`;
        case 'promote':
          return `${them} is now an admin`;
        case 'demote':
          return `${them} is no longer an admin`;
        case 'modify':
          return `${them} changed their phone number`;
      }
  }
}

/** What {@link recordGroupChange} did. */
export type GroupChangeOutcome =
  | { outcome: 'recorded'; messageId: string; conversationId: string; outboxIds: string[] }
  | { outcome: 'recorded-before' };

function webhookPerson(ref: ContactRef) {
  return { jid: ref.address, ...(ref.pn ? { phone: ref.pn } : {}) };
}

/**
 * Records one group change in ONE transaction: the group's conversation (created when missing;
 * not reopened as unread), the line of type `group_event` (provider id `group-<event id>`, so a
 * repeated notification records nothing), the group's row (participants, subject) brought up to
 * date, the realtime `message.created` and the `group.participants_changed` / `group.updated` webhook.
 */
export async function recordGroupChange(
  db: Db,
  tenantId: string,
  event: Extract<GroupEvent, { kind: 'change' }>,
): Promise<GroupChangeOutcome> {
  const { change } = event;
  return await withTenant(
    db,
    tenantId,
    async (tx) => {
      const subject = change.type === 'subject' || change.type === 'created' ? change.subject : undefined;
      const contactId = await groupContactId(tx, tenantId, event.group, subject);
      const row = await tx.whatsappGroup.findUniqueOrThrow({
        where: { tenantId_jid: { tenantId, jid: event.group } },
        select: { participants: true },
      });
      const participants = readParticipants(row.participants);
      const people = change.type === 'participants' ? change.participants : [];
      const names = await namesOf(tx, event.actor ? [event.actor, ...people] : people, participants);
      const actorName = event.actor ? names.get(event.actor) : undefined;
      const line = groupLine(
        change,
        actorName,
        people.map((p) => names.get(p)!),
      );
      const conversationId = await upsertConversation(tx, tenantId, event.sessionId, contactId, event.at, 0);
      const inserted = await tx.$queryRaw<{ id: string }[]>`
        INSERT INTO messages (tenant_id, session_id, conversation_id, direction, provider_message_id, status,
                              type, body, provider_timestamp, delivered_at, sender_jid, sender_pn, sender_name)
        VALUES (${tenantId}::uuid, ${event.sessionId}::uuid, ${conversationId}::uuid, 'inbound',
                ${`group-${event.eventId}`}, 'delivered', 'group_event', ${line}, ${event.at}, ${event.at},
                ${event.actor?.address ?? null}, ${event.actor?.pn ?? null}, ${actorName ?? null})
        ON CONFLICT (session_id, provider_message_id) DO NOTHING
        RETURNING id::text AS id`;
      const messageId = inserted[0]?.id;
      if (!messageId) return { outcome: 'recorded-before' } as const;

      await tx.whatsappGroup.update({
        where: { tenantId_jid: { tenantId, jid: event.group } },
        data: {
          participants: applyParticipants(participants, change),
          ...(subject ? { subject } : {}),
          ...(change.type === 'description' ? { description: change.description } : {}),
        },
      });
      if (subject) await tx.contact.update({ where: { id: contactId }, data: { pushName: subject } });

      const outboxIds = await writeOutbox(tx, tenantId, [
        {
          kind: 'realtime.event',
          payload: {
            type: 'message.created',
            at: new Date().toISOString(),
            data: { messageId, conversationId, sessionId: event.sessionId, direction: 'inbound' },
          },
        },
      ]);
      const common = {
        sessionId: event.sessionId,
        group: event.group,
        conversationId,
        messageId,
        ...(event.actor ? { actor: webhookPerson(event.actor) } : {}),
        at: event.at.toISOString(),
      };
      outboxIds.push(
        ...(change.type === 'participants'
          ? await recordWebhookEvent(tx, tenantId, {
              type: 'group.participants_changed',
              data: {
                ...common,
                action: change.action,
                participants: change.participants.map(webhookPerson),
              },
            })
          : await recordWebhookEvent(tx, tenantId, {
              type: 'group.updated',
              data: {
                ...common,
                change: change.type,
                ...(change.type === 'description' ? { description: change.description } : {}),
                ...(subject ? { subject } : {}),
              },
            })),
      );
      return { outcome: 'recorded', messageId, conversationId, outboxIds } as const;
    },
    INBOUND_TX,
  );
}

/**
 * Where a message of a group's conversation goes: the group's JID, and the people the message
 * mentions (phone digits, else their JID). Undefined when the contact is not a group's. One
 * statement, read only for sends whose contact has no pn or lid.
 */
export async function groupSendTarget(
  db: Db,
  tenantId: string,
  contactId: string,
  messageId: string,
): Promise<{ jid: string; mentions: string[] } | undefined> {
  const rows = await tenantStatement(
    db,
    tenantId,
    () => db.$queryRaw<{ jid: string; mentions: unknown }[]>`
      SELECT g.jid, (SELECT m.mentions FROM messages m WHERE m.id = ${messageId}::uuid) AS mentions
        FROM whatsapp_groups g
       WHERE g.tenant_id = ${tenantId}::uuid AND g.contact_id = ${contactId}::uuid`,
  );
  const row = rows[0];
  if (!row) return undefined;
  const parsed = Array.isArray(row.mentions) ? (row.mentions as { jid?: unknown; pn?: unknown }[]) : [];
  const mentions = parsed
    .map((m) => (typeof m.pn === 'string' ? m.pn : typeof m.jid === 'string' ? m.jid : undefined))
    .filter((m): m is string => !!m);
  return { jid: row.jid, mentions };
}
