import { randomBytes } from 'node:crypto';
import { proto, type WAMessage, type WAMessageKey } from '@whiskeysockets/baileys';

/**
 * Inbound messages as Baileys hands them over: the protocol part goes through the real
 * protobuf (encode, then decode, as off the wire), so unset fields read as null and 64-bit
 * fields (fileLength, timestamps) as Long; the key carries Baileys' own additions
 * (`remoteJidAlt`, `participantAlt`, `addressingMode`), which are not protobuf fields.
 */

/** What a test says about a message. */
export interface WireMessageInput {
  key: WAMessageKey;
  /** The content, as for `proto.Message.fromObject`. */
  message?: Record<string, unknown>;
  pushName?: string;
  /** Seconds since the epoch. */
  timestamp?: number;
  stubType?: proto.WebMessageInfo.StubType;
  stubParameters?: string[];
}

/** Builds a WAMessage from real protos. */
export function wireMessage(input: WireMessageInput): WAMessage {
  const { remoteJidAlt, participantAlt, addressingMode, remoteJid, id, fromMe, participant } = input.key;
  const info = proto.WebMessageInfo.fromObject({
    key: { remoteJid, id, fromMe: fromMe ?? false, ...(participant ? { participant } : {}) },
    ...(input.message ? { message: input.message } : {}),
    messageTimestamp: input.timestamp ?? Math.floor(Date.now() / 1000),
    ...(input.pushName ? { pushName: input.pushName } : {}),
    ...(input.stubType !== undefined ? { messageStubType: input.stubType } : {}),
    ...(input.stubParameters ? { messageStubParameters: input.stubParameters } : {}),
  });
  const decoded = proto.WebMessageInfo.decode(proto.WebMessageInfo.encode(info).finish());
  const wireKey = decoded.key ?? {};
  const key: WAMessageKey = {
    remoteJid: wireKey.remoteJid,
    id: wireKey.id,
    fromMe: wireKey.fromMe,
    ...(wireKey.participant ? { participant: wireKey.participant } : {}),
    ...(remoteJidAlt ? { remoteJidAlt } : {}),
    ...(participantAlt ? { participantAlt } : {}),
    addressingMode:
      addressingMode ?? (remoteJid?.endsWith('@lid') || participant?.endsWith('@lid') ? 'lid' : 'pn'),
  };
  return Object.assign(decoded, { key }) as WAMessage;
}

/** A message id shaped like WhatsApp's (3EB0 + hex). */
export function messageId(): string {
  return `3EB0${randomBytes(9).toString('hex').toUpperCase()}`;
}
