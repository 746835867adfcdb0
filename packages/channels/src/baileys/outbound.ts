/**
 * Outbound mapping: the port's {@link OutboundContent} and replies as Baileys message content,
 * and a failed Baileys send as a {@link ChannelError}. Pure: no socket, no Redis.
 */
import { Readable } from 'node:stream';
import type {
  AnyMessageContent,
  MiscMessageGenerationOptions,
  WAMediaUpload,
  WAMessage,
  WAPresence,
} from '@whiskeysockets/baileys';
import type { OutboundContent, OutboundMediaFile, OutboundMessage, OutboundPresence } from '../channel.ts';
import { ChannelError, UnrecoverableChannelError } from '../errors.ts';
import { recipientJid } from './jid.ts';
import { statusCodeOf } from './lifecycle.ts';
import { toBaileysPoll } from './polls.ts';

/** What Baileys' sendMessage takes for `message`; throws unrecoverable errors for what cannot be sent. */
export function toBaileysSend(message: OutboundMessage): {
  jid: string;
  content: AnyMessageContent;
  options: MiscMessageGenerationOptions;
} {
  const jid = recipientJid(message.to);
  if (!jid)
    throw new UnrecoverableChannelError(
      'INVALID_NUMBER',
      'recipient is not a phone number or WhatsApp address',
      {
        status: 400,
      },
    );
  const content = toBaileysContent(message.content, jid);
  if (message.mentions?.length) {
    if (message.content.type !== 'text')
      throw new UnrecoverableChannelError('INVALID_CONTENT', 'mentions go with a text message', {
        status: 400,
      });
    const mentions = message.mentions.map((m) => recipientJid(m));
    if (mentions.some((m) => !m || m.endsWith('@g.us')))
      throw new UnrecoverableChannelError(
        'INVALID_NUMBER',
        'a mention is not a phone number or WhatsApp address',
        {
          status: 400,
        },
      );
    (content as { mentions?: string[] }).mentions = mentions as string[];
  }
  const options: MiscMessageGenerationOptions = {};
  if (message.providerMessageId) options.messageId = message.providerMessageId;
  if (message.replyTo) options.quoted = quotedMessage(jid, message.replyTo);
  return { jid, content, options };
}

/** What Baileys' sendPresenceUpdate takes: no chat for the account's own (un)availability. */
export function toBaileysPresence(
  to: string,
  presence: OutboundPresence,
): { type: WAPresence; jid: string | undefined } {
  const type: WAPresence = presence === 'typing' ? 'composing' : presence;
  const global = presence === 'available' || presence === 'unavailable';
  const jid = global ? undefined : recipientJid(to);
  if (!global && !jid)
    throw new UnrecoverableChannelError('INVALID_NUMBER', 'presence target is not a WhatsApp address', {
      status: 400,
    });
  return { type, jid };
}

/** What Baileys sends for `content` to `jid`; throws unrecoverable INVALID_CONTENT for what it cannot. */
export function toBaileysContent(content: OutboundContent, jid: string): AnyMessageContent {
  const invalid = (why: string) => new UnrecoverableChannelError('INVALID_CONTENT', why, { status: 400 });
  switch (content.type) {
    case 'text':
      if (!content.text) throw invalid('text message without text');
      return { text: content.text };
    case 'reaction':
      if (!content.targetId) throw invalid('reaction without a target');
      return {
        react: {
          text: content.emoji ?? '',
          key: { remoteJid: jid, id: content.targetId, fromMe: content.targetFromMe ?? false },
        },
      };
    case 'location':
      if (!Number.isFinite(content.latitude) || !Number.isFinite(content.longitude))
        throw invalid('location without coordinates');
      return {
        location: {
          degreesLatitude: content.latitude,
          degreesLongitude: content.longitude,
          ...(content.name ? { name: content.name } : {}),
          ...(content.address ? { address: content.address } : {}),
        },
      };
    case 'contact':
      if (!content.vcard) throw invalid('contact without a vcard');
      return {
        contacts: {
          ...(content.displayName ? { displayName: content.displayName } : {}),
          contacts: [
            { vcard: content.vcard, ...(content.displayName ? { displayName: content.displayName } : {}) },
          ],
        },
      };
    case 'template':
      // Templates are a Cloud API (Meta) feature; WhatsApp Web has nothing to send them with.
      throw invalid('templates can only be sent through the Cloud API');
    case 'media':
      return mediaContent(content, invalid);
    case 'poll':
      return toBaileysPoll(content);
    case 'interactive':
      // Reply buttons and lists are a Cloud API feature; WhatsApp Web shows polls instead.
      throw invalid('interactive messages (buttons, lists, CTA URLs) can only be sent through the Cloud API');
    default:
      throw invalid(`unsupported content type ${(content as { type: string }).type}`);
  }
}

