import {
  type BaileysEventMap,
  getContentType,
  jidNormalizedUser,
  type MessageUserReceiptUpdate,
  normalizeMessageContent,
  proto,
  type SignalKeyStore,
  toNumber,
  type WAMessage,
  type WAMessageKey,
  type WAMessageUpdate,
} from '@whiskeysockets/baileys';
import type {
  CallEvent,
  ChannelEventName,
  ChannelEvents,
  ChatRef,
  ContactRef,
  InboundMessage,
  MessageContent,
  PresenceUpdate,
  Receipt,
  UnsupportedEvent,
  UnsupportedReason,
} from '../channel.ts';
import { mapGroupStub } from './groups.ts';
import { isInteractiveReplyType, mapInteractiveReply } from './interactive-replies.ts';
import { chatKind, contactFrom, lidOf, pnOf } from './jid.ts';
import { mediaLocation } from './media-location.ts';
import { pollContentOf } from './polls.ts';

/**
 * Baileys events -> domain events. Pure functions over the events Baileys emits (real protos,
 * as decoded from the wire: unset fields read as null, 64-bit fields as Long); the adapter
 * feeds them and emits what they return. Anything not mapped comes back as `unsupported` with
 * a reason; nothing here throws for bad input.
 *
 * Edits and deletes are mapped from the protocol message in `messages.upsert` (Baileys upserts
 * every decrypted message, protocol messages included). Baileys then derives a
 * `messages.update` from the same message (`update.message.editedMessage`, or
 * `messageStubType: REVOKE`); those copies are recognised and skipped here, so one edit is one
 * domain event.
 */

/** One domain event, ready to emit. */
export type MappedEvent = {
  [E in ChannelEventName]: { event: E; payload: ChannelEvents[E] };
}[ChannelEventName];

/** What the mapping needs to know about the session. */
export interface MappingContext {
  sessionId: string;
  /** The account's own JIDs (creds.me), for messages sent by this account. */
  me?: { id?: string | null; lid?: string | null; name?: string | null };
  now: () => Date;
}

type MediaType = 'image' | 'video' | 'audio' | 'document' | 'sticker';
const MEDIA_TYPES: Record<string, MediaType> = {
  imageMessage: 'image',
  videoMessage: 'video',
  ptvMessage: 'video',
  audioMessage: 'audio',
  documentMessage: 'document',
  stickerMessage: 'sticker',
};

const { ProtocolMessage } = proto.Message;
const Status = proto.WebMessageInfo.Status;
const StubType = proto.WebMessageInfo.StubType;

function unsupported(
  ctx: MappingContext,
  source: string,
  reason: UnsupportedReason,
  detail: string,
  key?: WAMessageKey | null,
): MappedEvent {
  const payload: UnsupportedEvent = { sessionId: ctx.sessionId, source, reason, detail, at: ctx.now() };
  if (key?.id) payload.providerMessageId = key.id;
  if (key?.remoteJid) payload.chat = jidNormalizedUser(key.remoteJid);
  return { event: 'unsupported', payload };
}

/** Seconds (number or Long) to a Date; undefined when absent or zero. */
function secondsToDate(value: number | Long | null | undefined): Date | undefined {
  if (value === null || value === undefined) return undefined;
  const seconds = toNumber(value);
  return seconds > 0 ? new Date(seconds * 1000) : undefined;
}

function optionalNumber(value: number | Long | null | undefined): number | undefined {
  return value === null || value === undefined ? undefined : toNumber(value);
}

function optionalString(value: string | null | undefined): string | undefined {
  return value === null || value === undefined || value === '' ? undefined : value;
}

type Long = Parameters<typeof toNumber>[0] & object;

/** The opaque download reference of a media message: its key and the media message itself. */
export interface BaileysMediaDownload {
  key: { remoteJid: string; id: string; fromMe: boolean; participant?: string };
  /** The media message wrapped in a proto.Message (e.g. `{ imageMessage }`), contextInfo removed. */
  message: proto.IMessage;
}

