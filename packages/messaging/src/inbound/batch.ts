// Inbound group commit: many new messages stored in ONE transaction of a few multi-row
// statements, with exactly what storeInbound (messages.ts) does for each of them one by one.
import { randomUUID } from 'node:crypto';
import type { ContactRef, InboundMessage } from '@switchboard/channels';
import { type Db, Prisma, type TenantSqlTx, withTenantSql } from '@switchboard/db';
import type { z } from 'zod';
import { type RealtimeMessage, realtimeMessage } from '../contracts.ts';
import { type OutboxEffect, outboxPayloadSchemas } from '../outbox/entries.ts';
import { subscriptionMatches } from '../webhooks/enqueue.ts';
import { historyEffects, isHistory } from './history.ts';
import {
  contentColumns,
  messageEventData,
  type StoreInboundOptions,
  type StoreInboundResult,
} from './messages.ts';

/**
 * Whether `message` can be stored in a batch: a new message of a direct chat whose contact has a
 * PN or LID. Edits and deletes (which change an earlier row), group chats (ignored) and anything
 * without an identity go through storeInbound on their own.
 */
export function batchable(message: InboundMessage): boolean {
  if (message.chat.kind !== 'direct') return false;
  if (message.content.type === 'edit' || message.content.type === 'delete') return false;
  const ref = contactRefOf(message);
  return ref !== undefined && Boolean(ref.pn || ref.lid);
}

function contactRefOf(message: InboundMessage): ContactRef | undefined {
  return message.chat.contact ?? (message.fromMe ? undefined : message.sender);
}

/**
 * Thrown inside a batch's transaction when the batch needs what only the one-by-one path does
 * (a PN and a LID of two different contacts: a merge). The transaction rolls back and the caller
 * stores the messages one by one.
 */
export class BatchNeedsOneByOne extends Error {
  constructor(reason: string) {
    super(`inbound batch stored one by one: ${reason}`);
    this.name = 'BatchNeedsOneByOne';
  }
}

type Kind = 'pn' | 'lid';
const identityKey = (kind: Kind, value: string) => `${kind}:${value}`;
const messageKey = (sessionId: string, providerMessageId: string) => `${sessionId}\u0000${providerMessageId}`;

interface LookupRow {
  /** Mode `try`: whether every lock was free (null in mode `wait`). */
  locked: boolean | null;
  messages: { s: string; p: string; id: string }[];
  identities: { kind: Kind; value: string; contactId: string }[];
  subscriptions: { id: string; events: string[] }[];
}

/**
 * Stores `messages` (each {@link batchable}) in one transaction and returns one result per
 * message, in order: `created`, or `duplicate` when its (session, providerMessageId) is already
 * stored or appeared earlier in the same batch.
 *
 * The statements, in one withTenantSql transaction (its BEGIN and the tenant's `set_config` sent
 * with the first statement; uncontended, 1 and 2 are one, see storeBatch; its COMMIT after the
 * last statement answered, so a batch is four round trips):
 * 1. the advisory locks storeInbound takes, in one global order (every message key, then the
 *    PN identities, then the LID ones, each sorted), so a batch and any one-by-one store of the
 *    same message or identity serialise without deadlocking;
 * 2. one read (a fresh snapshot, after the locks): the messages already stored (duplicates and
 *    reply targets), the identities' contacts (taking each contact's shared merge lock in id
 *    order, as upsertContact does) and the active webhook subscriptions;
 * 3. new contacts, their identities, push names, and the conversations (one upsert row per
 *    conversation: last_message_at, unread_count + the batch's count);
 * 4. the messages (created_at strictly increasing in arrival order), the webhook deliveries and
 *    the outbox rows, every id chosen here.
 * Contacts are resolved in arrival order with upsertContact's rules. A contact merged away while
 * the batch waited for its lock makes statement 3 fail on its foreign key: like any error, the
 * whole transaction rolls back (nothing of the batch is stored) and the caller falls back to one
 * by one.
 */
