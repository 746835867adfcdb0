import type { Message } from '@switchboard/db';
import type { z } from 'zod';
import { type RealtimeMessage, realtimeMessage } from './contracts.ts';
import { groupMentionsSchema } from './groups/contracts.ts';

/** The sender and mentions of a group message, when it has them (groups). */
function groupFields(
  row: Pick<Message, 'senderJid' | 'senderPn' | 'senderName' | 'mentions'>,
): Pick<RealtimeMessage, 'sender' | 'mentions'> {
  const mentions = groupMentionsSchema.safeParse(row.mentions);
  return {
    ...(row.senderJid ? { sender: { jid: row.senderJid, pn: row.senderPn, name: row.senderName } } : {}),
    ...(mentions.success && mentions.data.length > 0 ? { mentions: mentions.data } : {}),
  };
}

const MEDIA_TYPES = new Set(['image', 'video', 'audio', 'document', 'sticker']);

/** The columns {@link realtimeMessageOf} reads (a Prisma `select`). */
export const REALTIME_MESSAGE_COLUMNS = {
  id: true,
  conversationId: true,
  direction: true,
  status: true,
  failureReason: true,
  type: true,
  body: true,
  reaction: true,
  mediaMimeType: true,
  mediaFileName: true,
  mediaSizeBytes: true,
  mediaStorageKey: true,
  replyToMessageId: true,
  createdAt: true,
  senderJid: true,
  senderPn: true,
  senderName: true,
  mentions: true,
  interactive: true,
} as const;

/**
 * The message a realtime event carries for `row`, as a conversation's history shows it (media
 * described, `available` once stored), or undefined when its body is over the bound.
 */
export function realtimeMessageOf(
  row: Pick<Message, keyof typeof REALTIME_MESSAGE_COLUMNS>,
): RealtimeMessage | undefined {
  return realtimeMessage({
    id: row.id,
    conversationId: row.conversationId,
    direction: row.direction,
    status: row.status,
    failureReason: row.failureReason,
    type: row.type,
    body: row.body,
    reaction: row.reaction,
    media: MEDIA_TYPES.has(row.type)
      ? {
          mimeType: row.mediaMimeType,
          fileName: row.mediaFileName,
          sizeBytes: row.mediaSizeBytes === null ? null : Number(row.mediaSizeBytes),
          available: row.mediaStorageKey !== null,
        }
      : null,
    replyToMessageId: row.replyToMessageId,
    createdAt: row.createdAt.toISOString(),
    ...groupFields(row),
    ...(row.interactive && typeof row.interactive === 'object' && !Array.isArray(row.interactive)
      ? { interactive: row.interactive as Record<string, z.core.util.JSONType> }
      : {}),
  });
}