/** Encodes the reference MediaRef.download.data carries (JSON with the message as base64 protobuf). */
export function encodeMediaDownload(key: WAMessageKey, contentType: string, media: object): string {
  const copy = proto.Message.decode(
    proto.Message.encode({ [contentType]: media } as proto.IMessage).finish(),
  );
  const inner = (copy as unknown as Record<string, { contextInfo?: unknown } | null>)[contentType];
  if (inner) inner.contextInfo = null;
  return JSON.stringify({
    v: 1,
    key: {
      remoteJid: key.remoteJid,
      id: key.id,
      fromMe: Boolean(key.fromMe),
      ...(key.participant ? { participant: key.participant } : {}),
    },
    message: Buffer.from(proto.Message.encode(copy).finish()).toString('base64'),
  });
}

/** Decodes a MediaRef.download.data made by this adapter, for Baileys' downloadMediaMessage({ key, message }). */
export function decodeMediaDownload(data: string): BaileysMediaDownload {
  const parsed = JSON.parse(data) as { v: number; key: BaileysMediaDownload['key']; message: string };
  if (parsed.v !== 1) throw new Error(`unknown media reference version ${parsed.v}`);
  return { key: parsed.key, message: proto.Message.decode(Buffer.from(parsed.message, 'base64')) };
}

type ContentResult =
  | { content: MessageContent; contextInfo?: proto.IContextInfo | null }
  | { reason: UnsupportedReason; detail: string };

/** Maps the (normalised) content of one message; `key` identifies it for media references. */
function mapContent(message: proto.IMessage, key: WAMessageKey): ContentResult {
  const type = getContentType(message);
  if (!type) {
    const fields = Object.keys(message).filter((k) => (message as Record<string, unknown>)[k] != null);
    if (fields.includes('senderKeyDistributionMessage')) {
      return { reason: 'protocol-message', detail: 'senderKeyDistributionMessage' };
    }
    return { reason: 'no-content', detail: fields.length ? `fields: ${fields.join(',')}` : 'empty message' };
  }
  switch (type) {
    case 'conversation':
      return { content: { type: 'text', text: message.conversation ?? '' } };
    case 'extendedTextMessage': {
      const m = message.extendedTextMessage!;
      return { content: { type: 'text', text: m.text ?? '' }, contextInfo: m.contextInfo };
    }
    case 'imageMessage':
    case 'videoMessage':
    case 'ptvMessage':
    case 'audioMessage':
    case 'documentMessage':
    case 'stickerMessage':
      return mapMedia(message, type, key);
    case 'locationMessage':
    case 'liveLocationMessage': {
      const m = (message.locationMessage ?? message.liveLocationMessage)!;
      if (m.degreesLatitude == null || m.degreesLongitude == null) {
        return { reason: 'malformed', detail: `${type} without coordinates` };
      }
      const content: MessageContent = {
        type: 'location',
        latitude: m.degreesLatitude,
        longitude: m.degreesLongitude,
      };
      const named = message.locationMessage;
      if (named?.name) content.name = named.name;
      if (named?.address) content.address = named.address;
      if (type === 'liveLocationMessage' || named?.isLive) content.live = true;
      return { content, contextInfo: m.contextInfo };
    }
    case 'contactMessage':
    case 'contactsArrayMessage': {
      const list = message.contactMessage
        ? [message.contactMessage]
        : (message.contactsArrayMessage?.contacts ?? []);
      const contacts = list
        .filter((c) => c.vcard)
        .map((c) => ({ vcard: c.vcard!, ...(c.displayName ? { displayName: c.displayName } : {}) }));
      if (contacts.length === 0) return { reason: 'malformed', detail: `${type} without a vcard` };
      const contextInfo = (message.contactMessage ?? message.contactsArrayMessage)?.contextInfo;
      return { content: { type: 'contact', contacts }, contextInfo };
    }
    case 'reactionMessage': {
      const m = message.reactionMessage!;
      if (!m.key?.id) return { reason: 'malformed', detail: 'reaction without a target key' };
      // An empty text is how WhatsApp removes a reaction.
      return { content: { type: 'reaction', targetId: m.key.id, emoji: optionalString(m.text) ?? null } };
    }
    case 'protocolMessage':
      return mapProtocol(message.protocolMessage!, key);
    case 'pollCreationMessage':
    case 'pollCreationMessageV2':
    case 'pollCreationMessageV3':
      return { content: pollContentOf(message)! };
    case 'pollUpdateMessage': {
      // The options are filled in by the adapter, which decrypts the vote (polls.ts).
      const pollMessageId = message.pollUpdateMessage?.pollCreationMessageKey?.id;
      if (!pollMessageId) return { reason: 'malformed', detail: 'poll vote without the poll key' };
      return { content: { type: 'poll_vote', pollMessageId, selectedOptions: [] } };
    }
    default: {
      if (!isInteractiveReplyType(type)) return { reason: 'unknown-content', detail: type };
      const reply = mapInteractiveReply(message, type);
      return 'malformed' in reply ? { reason: 'malformed', detail: reply.malformed } : reply;
    }
  }
}