export async function storeInboundBatch(
  db: Db,
  tenantId: string,
  messages: readonly InboundMessage[],
  options: StoreInboundBatchOptions = {},
): Promise<StoreInboundResult[]> {
  for (const message of messages)
    if (!batchable(message)) throw new Error(`message ${message.providerMessageId} cannot be batched`);
  if (messages.length === 0) return [];
  const epoch = options.epoch === undefined ? null : String(options.epoch);
  const traceparents = new Map(messages.map((m, i) => [m, options.traceparents?.[i]]));
  try {
    return await storeBatch(db, tenantId, messages, epoch, traceparents, 'try');
  } catch (error) {
    if (!(error instanceof LockBusy)) throw error;
    return await storeBatch(db, tenantId, messages, epoch, traceparents, 'wait');
  }
}

export interface StoreInboundBatchOptions extends StoreInboundOptions {
  /**
   * Per message (same index), the W3C traceparent its outbox rows keep, so whichever relay
   * performs them continues that trace (as writeOutbox does with the active span's).
   */
  traceparents?: readonly (string | undefined)[];
}

/** An outbox row of a batch, written by statement 4 (the columns writeOutbox fills). */
interface OutboxRow {
  id: string;
  kind: string;
  payload: string;
  traceparent: string | null;
  /**
   * For a `message.created` carrying its message: the message's 1-based position in the batch's
   * rows, whose created_at (set by the INSERT) replaces the payload's `data.message.createdAt`.
   */
  messageN: number | null;
}

const MEDIA_TYPES = new Set(['image', 'video', 'audio', 'document', 'sticker']);

/** The message a row's `message.created` carries (as the history shows it), if it fits an event. */
function eventMessage(row: MessageRow, at: Date): RealtimeMessage | undefined {
  return realtimeMessage({
    id: row.id,
    conversationId: row.conversationId,
    direction: row.direction,
    status: row.status,
    failureReason: null,
    type: row.type as RealtimeMessage['type'],
    body: row.body,
    reaction: row.reaction,
    media: MEDIA_TYPES.has(row.type)
      ? {
          mimeType: row.mediaMimeType,
          fileName: row.mediaFileName,
          sizeBytes: row.mediaSizeBytes === null ? null : Number(row.mediaSizeBytes),
          available: false,
        }
      : null,
    replyToMessageId: row.replyToMessageId,
    ...(row.interactive
      ? { interactive: JSON.parse(row.interactive) as Record<string, z.core.util.JSONType> }
      : {}),
    // Replaced by the row's created_at in the INSERT (insertMessagesAndEffects).
    createdAt: at.toISOString(),
  });
}

/** A lock of the batch was held by another transaction (mode `try`): the batch runs again, waiting. */
class LockBusy extends Error {}

/**
 * One attempt at a batch. `wait`: statements 1 to 4 as described above. `try`: no statement 1;
 * the read takes the same locks with pg_try_advisory_xact_lock (evaluated first, in the same
 * order) and throws LockBusy, rolling back, if any was held by another transaction. Its snapshot
 * was taken just before the locks: a transaction that held one of them and committed in between
 * wrote rows this batch does not see, and then the batch's own INSERT of that message or
 * identity fails on its unique index (or a contact's foreign key), the batch rolls back and is
 * stored one by one, where the lock-then-read order sees them. Uncontended, this saves a round
 * trip.
 */
