import type {
  ContactRef,
  IdentityLink,
  InboundMessage,
  MessageContent,
  Receipt,
} from '@switchboard/channels';
import {
  type Db,
  type MessageStatus,
  type MessageType,
  type Prisma,
  type TenantTx,
  withTenant,
} from '@switchboard/db';
import { type OutboxEffect, writeOutbox } from '../outbox/entries.ts';
import { createWebhookDeliveries } from '../webhooks/enqueue.ts';
import { lockContact, mergeContacts } from './merge.ts';

/** What storeInbound did with one message. */
export type StoreInboundResult =
  | {
      /** A new message row. */
      outcome: 'created';
      isNew: true;
      messageId: string;
      conversationId: string;
      contactId: string;
      /** True when the message carries media to download. */
      hasMedia: boolean;
      /** The outbox rows written with it (realtime event, webhook jobs, media download), for the relay's kick. */
      outboxIds: string[];
    }
  | {
      /** An edit or delete applied to an earlier message (no row of its own). */
      outcome: 'updated';
      isNew: false;
      messageId: string;
      conversationId: string;
      status: MessageStatus;
      /** The outbox row of its `message.updated` event. */
      outboxIds: string[];
    }
  /** Seen before (same session and provider message id), or an edit/delete of an unknown message. */
  | { outcome: 'duplicate' | 'target-missing'; isNew: false }
  /** Not a direct chat: groups, broadcasts and newsletters have no contact to file them under. */
  | { outcome: 'ignored'; isNew: false; reason: string };

/** Options for {@link storeInbound}. */
export interface StoreInboundOptions {
  /** The fencing epoch of the worker storing it, recorded on the row. */
  epoch?: bigint;
}

type Row = { id: string };

/**
 * A burst waits for a pooled connection rather than failing: duplicates of one message hold
 * theirs while they wait on its lock, and a message that fails to store is a message lost.
 */
const INBOUND_TX = { maxWait: 15_000, timeout: 15_000 };

/** Serialises work on one key inside the current transaction (released at commit). */
async function lock(tx: TenantTx, key: string): Promise<void> {
  await tx.$queryRaw`SELECT pg_advisory_xact_lock(hashtextextended(${key}, 0))::text AS locked`;
}

/** Takes one or two locks in the given order in one round trip (a select list is evaluated left to right). */
async function lockAll(tx: TenantTx, keys: string[]): Promise<void> {
  const [first, second, ...rest] = keys;
  if (first === undefined) return;
  if (second === undefined) return await lock(tx, first);
  await tx.$queryRaw`SELECT pg_advisory_xact_lock(hashtextextended(${first}, 0))::text AS a,
                            pg_advisory_xact_lock(hashtextextended(${second}, 0))::text AS b`;
  for (const key of rest) await lock(tx, key);
}

/** Options for {@link upsertContact}. */
export interface UpsertContactOptions {
  /** The session the contact was seen on (recorded in a merge's audit entry). */
  sessionId?: string;
  /** Collects the outbox rows a merge wrote (its `conversation.updated` events), for the relay's kick. */
  outboxIds?: string[];
}

/**
 * Finds or creates the contact known by `ref.pn` and/or `ref.lid`. When both are given, both
 * identities are recorded on one contact: a contact known only by its PN gains the new LID (and
 * the reverse). When PN and LID already belong to two different contacts, the provider has just
 * told us they are one person: the two are merged into the older one ({@link mergeContacts}).
 */
