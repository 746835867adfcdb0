// Contacts and their identities (phone number, LID), and the conversation a number is filed
// under: what inbound messages, identity links and the API's first send to a number share.
import type { ContactRef, IdentityLink } from '@switchboard/channels';
import { type Db, type TenantTx, withTenant } from '@switchboard/db';
import { lockContact, mergeContacts } from './merge.ts';
import { INBOUND_TX, lock, lockAll } from './transaction.ts';

type Row = { id: string };

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
export async function upsertConversation(
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
