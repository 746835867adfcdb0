// Inbound messages: one transaction stores the contact, the conversation and the message, and
// writes what follows the commit (realtime event, webhook deliveries, media download) to the outbox.
import type { InboundMessage, MessageContent } from '@switchboard/channels';
import {
  type Db,
  type MessageStatus,
  type MessageType,
  type Prisma,
  type TenantTx,
  withTenant,
} from '@switchboard/db';
import type { RealtimeMessage } from '../contracts.ts';
import { geoUri } from '../geo-uri.ts';
import { groupContactId, groupMessageColumns } from '../groups/store.ts';
import { type OutboxEffect, writeOutbox } from '../outbox/entries.ts';
import { REALTIME_MESSAGE_COLUMNS, realtimeMessageOf } from '../realtime-message.ts';
import { createWebhookDeliveries } from '../webhooks/enqueue.ts';
import { historyEffects, isHistory, upsertHistoryConversation } from './history.ts';
import { upsertContact, upsertConversation } from './identities.ts';
import { structuredColumns, structuredEventData } from './interactive.ts';
import { INBOUND_TX, lock } from './transaction.ts';

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
  /** Not a direct or group chat: broadcasts and newsletters have no contact to file them under. */
  | { outcome: 'ignored'; isNew: false; reason: string };

/** Options for {@link storeInbound}. */
export interface StoreInboundOptions {
  /** The fencing epoch of the worker storing it, recorded on the row. */
  epoch?: bigint;
}

/** The `data` of a stored message's `message.received` / `message.sent` webhook event. */
export function messageEventData(message: InboundMessage, messageId: string, conversationId: string) {
  return {
    messageId,
    conversationId,
    sessionId: message.sessionId,
    providerMessageId: message.providerMessageId,
    from: message.sender.pn ?? message.sender.lid ?? message.sender.address,
    type: message.content.type,
    ...(message.content.type === 'text' ? { text: message.content.text } : {}),
    ...structuredEventData(message.content),
    timestamp: message.timestamp.toISOString(),
    ...(message.chat.kind === 'group' ? { group: message.chat.address } : {}),
  };
}

/** The columns a message's content fills. Location is stored as an RFC 5870 geo URI in `body`. */
export function contentColumns(content: MessageContent): {
  type: MessageType;
  body: string | null;
  interactive?: Prisma.InputJsonObject;
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
    case 'interactive_reply':
    case 'poll':
    case 'poll_vote':
      return structuredColumns(content);
  }
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
  carried: RealtimeMessage | undefined,
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
          ...(carried ? { message: carried } : {}),
        },
      },
    },
  ];
  const deliveryIds = await createWebhookDeliveries(tx, tenantId, {
    type: message.fromMe ? 'message.sent' : 'message.received',
    at: new Date(),
    data: messageEventData(message, messageId, conversationId),
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
  // A group is one conversation, filed under the group's own contact (groups/store.ts).
  const isGroup = message.chat.kind === 'group';
  if (message.chat.kind !== 'direct' && !isGroup)
    return { outcome: 'ignored', isNew: false, reason: `${message.chat.kind} chat` };
  const contactRef = message.chat.contact ?? (message.fromMe ? undefined : message.sender);
  if (!isGroup && (!contactRef || (!contactRef.pn && !contactRef.lid)))
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
      const contactId = isGroup
        ? await groupContactId(tx, tenantId, message.chat.address)
        : await upsertContact(tx, tenantId, contactRef!, {
            sessionId: message.sessionId,
            outboxIds: mergeOutboxIds,
          });
      const countsAsUnread = !message.fromMe && content.type !== 'reaction' && content.type !== 'poll_vote';
      const history = isHistory(message);
      const conversationId = history
        ? await upsertHistoryConversation(tx, tenantId, message.sessionId, contactId, message.timestamp)
        : await upsertConversation(
            tx,
            tenantId,
            message.sessionId,
            contactId,
            message.timestamp,
            countsAsUnread ? 1 : 0,
          );
      const columns = contentColumns(content);
      // A reaction points at its target, a poll vote at its poll.
      const replyToProviderId =
        content.type === 'reaction'
          ? content.targetId
          : content.type === 'poll_vote'
            ? content.pollMessageId
            : message.replyTo?.providerMessageId;
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
          ...(columns.interactive ? { interactive: columns.interactive } : {}),
          providerTimestamp: message.timestamp,
          epoch,
          ...groupMessageColumns(message),
          ...(message.fromMe ? { sentAt: message.timestamp } : { deliveredAt: message.timestamp }),
          ...(history ? { createdAt: message.timestamp } : {}),
        },
        select: REALTIME_MESSAGE_COLUMNS,
      });
      const outboxIds = [
        ...mergeOutboxIds,
        ...(await writeOutbox(
          tx,
          tenantId,
          history
            ? historyEffects(
                tenantId,
                {
                  sessionId: message.sessionId,
                  messageId: created.id,
                  conversationId,
                  hasMedia: columns.media !== undefined,
                },
                true,
              )
            : await inboundEffects(
                tx,
                tenantId,
                message,
                created.id,
                conversationId,
                columns.media !== undefined,
                realtimeMessageOf(created),
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