export async function upsertContact(
  tx: TenantTx,
  tenantId: string,
  ref: ContactRef,
  options: UpsertContactOptions = {},
): Promise<string> {
  const identities: { kind: 'pn' | 'lid'; value: string }[] = [];
  if (ref.pn) identities.push({ kind: 'pn', value: ref.pn });
  if (ref.lid) identities.push({ kind: 'lid', value: ref.lid });
  if (identities.length === 0) throw new Error('contact has neither a phone number (pn) nor a lid');
  // Locks in a fixed order (pn before lid), so two transactions never wait on each other in a cycle.
  await lockAll(
    tx,
    identities.map((identity) => `identity:${identity.kind}:${identity.value}`),
  );
  for (let round = 0; ; round++) {
    const existing = await tx.contactIdentity.findMany({
      where: { OR: identities.map((i) => ({ kind: i.kind, value: i.value })) },
    });
    const byPn = existing.find((i) => i.kind === 'pn');
    const byLid = existing.find((i) => i.kind === 'lid');
    let contactId = byPn?.contactId ?? byLid?.contactId;
    if (byPn && byLid && byPn.contactId !== byLid.contactId) {
      const merged = await mergeContacts(tx, tenantId, byPn.contactId, byLid.contactId, {
        pn: byPn.value,
        lid: byLid.value,
        source: 'message',
        ...(options.sessionId ? { sessionId: options.sessionId } : {}),
      });
      options.outboxIds?.push(...merged.outboxIds);
      contactId = merged.survivorId;
      if (ref.pushName)
        await tx.contact.update({ where: { id: contactId }, data: { pushName: ref.pushName } });
    } else if (contactId) {
      // A merge through another identity of this contact may have moved it while we waited: after
      // the shared lock, check it still exists (the push name update doubles as the check).
      await lockContact(tx, contactId, 'shared');
      const stillThere = ref.pushName
        ? (await tx.contact.updateMany({ where: { id: contactId }, data: { pushName: ref.pushName } }))
            .count > 0
        : (await tx.contact.findUnique({ where: { id: contactId }, select: { id: true } })) !== null;
      if (!stillThere) {
        if (round < 3) continue;
        throw new Error(`contact ${contactId} kept moving while being stored (merged ${round + 1} times)`);
      }
    }
    if (!contactId) {
      const contact = await tx.contact.create({ data: { tenantId, pushName: ref.pushName ?? null } });
      contactId = contact.id;
    }
    for (const identity of identities) {
      if (existing.some((e) => e.kind === identity.kind)) continue;
      await tx.contactIdentity.create({
        data: { tenantId, contactId, kind: identity.kind, value: identity.value },
      });
    }
    return contactId;
  }
}

/** Creates the (session, contact) conversation or bumps it: reopened, last_message_at, unread_count. */
async function upsertConversation(
  tx: TenantTx,
  tenantId: string,
  sessionId: string,
  contactId: string,
  at: Date,
  unread: number,
): Promise<string> {
  const rows = await tx.$queryRaw<Row[]>`
    INSERT INTO conversations (tenant_id, session_id, contact_id, status, last_message_at, unread_count)
    VALUES (${tenantId}::uuid, ${sessionId}::uuid, ${contactId}::uuid, 'open', ${at}, ${unread})
    ON CONFLICT (tenant_id, session_id, contact_id) DO UPDATE SET
      status = 'open',
      resolved_at = NULL,
      last_message_at = GREATEST(conversations.last_message_at, EXCLUDED.last_message_at),
      unread_count = conversations.unread_count + EXCLUDED.unread_count,
      updated_at = now()
    RETURNING id`;
  return rows[0]!.id;
}

/**
 * The conversation of `sessionId` with the person whose phone number is `pn` (E.164 digits), the
 * contact and the conversation created when missing and a resolved conversation reopened: where
 * the first outbound message to a number goes.
 */
export async function conversationForNumber(
  tx: TenantTx,
  tenantId: string,
  sessionId: string,
  pn: string,
): Promise<string> {
  const contactId = await upsertContact(tx, tenantId, { address: pn, pn }, { sessionId });
  return await upsertConversation(tx, tenantId, sessionId, contactId, new Date(), 0);
}

