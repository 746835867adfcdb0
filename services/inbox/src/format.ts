import type { Contact, Conversation, LastMessage, Message, MessageStatus } from './api/schemas.ts';

/** The name to show for a contact: the agent's name for them, their WhatsApp name, else the number. */
export function contactName(contact: Contact | undefined): string {
  if (!contact) return '…';
  return (
    contact.displayName ??
    contact.pushName ??
    formatNumber(contact.identities.find((i) => i.kind === 'pn')?.value) ??
    'Unknown contact'
  );
}

/** Who a conversation is with: the API's summary when it sends one, else the fetched contact. */
export function conversationName(c: Conversation, contact: Contact | undefined): string {
  if (c.contact)
    return c.contact.name ?? formatNumber(c.contact.phoneNumber ?? undefined) ?? 'Unknown contact';
  return contactName(contact);
}

/** `5511999990000` -> `+5511999990000` (numbers are stored as digits, E.164 without '+'). */
export function formatNumber(digits: string | undefined): string | undefined {
  if (!digits) return undefined;
  return digits.startsWith('+') ? digits : `+${digits}`;
}

function dayKey(date: Date): string {
  return `${date.getFullYear()}-${date.getMonth()}-${date.getDate()}`;
}

/** The day separator label of `date` relative to `now`: Today, Yesterday, or the date. */
export function dayLabel(date: Date, now: Date = new Date()): string {
  if (dayKey(date) === dayKey(now)) return 'Today';
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (dayKey(date) === dayKey(yesterday)) return 'Yesterday';
  return date.toLocaleDateString(undefined, {
    weekday: 'long',
    day: 'numeric',
    month: 'long',
    ...(date.getFullYear() === now.getFullYear() ? {} : { year: 'numeric' }),
  });
}

/** A thread's rows: a day separator before the first message of each local day. */
export type ThreadRow<M> = { kind: 'day'; key: string; label: string } | { kind: 'message'; message: M };

/** Interleaves day separators with messages sorted oldest first. */
export function withDaySeparators<M extends { createdAt: string }>(
  messages: M[],
  now: Date = new Date(),
): ThreadRow<M>[] {
  const rows: ThreadRow<M>[] = [];
  let last: string | undefined;
  for (const message of messages) {
    const date = new Date(message.createdAt);
    const key = dayKey(date);
    if (key !== last) {
      rows.push({ kind: 'day', key, label: dayLabel(date, now) });
      last = key;
    }
    rows.push({ kind: 'message', message });
  }
  return rows;
}

/** The time of a message, as the list and bubbles show it. */
export function timeOf(iso: string, now: Date = new Date()): string {
  const date = new Date(iso);
  if (dayKey(date) === dayKey(now))
    return date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  return date.toLocaleDateString(undefined, { day: 'numeric', month: 'short' });
}

/** The one-line preview of a message in the conversation list. */
export function previewOf(
  message: (LastMessage & Partial<Pick<Message, 'reaction'>>) | null | undefined,
): string {
  if (!message) return '';
  const media: Record<string, string> = {
    image: '📷 Photo',
    video: '🎥 Video',
    audio: '🎤 Audio',
    document: '📄 Document',
    sticker: 'Sticker',
    location: '📍 Location',
    contact: '👤 Contact',
    reaction: `Reacted ${message.reaction ?? ''}`.trim(),
    template: '📋 Template',
  };
  const prefix = message.direction === 'outbound' ? 'You: ' : '';
  if (message.type === 'text') return prefix + (message.body ?? '');
  // A group event (someone joined, left...) is its own line.
  if (message.type === 'group_event') return message.body ?? '';
  const label = media[message.type] ?? 'Message';
  return prefix + (message.body ? `${label}: ${message.body}` : label);
}

/** Status ticks and their accessible names. */
export function statusTicks(status: MessageStatus | 'sending'): { symbol: string; label: string } {
  switch (status) {
    case 'sending':
    case 'queued':
      return { symbol: '🕓', label: status === 'sending' ? 'sending' : 'queued' };
    case 'sent':
      return { symbol: '✓', label: 'sent' };
    case 'delivered':
      return { symbol: '✓✓', label: 'delivered' };
    case 'read':
      return { symbol: '✓✓', label: 'read' };
    case 'failed':
      return { symbol: '⚠', label: 'failed' };
  }
}

const STATUS_ORDER: Record<MessageStatus, number> = { queued: 0, sent: 1, delivered: 2, read: 3, failed: 4 };

/** Whether `next` may replace `current` (statuses only move forward; events can arrive out of order). */
export function statusAdvances(current: MessageStatus, next: MessageStatus): boolean {
  return STATUS_ORDER[next] > STATUS_ORDER[current];
}
