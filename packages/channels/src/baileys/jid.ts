import { isJidGroup, jidDecode, jidNormalizedUser } from '@whiskeysockets/baileys';
import type { ChatRef, ContactRef } from '../channel.ts';

/**
 * JIDs, the addresses of the WhatsApp Web protocol: `<digits>@s.whatsapp.net` (a phone number,
 * PN), `<digits>@lid` (a LID, WhatsApp's privacy id), `<id>@g.us` (a group), plus a `:<device>`
 * suffix on a user's devices and `hosted` variants for Cloud-API-hosted business numbers.
 */

/** E.164 without '+': 7 to 15 digits (ITU-T E.164 caps numbers at 15). */
const PHONE_DIGITS = /^[1-9]\d{6,14}$/;

/** Digits of a phone number typed by a person ("+55 (11) 99999-0001"), or undefined when it is not one. */
export function phoneDigits(input: string): string | undefined {
  const digits = input.replace(/[\s()+.-]/g, '');
  return PHONE_DIGITS.test(digits) ? digits : undefined;
}

/** The JID to send to for an outbound address (digits or a JID), or undefined when it is not one. */
export function recipientJid(address: string): string | undefined {
  const trimmed = address.trim();
  if (!trimmed.includes('@')) {
    const digits = phoneDigits(trimmed);
    return digits ? `${digits}@s.whatsapp.net` : undefined;
  }
  const decoded = jidDecode(trimmed);
  if (!decoded?.user) return undefined;
  switch (decoded.server) {
    case 's.whatsapp.net':
    case 'c.us':
      return PHONE_DIGITS.test(decoded.user) ? `${decoded.user}@s.whatsapp.net` : undefined;
    case 'lid':
    case 'g.us':
    case 'newsletter':
    case 'hosted':
    case 'hosted.lid':
      return jidNormalizedUser(trimmed);
    default:
      return undefined;
  }
}

type Identity = { pn?: string; lid?: string };

/** The PN or LID a single JID carries. */
function identityOf(jid: string | null | undefined): Identity {
  if (!jid) return {};
  const decoded = jidDecode(jid);
  if (!decoded?.user) return {};
  switch (decoded.server) {
    case 's.whatsapp.net':
    case 'c.us':
    case 'hosted':
      return { pn: decoded.user };
    case 'lid':
    case 'hosted.lid':
      return { lid: decoded.user };
    default:
      return {};
  }
}

/**
 * A contact from the JID WhatsApp addressed it by and, when present, the alternate JID (v7's
 * `remoteJidAlt` / `participantAlt`: the PN of a LID-addressed sender, or the reverse).
 */
export function contactFrom(jid: string, alt?: string | null, pushName?: string | null): ContactRef {
  const primary = identityOf(jid);
  const other = identityOf(alt);
  const contact: ContactRef = { address: jidNormalizedUser(jid) };
  const pn = primary.pn ?? other.pn;
  const lid = primary.lid ?? other.lid;
  if (pn) contact.pn = pn;
  if (lid) contact.lid = lid;
  if (pushName) contact.pushName = pushName;
  return contact;
}

/** What kind of chat a JID names. */
export function chatKind(jid: string): ChatRef['kind'] {
  if (isJidGroup(jid)) return 'group';
  if (jid.endsWith('@broadcast')) return 'broadcast';
  if (jid.endsWith('@newsletter')) return 'newsletter';
  return 'direct';
}

/** The phone digits of a user JID (device suffix dropped), if it is a PN. */
export function pnOf(jid: string | null | undefined): string | undefined {
  return identityOf(jid).pn;
}

/** The LID digits of a user JID, if it is a LID. */
export function lidOf(jid: string | null | undefined): string | undefined {
  return identityOf(jid).lid;
}