/** The columns a message's content fills. Location is stored as an RFC 5870 geo URI in `body`. */
export function contentColumns(content: MessageContent): {
  type: MessageType;
  body: string | null;
  media?: {
    mediaMimeType: string | null;
    mediaSizeBytes: bigint | null;
    mediaSha256: string | null;
    mediaFileName: string | null;
    mediaProviderRef: Prisma.InputJsonValue;
  };
} {
  switch (content.type) {
    case 'text':
      return { type: 'text', body: content.text };
    case 'image':
    case 'video':
    case 'audio':
    case 'document':
    case 'sticker':
      return {
        type: content.type,
        body: content.caption ?? null,
        media: {
          mediaMimeType: content.media.mimetype ?? null,
          mediaSizeBytes: content.media.size === undefined ? null : BigInt(content.media.size),
          mediaSha256: content.media.sha256 ?? null,
          mediaFileName: content.media.fileName ?? null,
          mediaProviderRef: content.media.download,
        },
      };
    case 'location':
      return { type: 'location', body: geoUri(content) };
    case 'contact':
      return { type: 'contact', body: content.contacts.map((c) => c.vcard).join('\n') };
    case 'reaction':
      return { type: 'reaction', body: null };
    case 'edit':
      return contentColumns(content.content);
    case 'delete':
      return { type: 'unsupported', body: null };
  }
}

/** `geo:<lat>,<lon>` with the place's name and address as parameters. */
export function geoUri(location: {
  latitude: number;
  longitude: number;
  name?: string;
  address?: string;
}): string {
  let uri = `geo:${location.latitude},${location.longitude}`;
  if (location.name) uri += `;name=${encodeURIComponent(location.name)}`;
  if (location.address) uri += `;address=${encodeURIComponent(location.address)}`;
  return uri;
}

/** Parses what {@link geoUri} wrote; undefined when `body` is not a geo URI. */
export function parseGeoUri(
  body: string,
): { latitude: number; longitude: number; name?: string; address?: string } | undefined {
  const match = /^geo:(-?[\d.]+),(-?[\d.]+)((?:;[a-z]+=[^;]*)*)$/.exec(body);
  if (!match) return undefined;
  const result: { latitude: number; longitude: number; name?: string; address?: string } = {
    latitude: Number(match[1]),
    longitude: Number(match[2]),
  };
  for (const param of (match[3] ?? '').split(';').filter(Boolean)) {
    const [key, value = ''] = param.split('=');
    if (key === 'name') result.name = decodeURIComponent(value);
    if (key === 'address') result.address = decodeURIComponent(value);
  }
  return result;
}

/**
 * What follows a new message's commit, decided inside its transaction: the realtime
 * `message.created`, the webhook deliveries (rows created here, jobs through the outbox) and the
 * media download.
 */
async function inboundEffects(
  tx: TenantTx,
  tenantId: string,
  message: InboundMessage,
  messageId: string,
  conversationId: string,
  hasMedia: boolean,
): Promise<OutboxEffect[]> {
  const effects: OutboxEffect[] = [
    {
      kind: 'realtime.event',
      payload: {
        type: 'message.created',
        at: new Date().toISOString(),
        data: {
          messageId,
          conversationId,
          sessionId: message.sessionId,
          direction: message.fromMe ? 'outbound' : 'inbound',
        },
      },
    },
  ];
  const deliveryIds = await createWebhookDeliveries(tx, tenantId, {
    type: message.fromMe ? 'message.sent' : 'message.received',
    at: new Date(),
    data: {
      messageId,
      conversationId,
      sessionId: message.sessionId,
      providerMessageId: message.providerMessageId,
      from: message.sender.pn ?? message.sender.lid ?? message.sender.address,
      type: message.content.type,
      ...(message.content.type === 'text' ? { text: message.content.text } : {}),
      timestamp: message.timestamp.toISOString(),
    },
  });
  if (deliveryIds.length > 0) effects.push({ kind: 'webhook.enqueue', payload: { deliveryIds } });
  if (hasMedia)
    effects.push({ kind: 'media.download', payload: { tenantId, sessionId: message.sessionId, messageId } });
  return effects;
}