function mapMedia(message: proto.IMessage, type: string, key: WAMessageKey): ContentResult {
  const media = (message as Record<string, unknown>)[type] as proto.Message.IImageMessage &
    proto.Message.IVideoMessage &
    proto.Message.IAudioMessage &
    proto.Message.IDocumentMessage &
    proto.Message.IStickerMessage;
  // The sender wrote url and directPath: a location off WhatsApp's media hosts is never stored
  // as a download reference (media.ts checks again before fetching). One with no location at
  // all is kept: nothing can be fetched for it, and the download fails for good.
  if (media.url || media.directPath) {
    const location = mediaLocation(media);
    if (!location.ok) return { reason: 'malformed', detail: `${type}: ${location.reason}` };
  }
  const kind = MEDIA_TYPES[type]!;
  const ref: MessageContent & { type: MediaType } = {
    type: kind,
    media: { download: { provider: 'baileys', data: encodeMediaDownload(key, type, media) } },
  };
  const mimetype = optionalString(media.mimetype);
  if (mimetype) ref.media.mimetype = mimetype;
  const size = optionalNumber(media.fileLength);
  if (size !== undefined) ref.media.size = size;
  if (media.fileSha256?.length) ref.media.sha256 = Buffer.from(media.fileSha256).toString('hex');
  const fileName = optionalString(media.fileName);
  if (fileName) ref.media.fileName = fileName;
  if (media.width) ref.media.width = media.width;
  if (media.height) ref.media.height = media.height;
  if (media.seconds) ref.media.seconds = media.seconds;
  const caption = optionalString(media.caption);
  if (caption) ref.caption = caption;
  if (kind === 'audio' && media.ptt) ref.voiceNote = true;
  if ((kind === 'sticker' && media.isAnimated) || (kind === 'video' && media.gifPlayback))
    ref.animated = true;
  return { content: ref, contextInfo: media.contextInfo };
}

function mapProtocol(protocol: proto.Message.IProtocolMessage, key: WAMessageKey): ContentResult {
  const typeName =
    protocol.type == null ? 'untyped' : (ProtocolMessage.Type[protocol.type] ?? String(protocol.type));
  switch (protocol.type) {
    case ProtocolMessage.Type.REVOKE:
      if (!protocol.key?.id) return { reason: 'malformed', detail: 'REVOKE without a target key' };
      return { content: { type: 'delete', targetId: protocol.key.id } };
    case ProtocolMessage.Type.MESSAGE_EDIT: {
      if (!protocol.key?.id) return { reason: 'malformed', detail: 'MESSAGE_EDIT without a target key' };
      const edited = normalizeMessageContent(protocol.editedMessage);
      if (!edited) return { reason: 'malformed', detail: 'MESSAGE_EDIT without content' };
      const inner = mapContent(edited, key);
      if ('reason' in inner) return { reason: inner.reason, detail: `edit: ${inner.detail}` };
      return { content: { type: 'edit', targetId: protocol.key.id, content: inner.content } };
    }
    default:
      // History sync, app-state key share, ephemeral settings...: Baileys acts on these itself.
      return { reason: 'protocol-message', detail: typeName };
  }
}

function meContact(ctx: MappingContext): ContactRef {
  const id = ctx.me?.id ?? ctx.me?.lid;
  if (!id) return { address: '' };
  const contact = contactFrom(id, ctx.me?.id && ctx.me?.lid ? ctx.me.lid : undefined);
  return contact;
}