async function storeBatch(
  db: Db,
  tenantId: string,
  messages: readonly InboundMessage[],
  epoch: string | null,
  traceparents: ReadonlyMap<InboundMessage, string | undefined>,
  mode: 'try' | 'wait',
): Promise<StoreInboundResult[]> {
  return await withTenantSql(db, tenantId, async (tx) => {
    // 1. Locks.
    const messageLocks = [
      ...new Set(messages.map((m) => `message:${m.sessionId}:${m.providerMessageId}`)),
    ].sort();
    const refs = messages.map((m) => contactRefOf(m)!);
    const pns = [...new Set(refs.flatMap((r) => (r.pn ? [`identity:pn:${r.pn}`] : [])))].sort();
    const lids = [...new Set(refs.flatMap((r) => (r.lid ? [`identity:lid:${r.lid}`] : [])))].sort();
    const locks = [...messageLocks, ...pns, ...lids];
    if (mode === 'wait')
      await tx.query(Prisma.sql`
          SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0)))::int AS locked
            FROM unnest(${locks}::text[]) WITH ORDINALITY AS t(k, n)`);

    // 2. What is already stored.
    const lookupSessions: string[] = [];
    const lookupIds: string[] = [];
    for (const m of messages) {
      lookupSessions.push(m.sessionId);
      lookupIds.push(m.providerMessageId);
      const replyTo = replyToProviderId(m);
      if (replyTo) {
        lookupSessions.push(m.sessionId);
        lookupIds.push(replyTo);
      }
    }
    const kinds: Kind[] = [];
    const values: string[] = [];
    for (const ref of refs) {
      for (const kind of ['pn', 'lid'] as const) {
        const value = ref[kind];
        if (!value) continue;
        kinds.push(kind);
        values.push(value);
      }
    }
    const [lookup] = await tx.query<LookupRow>(Prisma.sql`
        SELECT
          (SELECT bool_and(pg_try_advisory_xact_lock(hashtextextended(k, 0)))
             FROM unnest(${mode === 'try' ? locks : []}::text[]) WITH ORDINALITY AS t(k, n)) AS locked,
          (SELECT coalesce(json_agg(json_build_object('s', m.session_id, 'p', m.provider_message_id, 'id', m.id)), '[]'::json)
             FROM messages m
             JOIN (SELECT DISTINCT s, p FROM unnest(${lookupSessions}::uuid[], ${lookupIds}::text[]) AS k(s, p)) k
               ON m.session_id = k.s AND m.provider_message_id = k.p) AS messages,
          (SELECT coalesce(json_agg(json_build_object('kind', i.kind, 'value', i.value, 'contactId', i.contact_id)), '[]'::json)
             FROM (SELECT c.*, pg_advisory_xact_lock_shared(hashtextextended('contact:' || c.contact_id::text, 0))::text AS locked
                     FROM (SELECT ci.kind, ci.value, ci.contact_id
                             FROM contact_identities ci
                             JOIN (SELECT DISTINCT kind, value
                                     FROM unnest(${kinds}::contact_identity_kind[], ${values}::text[]) AS k(kind, value)) k
                               ON ci.kind = k.kind AND ci.value = k.value
                            ORDER BY ci.contact_id::text) c) i) AS identities,
          (SELECT coalesce(json_agg(json_build_object('id', s.id, 'events', s.events)), '[]'::json)
             FROM webhook_subscriptions s WHERE s.active) AS subscriptions`);
    if (lookup!.locked === false) throw new LockBusy();
    const stored = new Map(lookup!.messages.map((r) => [messageKey(r.s, r.p), r.id]));
    const contactOf = new Map(lookup!.identities.map((r) => [identityKey(r.kind, r.value), r.contactId]));

    // Contacts, in arrival order, with upsertContact's rules.
    const newContacts = new Map<string, { pushName: string | null }>();
    const pushNames = new Map<string, string>();
    const newIdentities: { contactId: string; kind: Kind; value: string }[] = [];
    const conversations = new Map<
      string,
      { sessionId: string; contactId: string; at: Date; unread: number; live: boolean }
    >();
    type Planned = { message: InboundMessage; messageId: string; contactId: string };
    const planned: Planned[] = [];
    const results: (StoreInboundResult | Planned)[] = [];
    for (const [index, message] of messages.entries()) {
      const key = messageKey(message.sessionId, message.providerMessageId);
      if (stored.has(key)) {
        results.push({ outcome: 'duplicate', isNew: false });
        continue;
      }
      const ref = refs[index]!;
      const identities: { kind: Kind; value: string }[] = [];
      if (ref.pn) identities.push({ kind: 'pn', value: ref.pn });
      if (ref.lid) identities.push({ kind: 'lid', value: ref.lid });
      const known = [
        ...new Set(identities.flatMap((i) => contactOf.get(identityKey(i.kind, i.value)) ?? [])),
      ];
      if (known.length > 1) throw new BatchNeedsOneByOne(`contacts ${known.join(' and ')} are one person`);
      let contactId = known[0];
      if (contactId === undefined) {
        contactId = randomUUID();
        newContacts.set(contactId, { pushName: ref.pushName ?? null });
      } else if (ref.pushName) {
        const created = newContacts.get(contactId);
        if (created) created.pushName = ref.pushName;
        else pushNames.set(contactId, ref.pushName);
      }
      for (const identity of identities) {
        const k = identityKey(identity.kind, identity.value);
        if (contactOf.has(k)) continue;
        contactOf.set(k, contactId);
        newIdentities.push({ contactId, ...identity });
      }
      const conversationKey = `${message.sessionId}:${contactId}`;
      const conversation = conversations.get(conversationKey) ?? {
        sessionId: message.sessionId,
        contactId,
        at: message.timestamp,
        unread: 0,
        live: false,
      };
      if (message.timestamp > conversation.at) conversation.at = message.timestamp;
      // History (history.ts): no unread count, and only a live message reopens the conversation.
      if (!isHistory(message)) conversation.live = true;
      if (
        !isHistory(message) &&
        !message.fromMe &&
        message.content.type !== 'reaction' &&
        message.content.type !== 'poll_vote'
      )
        conversation.unread++;
      conversations.set(conversationKey, conversation);
      const entry = { message, messageId: randomUUID(), contactId };
      // A later copy of this message in the same batch is a duplicate of this one.
      stored.set(key, entry.messageId);
      planned.push(entry);
      results.push(entry);
    }
    // Only duplicates: the transaction (its locks and read) is committed by withTenantSql.
    if (planned.length === 0) return results as StoreInboundResult[];

    // 3. Contacts, identities, push names, conversations.
    const contactIds = [...newContacts.keys()];
    const conversationRows = [...conversations.values()];
    const upserted = await tx.query<{ id: string; session_id: string; contact_id: string }>(Prisma.sql`
        WITH new_contacts AS (
          INSERT INTO contacts (id, tenant_id, push_name)
          SELECT id, ${tenantId}::uuid, push_name
            FROM unnest(${contactIds}::uuid[], ${contactIds.map((id) => newContacts.get(id)!.pushName)}::text[]) AS v(id, push_name)
        ), new_identities AS (
          INSERT INTO contact_identities (tenant_id, contact_id, kind, value)
          SELECT ${tenantId}::uuid, contact_id, kind, value
            FROM unnest(${newIdentities.map((i) => i.contactId)}::uuid[],
                        ${newIdentities.map((i) => i.kind)}::contact_identity_kind[],
                        ${newIdentities.map((i) => i.value)}::text[]) AS v(contact_id, kind, value)
        ), names AS (
          UPDATE contacts c SET push_name = v.push_name, updated_at = now()
            FROM unnest(${[...pushNames.keys()]}::uuid[], ${[...pushNames.values()]}::text[]) AS v(id, push_name)
           WHERE c.id = v.id
        )
        INSERT INTO conversations (tenant_id, session_id, contact_id, status, last_message_at, unread_count, resolved_at)
        SELECT ${tenantId}::uuid, session_id, contact_id,
               -- Only history (history.ts): created resolved, an existing one's status kept.
               CASE WHEN live THEN 'open' ELSE 'resolved' END::conversation_status, at, unread,
               CASE WHEN live THEN NULL ELSE at END
          FROM unnest(${conversationRows.map((c) => c.sessionId)}::uuid[],
                      ${conversationRows.map((c) => c.contactId)}::uuid[],
                      ${conversationRows.map((c) => c.at.toISOString())}::timestamptz[],
                      ${conversationRows.map((c) => c.unread)}::int[],
                      ${conversationRows.map((c) => c.live)}::boolean[]) AS v(session_id, contact_id, at, unread, live)
        ON CONFLICT (tenant_id, session_id, contact_id) DO UPDATE SET
          status = CASE WHEN EXCLUDED.status = 'open' THEN 'open' ELSE conversations.status END,
          resolved_at = CASE WHEN EXCLUDED.status = 'open' THEN NULL ELSE conversations.resolved_at END,
          last_message_at = GREATEST(conversations.last_message_at, EXCLUDED.last_message_at),
          unread_count = conversations.unread_count + EXCLUDED.unread_count,
          updated_at = now()
        RETURNING id::text AS id, session_id::text AS session_id, contact_id::text AS contact_id`);
    const conversationIds = new Map(upserted.map((r) => [`${r.session_id}:${r.contact_id}`, r.id]));

    // 4. Messages, webhook deliveries, outbox rows.
    const rows = planned.map((p) => messageRow(p.message, p.messageId, stored));
    const deliveries: {
      id: string;
      subscriptionId: string;
      eventId: string;
      type: string;
      payload: string;
    }[] = [];
    const outbox: OutboxRow[] = [];
    const outboxIdsOf = new Map<string, string[]>();
    const announced = new Set<string>();
    for (const [i, p] of planned.entries()) {
      const { message, messageId } = p;
      const conversationId = conversationIds.get(`${message.sessionId}:${p.contactId}`)!;
      rows[i]!.conversationId = conversationId;
      let carried: RealtimeMessage | undefined;
      let effects: OutboxEffect[];
      if (isHistory(message)) {
        effects = historyEffects(
          tenantId,
          { sessionId: message.sessionId, messageId, conversationId, hasMedia: rows[i]!.hasMedia },
          !announced.has(conversationId),
        );
        announced.add(conversationId);
        rows[i]!.createdAt = rows[i]!.providerTimestamp;
      } else {
        const type = message.fromMe ? 'message.sent' : 'message.received';
        const eventId = randomUUID();
        const at = new Date();
        const event = JSON.stringify({
          id: eventId,
          type,
          createdAt: at.toISOString(),
          data: messageEventData(message, messageId, conversationId),
        });
        const deliveryIds: string[] = [];
        for (const subscription of lookup!.subscriptions) {
          if (!subscriptionMatches(subscription.events, type)) continue;
          const id = randomUUID();
          deliveryIds.push(id);
          deliveries.push({ id, subscriptionId: subscription.id, eventId, type, payload: event });
        }
        carried = eventMessage(rows[i]!, at);
        effects = [
          {
            kind: 'realtime.event',
            payload: {
              type: 'message.created',
              at: at.toISOString(),
              data: {
                messageId,
                conversationId,
                sessionId: message.sessionId,
                direction: message.fromMe ? 'outbound' : 'inbound',
                ...(carried ? { message: carried } : {}),
              },
            },
          },
        ];
        if (deliveryIds.length > 0) effects.push({ kind: 'webhook.enqueue', payload: { deliveryIds } });
        if (rows[i]!.hasMedia)
          effects.push({
            kind: 'media.download',
            payload: { tenantId, sessionId: message.sessionId, messageId },
          });
      }
      const ids: string[] = [];
      for (const effect of effects) {
        const id = randomUUID();
        ids.push(id);
        // Validated as writeOutbox validates: a malformed effect aborts the transaction.
        outbox.push({
          id,
          kind: effect.kind,
          payload: JSON.stringify(outboxPayloadSchemas[effect.kind].parse(effect.payload)),
          traceparent: traceparents.get(message) ?? null,
          messageN: effect.kind === 'realtime.event' && carried ? i + 1 : null,
        });
      }
      outboxIdsOf.set(messageId, ids);
    }
    await insertMessagesAndEffects(tx, tenantId, epoch, rows, deliveries, outbox);

    return results.map((r) =>
      'outcome' in r
        ? r
        : ({
            outcome: 'created',
            isNew: true,
            messageId: r.messageId,
            conversationId: conversationIds.get(`${r.message.sessionId}:${r.contactId}`)!,
            contactId: r.contactId,
            hasMedia: contentColumns(r.message.content).media !== undefined,
            outboxIds: outboxIdsOf.get(r.messageId)!,
          } as const),
    );
  });
}

