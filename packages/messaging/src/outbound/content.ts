import type { OutboundContent } from '@switchboard/channels';
import type { Message } from '@switchboard/db';
import { z } from 'zod';
import { geoUri, parseGeoUri } from '../geo-uri.ts';
import { interactiveMessageSchema, pollSchema } from './interactive.ts';

/** The content of a scheduled message (scheduled_messages.content), validated before it is stored as a message. */
export const outboundContentSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('text'), text: z.string().min(1, 'text must not be empty').max(65_536) }),
  z.strictObject({
    type: z.literal('location'),
    latitude: z.number().min(-90).max(90),
    longitude: z.number().min(-180).max(180),
    name: z.string().optional(),
    address: z.string().optional(),
  }),
  z.strictObject({
    type: z.literal('contact'),
    displayName: z.string().optional(),
    vcard: z.string().min(1),
  }),
  z.strictObject({ type: z.literal('reaction'), targetId: z.string().min(1), emoji: z.string().nullable() }),
]);

/** The message columns of outbound content (the inverse of {@link contentFromMessage}). */
export function messageColumnsFor(
  content: z.infer<typeof outboundContentSchema>,
): Pick<Message, 'type' | 'body' | 'reaction' | 'replyToProviderMessageId'> {
  switch (content.type) {
    case 'text':
      return { type: 'text', body: content.text, reaction: null, replyToProviderMessageId: null };
    case 'location':
      return { type: 'location', body: geoUri(content), reaction: null, replyToProviderMessageId: null };
    case 'contact':
      return { type: 'contact', body: content.vcard, reaction: null, replyToProviderMessageId: null };
    case 'reaction':
      return {
        type: 'reaction',
        body: null,
        reaction: content.emoji ?? '',
        replyToProviderMessageId: content.targetId,
      };
  }
}

/**
 * The `template` column of a template message: `{name, language, components}` with components as
 * Meta's Graph API takes them (the API validated their inner shape; sent through unchanged).
 */
export const storedTemplateSchema = z.object({
  name: z.string().regex(/^[a-z0-9_]{1,512}$/, 'must be a Meta template name'),
  language: z.string().min(2, 'must be a language code such as pt_BR'),
  components: z.array(z.looseObject({ type: z.enum(['header', 'body', 'button', 'footer']) })).default([]),
});

const MEDIA_KINDS = new Set(['image', 'video', 'audio', 'document', 'sticker']);

/** The message columns {@link contentFromMessage} and {@link resolveOutboundContent} read. */
export type OutboundMessageColumns = Pick<
  Message,
  | 'type'
  | 'body'
  | 'reaction'
  | 'replyToProviderMessageId'
  | 'template'
  | 'mediaStorageKey'
  | 'mediaMimeType'
  | 'mediaFileName'
> &
  Partial<Pick<Message, 'interactive'>>;

/**
 * What to send for a stored outbound message; undefined when the row holds nothing sendable.
 * Pure: media rows need their file's bytes, which only {@link resolveOutboundContent} reads, so
 * here they answer undefined.
 */
export function contentFromMessage(
  message: Pick<Message, 'type' | 'body' | 'reaction' | 'replyToProviderMessageId'> &
    Partial<Pick<Message, 'template' | 'interactive'>>,
): OutboundContent | undefined {
  switch (message.type) {
    case 'text':
      return message.body ? { type: 'text', text: message.body } : undefined;
    case 'location': {
      const location = message.body ? parseGeoUri(message.body) : undefined;
      return location ? { type: 'location', ...location } : undefined;
    }
    case 'contact':
      return message.body ? { type: 'contact', vcard: message.body } : undefined;
    case 'reaction':
      return message.replyToProviderMessageId
        ? { type: 'reaction', targetId: message.replyToProviderMessageId, emoji: message.reaction || null }
        : undefined;
    case 'template': {
      const template = storedTemplateSchema.safeParse(message.template);
      if (!template.success) return undefined;
      const { name, language, components } = template.data;
      return {
        type: 'template',
        name,
        language,
        ...(components.length ? { graphComponents: components } : {}),
      };
    }
    case 'interactive': {
      const interactive = interactiveMessageSchema.safeParse(message.interactive);
      return interactive.success ? { type: 'interactive', interactive: interactive.data } : undefined;
    }
    case 'poll': {
      const poll = pollSchema.safeParse(message.interactive);
      return poll.success ? { type: 'poll', ...poll.data } : undefined;
    }
    default:
      return undefined;
  }
}

/** Opens stored media as a stream; the port's `open` (MediaStorage in media/storage.ts). */
export interface OutboundMediaSource {
  open(key: string): Promise<AsyncIterable<Uint8Array> | undefined>;
}

/**
 * What to send for a stored outbound message; a media message's file is named, not read: the
 * channel opens it from storage when its upload starts and streams it (the API stored the upload
 * there and recorded its key, type and name), so a send never holds the file whole. Everything
 * else as {@link contentFromMessage}. Undefined when the row holds nothing sendable (or no storage
 * is configured for a media row): retrying would not change that. A file gone from storage fails
 * the send as INVALID_CONTENT when it is opened; a storage read that fails (S3 unreachable)
 * fails it as a retryable error.
 */
export async function resolveOutboundContent(
  message: OutboundMessageColumns,
  storage: OutboundMediaSource | undefined,
): Promise<OutboundContent | undefined> {
  if (!MEDIA_KINDS.has(message.type)) return contentFromMessage(message);
  const key = message.mediaStorageKey;
  if (!key || !message.mediaMimeType || !storage) return undefined;
  const file = { open: () => storage.open(key) };
  const kind = message.type as Extract<OutboundContent, { type: 'media' }>['kind'];
  return {
    type: 'media',
    kind,
    file,
    mimetype: message.mediaMimeType,
    ...(message.mediaFileName ? { fileName: message.mediaFileName } : {}),
    // Audio and stickers carry no caption on either channel.
    ...(message.body && kind !== 'audio' && kind !== 'sticker' ? { caption: message.body } : {}),
  };
}

/** A human-like pause before a send: typing shown for a time that grows with the text. */
export interface HumanDelay {
  msPerChar: number;
  minMs: number;
  maxMs: number;
}

/** About 35 ms per character, between 0.5 s and 4 s. */
export const DEFAULT_HUMAN_DELAY: HumanDelay = { msPerChar: 35, minMs: 500, maxMs: 4_000 };

/** No pause at all (tests, or tenants that turn it off). */
export const NO_HUMAN_DELAY: HumanDelay = { msPerChar: 0, minMs: 0, maxMs: 0 };

/** How long to show typing before sending `content`. */
export function humanDelayMs(delay: HumanDelay, content: OutboundContent): number {
  const length = content.type === 'text' ? content.text.length : 0;
  return Math.min(delay.maxMs, Math.max(delay.minMs, length * delay.msPerChar));
}