/** Maps one upserted message. */
export function mapMessage(
  message: WAMessage,
  live: boolean,
  ctx: MappingContext,
  source = 'messages.upsert',
): MappedEvent {
  const key = message.key;
  if (!key?.id || !key.remoteJid)
    return unsupported(ctx, source, 'malformed', 'message key without id or remoteJid', key);
  try {
    const chatJid = key.remoteJid;
    const kind = chatKind(chatJid);
    if (chatJid === 'status@broadcast')
      return unsupported(ctx, source, 'unknown-content', 'status update', key);

    const content = normalizeMessageContent(message.message);
    if (!content) {
      const stub = message.messageStubType;
      if (stub === StubType.CIPHERTEXT) return unsupported(ctx, source, 'undecryptable', 'CIPHERTEXT', key);
      if (stub != null) {
        const group = mapGroupStub(message, live, ctx);
        if (group) return { event: 'group', payload: group };
        return unsupported(ctx, source, 'system-notification', StubType[stub] ?? `stub ${stub}`, key);
      }
      return unsupported(ctx, source, 'no-content', 'message without content', key);
    }
    const mapped = mapContent(content, key);
    if ('reason' in mapped) return unsupported(ctx, source, mapped.reason, mapped.detail, key);

    const fromMe = Boolean(key.fromMe);
    const pushName = fromMe ? undefined : message.pushName;
    let sender: ContactRef;
    const chat: ChatRef = { address: jidNormalizedUser(chatJid), kind };
    if (kind === 'direct') {
      const peer = contactFrom(chatJid, key.remoteJidAlt, pushName);
      chat.contact = peer;
      sender = fromMe ? meContact(ctx) : peer;
    } else if (key.participant) {
      sender = contactFrom(key.participant, key.participantAlt, pushName);
    } else if (fromMe) {
      sender = meContact(ctx);
    } else {
      return unsupported(ctx, source, 'malformed', `${kind} message without participant`, key);
    }

    const inbound: InboundMessage = {
      sessionId: ctx.sessionId,
      providerMessageId: key.id,
      chat,
      sender,
      fromMe,
      timestamp: secondsToDate(message.messageTimestamp) ?? ctx.now(),
      live,
      content: mapped.content,
    };
    const contextInfo = mapped.contextInfo;
    if (contextInfo?.stanzaId) {
      inbound.replyTo = { providerMessageId: contextInfo.stanzaId };
      if (contextInfo.participant) inbound.replyTo.author = jidNormalizedUser(contextInfo.participant);
    }
    if (contextInfo?.isForwarded) inbound.forwarded = true;
    const mentioned = (contextInfo?.mentionedJid ?? []).filter((jid) => typeof jid === 'string' && jid);
    if (mentioned.length > 0) inbound.mentions = mentioned.map((jid) => contactFrom(jid));
    return { event: 'message', payload: inbound };
  } catch (error) {
    return unsupported(ctx, source, 'mapping-error', errorDetail(error), key);
  }
}

/** Maps a `messages.upsert` batch; `notify` is live delivery, `append` is catch-up. */
export function mapUpsert(upsert: BaileysEventMap['messages.upsert'], ctx: MappingContext): MappedEvent[] {
  const live = upsert.type === 'notify';
  return (upsert.messages ?? []).map((message) => mapMessage(message, live, ctx));
}

function statusOf(status: number): Receipt['status'] | undefined {
  switch (status) {
    case Status.ERROR:
      return 'failed';
    case Status.SERVER_ACK:
      return 'sent';
    case Status.DELIVERY_ACK:
      return 'delivered';
    case Status.READ:
    // A played voice note or video has been read.
    case Status.PLAYED:
      return 'read';
    default:
      return undefined;
  }
}

function receiptRecipient(key: WAMessageKey): ContactRef | undefined {
  if (!key.remoteJid) return undefined;
  if (chatKind(key.remoteJid) === 'direct') return contactFrom(key.remoteJid, key.remoteJidAlt);
  return key.participant ? contactFrom(key.participant, key.participantAlt) : undefined;
}