/**
 * Media as bytes or a stored file: Baileys encrypts them with a fresh media key (a file as it is
 * read, into its own temp file), uploads the ciphertext to WhatsApp's media servers and sends the
 * message that points at it. URLs are refused rather than handed to Baileys (which would fetch
 * any URL from inside the worker); provider media ids are a Cloud API notion.
 */
function mediaContent(
  content: Extract<OutboundContent, { type: 'media' }>,
  invalid: (why: string) => UnrecoverableChannelError,
): AnyMessageContent {
  if (content.data === undefined && content.file === undefined)
    throw invalid('Baileys sends media from its bytes (data or file), not from a URL or a provider media id');
  if (
    [content.data, content.file, content.url, content.providerMediaId].filter((s) => s !== undefined).length >
    1
  )
    throw invalid('media needs exactly one of data, file, url or providerMediaId');
  if (content.data !== undefined && content.data.byteLength === 0) throw invalid('media without bytes');
  if (content.caption && (content.kind === 'audio' || content.kind === 'sticker'))
    throw invalid(`${content.kind} cannot carry a caption`);
  const data: WAMediaUpload = content.file
    ? { stream: Readable.from(openedLazily(content.file, invalid), { objectMode: false }) }
    : Buffer.from(content.data!.buffer, content.data!.byteOffset, content.data!.byteLength);
  const caption = content.caption ? { caption: content.caption } : {};
  const mimetype = content.mimetype ? { mimetype: content.mimetype } : {};
  switch (content.kind) {
    case 'image':
      return { image: data, ...caption, ...mimetype };
    case 'video':
      return { video: data, ...caption, ...mimetype };
    case 'audio':
      return { audio: data, ...mimetype };
    case 'sticker':
      return { sticker: data, ...mimetype };
    case 'document':
      if (!content.mimetype) throw invalid('a document needs a mimetype');
      return {
        document: data,
        mimetype: content.mimetype,
        fileName: content.fileName ?? 'file',
        ...caption,
      };
  }
}

/**
 * A stored file's bytes, opened when Baileys first reads them (so a send refused before its upload
 * opens nothing); a file that is gone, or empty, fails the send as INVALID_CONTENT.
 */
async function* openedLazily(
  file: OutboundMediaFile,
  invalid: (why: string) => UnrecoverableChannelError,
): AsyncGenerator<Uint8Array> {
  const bytes = await file.open();
  if (!bytes) throw invalid('the media file is no longer stored');
  let size = 0;
  for await (const chunk of bytes) {
    size += chunk.byteLength;
    yield chunk;
  }
  if (size === 0) throw invalid('media without bytes');
}

/** The minimal quoted message Baileys needs to build a reply's contextInfo (stanzaId, participant, quote). */
export function quotedMessage(jid: string, replyTo: NonNullable<OutboundMessage['replyTo']>): WAMessage {
  const author = replyTo.author ? recipientJid(replyTo.author) : undefined;
  return {
    key: {
      remoteJid: jid,
      id: replyTo.providerMessageId,
      fromMe: replyTo.fromMe ?? false,
      ...(author ? { participant: author } : {}),
    },
    message: { conversation: replyTo.text ?? '' },
  };
}

/** A failed send as a ChannelError: retryable while the connection is the trouble, unrecoverable for 401 and 400. */
export function sendError(error: unknown, sessionId: string): ChannelError {
  if (error instanceof ChannelError) return error;
  const code = statusCodeOf(error);
  const suffix = code === undefined ? '' : ` (${code})`;
  if (code === 428 || code === 408 || code === 440 || code === 503) {
    return new ChannelError(
      'NOT_CONNECTED',
      `session ${sessionId} lost its connection while sending${suffix}`,
      { cause: error },
    );
  }
  if (code === 401)
    return new UnrecoverableChannelError('LOGGED_OUT', `session ${sessionId} is logged out`, {
      status: 409,
      cause: error,
    });
  if (code === 400)
    return new UnrecoverableChannelError('INVALID_CONTENT', `WhatsApp rejected the message${suffix}`, {
      status: 400,
      cause: error,
    });
  return new ChannelError('SEND_FAILED', `send on session ${sessionId} failed${suffix}`, { cause: error });
}