function replyToProviderId(message: InboundMessage): string | undefined {
  // A reaction points at its target, a poll vote at its poll.
  if (message.content.type === 'reaction') return message.content.targetId;
  if (message.content.type === 'poll_vote') return message.content.pollMessageId;
  return message.replyTo?.providerMessageId;
}

interface MessageRow {
  id: string;
  sessionId: string;
  conversationId: string;
  direction: 'inbound' | 'outbound';
  providerMessageId: string;
  status: 'sent' | 'delivered';
  type: string;
  body: string | null;
  mediaMimeType: string | null;
  mediaSizeBytes: string | null;
  mediaSha256: string | null;
  mediaFileName: string | null;
  mediaProviderRef: string | null;
  replyToMessageId: string | null;
  replyToProviderMessageId: string | null;
  reaction: string | null;
  /** The structured content (interactive replies, polls, votes) as JSON text. */
  interactive: string | null;
  providerTimestamp: string;
  sentAt: string | null;
  deliveredAt: string | null;
  /** History (history.ts): the message's own time; null: arrival order (the batch's clock). */
  createdAt: string | null;
  hasMedia: boolean;
}

/** The row storeInbound's `tx.message.create` writes; the reply target from the table or the batch. */
function messageRow(message: InboundMessage, id: string, stored: ReadonlyMap<string, string>): MessageRow {
  const columns = contentColumns(message.content);
  const replyTo = replyToProviderId(message);
  const at = message.timestamp.toISOString();
  return {
    id,
    sessionId: message.sessionId,
    conversationId: '',
    direction: message.fromMe ? 'outbound' : 'inbound',
    providerMessageId: message.providerMessageId,
    // An echo of our own message sent from the phone has been sent; an inbound one has arrived.
    status: message.fromMe ? 'sent' : 'delivered',
    type: columns.type,
    body: columns.body,
    mediaMimeType: columns.media?.mediaMimeType ?? null,
    mediaSizeBytes: columns.media?.mediaSizeBytes == null ? null : String(columns.media.mediaSizeBytes),
    mediaSha256: columns.media?.mediaSha256 ?? null,
    mediaFileName: columns.media?.mediaFileName ?? null,
    mediaProviderRef: columns.media ? JSON.stringify(columns.media.mediaProviderRef) : null,
    // Only a message stored before this one (in the table, or earlier in the batch) is a target.
    replyToMessageId: replyTo ? (stored.get(messageKey(message.sessionId, replyTo)) ?? null) : null,
    replyToProviderMessageId: replyTo ?? null,
    reaction: message.content.type === 'reaction' ? (message.content.emoji ?? '') : null,
    interactive: columns.interactive ? JSON.stringify(columns.interactive) : null,
    providerTimestamp: at,
    sentAt: message.fromMe ? at : null,
    deliveredAt: message.fromMe ? null : at,
    createdAt: null,
    hasMedia: columns.media !== undefined,
  };
}