/** Maps `messages.update`: status changes become receipts; edit and revoke copies are skipped (see above). */
export function mapMessageUpdates(updates: WAMessageUpdate[], ctx: MappingContext): MappedEvent[] {
  const source = 'messages.update';
  const events: MappedEvent[] = [];
  for (const { key, update } of updates ?? []) {
    try {
      if (!key?.id || !key.remoteJid || !update) {
        events.push(unsupported(ctx, source, 'malformed', 'update without key or content', key));
        continue;
      }
      if (update.status !== null && update.status !== undefined) {
        const status = statusOf(update.status);
        if (!status) {
          events.push(
            unsupported(
              ctx,
              source,
              'unknown-update',
              `status ${Status[update.status] ?? update.status}`,
              key,
            ),
          );
          continue;
        }
        const receipt: Receipt = {
          sessionId: ctx.sessionId,
          providerMessageId: key.id,
          chat: jidNormalizedUser(key.remoteJid),
          status,
          fromMe: Boolean(key.fromMe),
        };
        const recipient = key.fromMe ? receiptRecipient(key) : undefined;
        if (recipient) receipt.recipient = recipient;
        const at = secondsToDate(update.messageTimestamp);
        if (at) receipt.at = at;
        events.push({ event: 'receipt', payload: receipt });
        continue;
      }
      const isEditCopy = Boolean(update.message?.editedMessage);
      const isRevokeCopy = update.messageStubType === StubType.REVOKE;
      if (isEditCopy || isRevokeCopy) continue;
      const fields = Object.keys(update).filter((k) => (update as Record<string, unknown>)[k] !== undefined);
      events.push(unsupported(ctx, source, 'unknown-update', `fields: ${fields.join(',') || 'none'}`, key));
    } catch (error) {
      events.push(unsupported(ctx, source, 'mapping-error', errorDetail(error), key));
    }
  }
  return events;
}

/** Maps `message-receipt.update` (per-recipient receipts, sent for groups). */
export function mapReceiptUpdates(updates: MessageUserReceiptUpdate[], ctx: MappingContext): MappedEvent[] {
  const source = 'message-receipt.update';
  return (updates ?? []).map(({ key, receipt }): MappedEvent => {
    try {
      if (!key?.id || !key.remoteJid || !receipt) {
        return unsupported(ctx, source, 'malformed', 'receipt without key', key);
      }
      const readAt = secondsToDate(receipt.readTimestamp) ?? secondsToDate(receipt.playedTimestamp);
      const deliveredAt = secondsToDate(receipt.receiptTimestamp);
      const status: Receipt['status'] | undefined = readAt ? 'read' : deliveredAt ? 'delivered' : undefined;
      if (!status) return unsupported(ctx, source, 'unknown-update', 'receipt without a timestamp', key);
      const payload: Receipt = {
        sessionId: ctx.sessionId,
        providerMessageId: key.id,
        chat: jidNormalizedUser(key.remoteJid),
        status,
        fromMe: Boolean(key.fromMe),
        at: (readAt ?? deliveredAt)!,
      };
      if (receipt.userJid) payload.recipient = contactFrom(receipt.userJid);
      return { event: 'receipt', payload };
    } catch (error) {
      return unsupported(ctx, source, 'mapping-error', errorDetail(error), key);
    }
  });
}

const PRESENCE: Record<string, PresenceUpdate['presence']> = {
  available: 'available',
  unavailable: 'unavailable',
  composing: 'typing',
  recording: 'recording',
  paused: 'paused',
};

const CALL_STATUSES = new Set(['offer', 'ringing', 'timeout', 'reject', 'accept', 'terminate']);

/** Maps Baileys' `call` events: one per call status, the caller by PN and/or LID. */
export function mapCalls(calls: BaileysEventMap['call'], ctx: MappingContext): MappedEvent[] {
  return (calls ?? []).map((call): MappedEvent => {
    if (!call?.id || !call.from) return unsupported(ctx, 'call', 'malformed', 'call without id or caller');
    if (!CALL_STATUSES.has(call.status))
      return unsupported(ctx, 'call', 'unknown-update', `call ${String(call.status)}`);
    const date = call.date instanceof Date && !Number.isNaN(call.date.getTime()) ? call.date : ctx.now();
    return {
      event: 'call',
      payload: {
        sessionId: ctx.sessionId,
        callId: call.id,
        caller: contactFrom(
          call.from,
          call.callerPn ? `${call.callerPn.replace(/@.*$/, '')}@s.whatsapp.net` : undefined,
        ),
        from: call.from,
        isVideo: call.isVideo === true,
        isGroup: call.isGroup === true,
        status: call.status as CallEvent['status'],
        offline: call.offline === true,
        at: date,
      },
    };
  });
}