/**
 * Stores one inbound (or echoed fromMe) message in ONE transaction: the contact (by PN and/or
 * LID), the conversation (reopened; unread_count + 1 for inbound messages not from us) and the
 * message. De-duplicates on (session, providerMessageId): a transaction-scoped advisory lock on
 * that pair makes concurrent duplicates wait for each other, so exactly one stores it. Edits and
 * deletes change their target instead of adding a row; a reaction is a row of type `reaction`
 * pointing at its target.
 */
export async function storeInbound(
  db: Db,
  tenantId: string,
  message: InboundMessage,
  options: StoreInboundOptions = {},
): Promise<StoreInboundResult> {
  if (message.chat.kind !== 'direct')
    return { outcome: 'ignored', isNew: false, reason: `${message.chat.kind} chat` };
  const contactRef = message.chat.contact ?? (message.fromMe ? undefined : message.sender);
  if (!contactRef || (!contactRef.pn && !contactRef.lid))
    return { outcome: 'ignored', isNew: false, reason: 'direct chat without a pn or lid' };
  const content = message.content;
  const epoch = options.epoch ?? null;

  return await withTenant(
    db,
    tenantId,
    async (tx) => {
      await lock(tx, `message:${message.sessionId}:${message.providerMessageId}`);
      const seen = await tx.message.findFirst({
        where: { sessionId: message.sessionId, providerMessageId: message.providerMessageId },
        select: { id: true },
      });
      if (seen) return { outcome: 'duplicate', isNew: false } as const;

      if (content.type === 'edit' || content.type === 'delete') {
        const target = await tx.message.findFirst({
          where: { sessionId: message.sessionId, providerMessageId: content.targetId },
        });
        if (!target) return { outcome: 'target-missing', isNew: false } as const;
        const data =
          content.type === 'edit'
            ? { editedAt: message.timestamp, body: contentColumns(content.content).body }
            : { deletedAt: message.timestamp };
        await tx.message.update({ where: { id: target.id }, data });
        const outboxIds = await writeOutbox(tx, tenantId, [
          {
            kind: 'realtime.event',
            payload: {
              type: 'message.updated',
              at: new Date().toISOString(),
              data: { messageId: target.id, conversationId: target.conversationId, status: target.status },
            },
          },
        ]);
        return {
          outcome: 'updated',
          isNew: false,
          messageId: target.id,
          conversationId: target.conversationId,
          status: target.status,
          outboxIds,
        } as const;
      }

      const mergeOutboxIds: string[] = [];
      const contactId = await upsertContact(tx, tenantId, contactRef, {
        sessionId: message.sessionId,
        outboxIds: mergeOutboxIds,
      });
      const countsAsUnread = !message.fromMe && content.type !== 'reaction';
      const conversationId = await upsertConversation(
        tx,
        tenantId,
        message.sessionId,
        contactId,
        message.timestamp,
        countsAsUnread ? 1 : 0,
      );
      const columns = contentColumns(content);
      const replyToProviderId =
        content.type === 'reaction' ? content.targetId : message.replyTo?.providerMessageId;
      const replyTo = replyToProviderId
        ? await tx.message.findFirst({
            where: { sessionId: message.sessionId, providerMessageId: replyToProviderId },
            select: { id: true },
          })
        : null;
      const created = await tx.message.create({
        data: {
          tenantId,
          sessionId: message.sessionId,
          conversationId,
          direction: message.fromMe ? 'outbound' : 'inbound',
          providerMessageId: message.providerMessageId,
          // An echo of our own message sent from the phone has been sent; an inbound one has arrived.
          status: message.fromMe ? 'sent' : 'delivered',
          type: columns.type,
          body: columns.body,
          ...(columns.media ?? {}),
          replyToMessageId: replyTo?.id ?? null,
          replyToProviderMessageId: replyToProviderId ?? null,
          reaction: content.type === 'reaction' ? (content.emoji ?? '') : null,
          providerTimestamp: message.timestamp,
          epoch,
          ...(message.fromMe ? { sentAt: message.timestamp } : { deliveredAt: message.timestamp }),
        },
        select: { id: true },
      });
      const outboxIds = [
        ...mergeOutboxIds,
        ...(await writeOutbox(
          tx,
          tenantId,
          await inboundEffects(
            tx,
            tenantId,
            message,
            created.id,
            conversationId,
            columns.media !== undefined,
          ),
        )),
      ];
      return {
        outcome: 'created',
        isNew: true,
        messageId: created.id,
        conversationId,
        contactId,
        hasMedia: columns.media !== undefined,
        outboxIds,
      } as const;
    },
    INBOUND_TX,
  );
}