/**
 * Statement 4 of {@link storeInboundBatch}. The outbox rows are written here rather than through
 * writeOutbox (one INSERT per call) so that a batch's rows are one statement; they get the
 * columns writeOutbox gives them, and created_at is still clock_timestamp() row by row, in the
 * order given, so the relay performs them in write order.
 */
async function insertMessagesAndEffects(
  tx: TenantSqlTx,
  tenantId: string,
  epoch: string | null,
  rows: MessageRow[],
  deliveries: { id: string; subscriptionId: string; eventId: string; type: string; payload: string }[],
  outbox: OutboxRow[],
): Promise<void> {
  const col = <K extends keyof MessageRow>(key: K) => rows.map((r) => r[key]);
  // Awaited before the COMMIT is sent (withTenantSql commits once this function returned): a
  // worker killed while this statement runs (waiting on a row lock, say) leaves nothing of the
  // batch, where a COMMIT pipelined behind it would still commit it (batch.processes.test.ts).
  const [counts] = await tx.query<{ messages: number; deliveries: number; outbox: number }>(Prisma.sql`
    WITH base AS MATERIALIZED (SELECT clock_timestamp() AS at),
    m AS (
      INSERT INTO messages (id, tenant_id, session_id, conversation_id, direction, provider_message_id, status,
                            type, body, media_mime_type, media_size_bytes, media_sha256, media_file_name,
                            media_provider_ref, reply_to_message_id, reply_to_provider_message_id, reaction,
                            provider_timestamp, epoch, sent_at, delivered_at, interactive, created_at)
      SELECT v.id, ${tenantId}::uuid, v.session_id, v.conversation_id, v.direction, v.provider_message_id, v.status,
             v.type, v.body, v.media_mime_type, v.media_size_bytes, v.media_sha256, v.media_file_name,
             v.media_provider_ref::jsonb, v.reply_to_message_id, v.reply_to_provider_message_id, v.reaction,
             v.provider_timestamp, ${epoch}::bigint, v.sent_at, v.delivered_at, v.interactive::jsonb,
             -- Arrival order within the batch, one microsecond apart (the history's order is
             -- (created_at, id); later batches start after this one committed); an imported
             -- message (history.ts) its own time.
             coalesce(v.created_at, base.at + (v.n - 1) * interval '1 microsecond')
        FROM unnest(${col('id')}::uuid[], ${col('sessionId')}::uuid[], ${col('conversationId')}::uuid[],
                    ${col('direction')}::message_direction[], ${col('providerMessageId')}::text[],
                    ${col('status')}::message_status[], ${col('type')}::message_type[], ${col('body')}::text[],
                    ${col('mediaMimeType')}::text[], ${col('mediaSizeBytes')}::bigint[], ${col('mediaSha256')}::text[],
                    ${col('mediaFileName')}::text[], ${col('mediaProviderRef')}::text[],
                    ${col('replyToMessageId')}::uuid[], ${col('replyToProviderMessageId')}::text[],
                    ${col('reaction')}::text[], ${col('providerTimestamp')}::timestamptz[],
                    ${col('sentAt')}::timestamptz[], ${col('deliveredAt')}::timestamptz[],
                    ${col('interactive')}::text[], ${col('createdAt')}::timestamptz[])
             WITH ORDINALITY AS v(id, session_id, conversation_id, direction, provider_message_id, status, type, body,
                                  media_mime_type, media_size_bytes, media_sha256, media_file_name, media_provider_ref,
                                  reply_to_message_id, reply_to_provider_message_id, reaction, provider_timestamp,
                                  sent_at, delivered_at, interactive, created_at, n), base
       ORDER BY v.n
      RETURNING 1
    ), d AS (
      INSERT INTO webhook_deliveries (id, tenant_id, subscription_id, event_id, event_type, payload, next_attempt_at)
      SELECT v.id, ${tenantId}::uuid, v.subscription_id, v.event_id, v.event_type, v.payload::jsonb, now()
        FROM unnest(${deliveries.map((d) => d.id)}::uuid[], ${deliveries.map((d) => d.subscriptionId)}::uuid[],
                    ${deliveries.map((d) => d.eventId)}::uuid[], ${deliveries.map((d) => d.type)}::text[],
                    ${deliveries.map((d) => d.payload)}::text[]) AS v(id, subscription_id, event_id, event_type, payload)
      RETURNING 1
    ), o AS (
      INSERT INTO outbox (id, tenant_id, kind, payload, traceparent)
      SELECT v.id, ${tenantId}::uuid, v.kind,
             -- A carried message gets its row's created_at, as the API shows it (milliseconds, UTC).
             CASE WHEN v.message_n IS NULL THEN v.payload::jsonb
                  ELSE jsonb_set(v.payload::jsonb, '{data,message,createdAt}',
                         to_jsonb(to_char((base.at + (v.message_n - 1) * interval '1 microsecond') AT TIME ZONE 'UTC',
                                          'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')))
             END,
             v.traceparent
        FROM unnest(${outbox.map((o) => o.id)}::uuid[], ${outbox.map((o) => o.kind)}::text[],
                    ${outbox.map((o) => o.payload)}::text[], ${outbox.map((o) => o.traceparent)}::text[],
                    ${outbox.map((o) => o.messageN)}::int[])
             WITH ORDINALITY AS v(id, kind, payload, traceparent, message_n, n), base
       ORDER BY v.n
      RETURNING 1
    )
    SELECT (SELECT count(*) FROM m)::int AS messages, (SELECT count(*) FROM d)::int AS deliveries,
           (SELECT count(*) FROM o)::int AS outbox`);
  if (
    counts?.messages !== rows.length ||
    counts.deliveries !== deliveries.length ||
    counts.outbox !== outbox.length
  )
    throw new Error(`inbound batch wrote ${JSON.stringify(counts)} rows, expected ${rows.length} messages`);
}