/** Maps `presence.update`: one event per participant. */
export function mapPresence(update: BaileysEventMap['presence.update'], ctx: MappingContext): MappedEvent[] {
  const source = 'presence.update';
  if (!update?.id || !update.presences)
    return [unsupported(ctx, source, 'malformed', 'presence without chat')];
  return Object.entries(update.presences).map(([participant, data]): MappedEvent => {
    const presence = PRESENCE[data?.lastKnownPresence ?? ''];
    if (!presence) {
      return unsupported(ctx, source, 'unknown-update', `presence ${String(data?.lastKnownPresence)}`, {
        remoteJid: update.id,
      });
    }
    const payload: PresenceUpdate = {
      sessionId: ctx.sessionId,
      chat: jidNormalizedUser(update.id),
      contact: contactFrom(participant),
      presence,
    };
    const lastSeen = secondsToDate(data.lastSeen);
    if (lastSeen) payload.lastSeen = lastSeen;
    return { event: 'presence', payload };
  });
}

function bareOr<T>(jid: string | undefined, of: (jid: string) => T | undefined): T | string | undefined {
  if (!jid) return undefined;
  return /^\d+$/.test(jid) ? jid : of(jid);
}

/** Maps `lid-mapping.update`: WhatsApp told us a PN and a LID are one person. */
export function mapLidMapping(
  mapping: BaileysEventMap['lid-mapping.update'],
  ctx: MappingContext,
): MappedEvent {
  const pn = bareOr(mapping?.pn, pnOf);
  const lid = bareOr(mapping?.lid, lidOf);
  if (!pn || !lid)
    return unsupported(ctx, 'lid-mapping.update', 'malformed', 'mapping without a PN and a LID');
  return { event: 'identity', payload: { sessionId: ctx.sessionId, pn, lid } };
}

function errorDetail(error: unknown): string {
  // The name and first line only: an error message must not carry message content into logs.
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.split('\n')[0]!.slice(0, 200);
}

/** The groups mapped events are about (group messages and changes): what the adapter reads on first sight. */
export function groupAddresses(events: readonly MappedEvent[]): string[] {
  const groups: string[] = [];
  for (const mapped of events) {
    if (mapped.event === 'message' && mapped.payload.chat.kind === 'group')
      groups.push(mapped.payload.chat.address);
    if (mapped.event === 'group' && mapped.payload.kind === 'change') groups.push(mapped.payload.group);
  }
  return groups;
}

/** Contacts an event mentions. */
function contactsOf(mapped: MappedEvent): ContactRef[] {
  switch (mapped.event) {
    case 'message': {
      const { sender, chat } = mapped.payload;
      const mentions = mapped.payload.mentions ?? [];
      return [...(chat.contact && chat.contact !== sender ? [sender, chat.contact] : [sender]), ...mentions];
    }
    case 'group': {
      const group = mapped.payload;
      if (group.kind === 'metadata') return group.info.participants;
      const participants = group.change.type === 'participants' ? group.change.participants : [];
      return group.actor ? [group.actor, ...participants] : participants;
    }
    case 'receipt':
      return mapped.payload.recipient ? [mapped.payload.recipient] : [];
    case 'presence':
      return [mapped.payload.contact];
    case 'call':
      return [mapped.payload.caller];
    default:
      return [];
  }
}

/**
 * v7 addresses many chats by LID and the alternate PN is sometimes missing; Baileys keeps the
 * mappings it learns in the key store (`lid-mapping`, `<lid>_reverse` -> PN digits), so look
 * there once per event batch.
 */
export async function resolvePhoneNumbers(
  keys: Pick<SignalKeyStore, 'get'>,
  events: MappedEvent[],
): Promise<void> {
  const missing = events.flatMap(contactsOf).filter((contact) => contact.lid && !contact.pn);
  if (missing.length === 0) return;
  const ids = [...new Set(missing.map((contact) => `${contact.lid}_reverse`))];
  const found = await keys.get('lid-mapping', ids);
  for (const contact of missing) {
    const pn = found[`${contact.lid}_reverse`];
    if (typeof pn === 'string' && pn) contact.pn = pn;
  }
}