/** The order statuses move in; `failed` is reachable from any status but `read`. */
const STATUS_RANK: Record<MessageStatus, number> = { queued: 0, sent: 1, delivered: 2, read: 3, failed: 4 };

/** Whether a message in status `from` may move to `to` (never backwards, failed is terminal). */
export function canMoveStatus(from: MessageStatus, to: MessageStatus): boolean {
  if (from === 'failed') return false;
  if (to === 'failed') return from !== 'read';
  return STATUS_RANK[to] > STATUS_RANK[from];
}

/** What applyReceipt did. */
export type ApplyReceiptResult =
  | {
      applied: true;
      messageId: string;
      conversationId: string;
      status: MessageStatus;
      reason?: string;
      /** The outbox row of its `message.updated` event. */
      outboxIds: string[];
    }
  | { applied: false; reason: 'unknown-message' | 'not-forward' };

/** Which statuses may move to `to` (for the conditional UPDATE). */
function statusesBefore(to: MessageStatus): MessageStatus[] {
  return (Object.keys(STATUS_RANK) as MessageStatus[]).filter((from) => canMoveStatus(from, to));
}

/**
 * Moves a message's status forward (queued -> sent -> delivered -> read; failed from any status but
 * read) and records the status in message_status_events. A receipt that would move it backwards,
 * or repeats the current status, changes nothing. The UPDATE is conditional on the current status,
 * so concurrent receipts cannot move it backwards either.
 */
export async function setMessageStatus(
  tx: TenantTx,
  tenantId: string,
  messageId: string,
  status: MessageStatus,
  at: Date,
  extra: { reason?: string; providerMessageId?: string; epoch?: bigint } = {},
): Promise<boolean> {
  const timestamps =
    status === 'sent'
      ? { sentAt: at }
      : status === 'delivered'
        ? { deliveredAt: at }
        : status === 'read'
          ? { readAt: at }
          : {};
  const result = await tx.message.updateMany({
    where: { id: messageId, status: { in: statusesBefore(status) } },
    data: {
      status,
      ...timestamps,
      ...(status === 'failed' ? { failureReason: extra.reason ?? 'failed' } : {}),
      ...(extra.providerMessageId ? { providerMessageId: extra.providerMessageId } : {}),
      ...(extra.epoch !== undefined ? { epoch: extra.epoch } : {}),
    },
  });
  if (result.count === 0) return false;
  // A later status implies the earlier ones (WhatsApp and Meta may skip or reorder them): their
  // times are filled in when still unknown, so a read message always has a delivered time.
  if (status === 'delivered' || status === 'read')
    await tx.message.updateMany({ where: { id: messageId, sentAt: null }, data: { sentAt: at } });
  if (status === 'read')
    await tx.message.updateMany({ where: { id: messageId, deliveredAt: null }, data: { deliveredAt: at } });
  await tx.messageStatusEvent.create({
    data: { tenantId, messageId, status, reason: extra.reason ?? null, occurredAt: at },
  });
  return true;
}

/** The failure reason of a receipt as people read it: Meta's code and title, or the channel's words. */
export function receiptFailureReason(receipt: Receipt): string {
  const failure = receipt.failure;
  if (!failure) return 'provider reported failure';
  const head = [failure.code === undefined ? undefined : String(failure.code), failure.title]
    .filter(Boolean)
    .join(' ');
  const text = [head, failure.detail].filter(Boolean).join(': ');
  return (text || 'provider reported failure').slice(0, 500);
}

/** Applies a delivery receipt to the message it names (by session and provider message id). */
export async function applyReceipt(db: Db, tenantId: string, receipt: Receipt): Promise<ApplyReceiptResult> {
  return await withTenant(
    db,
    tenantId,
    async (tx) => {
      const message = await tx.message.findFirst({
        where: { sessionId: receipt.sessionId, providerMessageId: receipt.providerMessageId },
        select: { id: true, conversationId: true },
      });
      if (!message) return { applied: false, reason: 'unknown-message' } as const;
      const reason = receipt.status === 'failed' ? receiptFailureReason(receipt) : undefined;
      const at = receipt.at ?? new Date();
      const moved = await setMessageStatus(tx, tenantId, message.id, receipt.status, at, {
        ...(reason ? { reason } : {}),
      });
      // A receipt behind the current status (delivered after read: WhatsApp and Meta do not
      // promise order) changes nothing; the history holds the statuses the message moved through.
      if (!moved) return { applied: false, reason: 'not-forward' } as const;
      const outboxIds = await writeOutbox(tx, tenantId, [
        {
          kind: 'realtime.event',
          payload: {
            type: 'message.updated',
            at: new Date().toISOString(),
            data: {
              messageId: message.id,
              conversationId: message.conversationId,
              status: receipt.status,
              ...(reason ? { reason } : {}),
            },
          },
        },
      ]);
      return {
        applied: true,
        messageId: message.id,
        conversationId: message.conversationId,
        status: receipt.status,
        ...(reason ? { reason } : {}),
        outboxIds,
      } as const;
    },
    INBOUND_TX,
  );
}

/** What applyIdentityLink did. */
export type ApplyIdentityLinkResult =
  | { outcome: 'linked' | 'already-linked' | 'created'; contactId: string; outboxIds: string[] }
  /** PN and LID belonged to two contacts: merged into `contactId` (the older), `mergedContactId` is gone. */
  | {
      outcome: 'merged';
      contactId: string;
      mergedContactId: string;
      conversationsMerged: number;
      outboxIds: string[];
    };

/**
 * Records that a phone number and a LID are one person: the contact known by either gains the
 * other identity. When both already belong to different contacts, the two are merged into the
 * older one, in this transaction ({@link mergeContacts}).
 */
export async function applyIdentityLink(
  db: Db,
  tenantId: string,
  link: IdentityLink,
): Promise<ApplyIdentityLinkResult> {
  return await withTenant(
    db,
    tenantId,
    async (tx) => {
      await lock(tx, `identity:pn:${link.pn}`);
      await lock(tx, `identity:lid:${link.lid}`);
      const existing = await tx.contactIdentity.findMany({
        where: {
          OR: [
            { kind: 'pn', value: link.pn },
            { kind: 'lid', value: link.lid },
          ],
        },
      });
      const byPn = existing.find((i) => i.kind === 'pn');
      const byLid = existing.find((i) => i.kind === 'lid');
      if (byPn && byLid) {
        if (byPn.contactId === byLid.contactId)
          return { outcome: 'already-linked', contactId: byPn.contactId, outboxIds: [] } as const;
        const merged = await mergeContacts(tx, tenantId, byPn.contactId, byLid.contactId, {
          pn: link.pn,
          lid: link.lid,
          sessionId: link.sessionId,
          source: 'identity-event',
        });
        return {
          outcome: 'merged',
          contactId: merged.survivorId,
          mergedContactId: merged.mergedId,
          conversationsMerged: merged.conversationsMerged,
          outboxIds: merged.outboxIds,
        } as const;
      }
      const contactId = await upsertContact(
        tx,
        tenantId,
        { address: link.pn, pn: link.pn, lid: link.lid },
        { sessionId: link.sessionId },
      );
      return { outcome: byPn || byLid ? 'linked' : 'created', contactId, outboxIds: [] } as const;
    },
    INBOUND_TX,
  );
}
