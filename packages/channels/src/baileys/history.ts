// History on pairing: the chats WhatsApp sends a newly linked device (Baileys'
// `messaging-history.set`), kept within the session's window and bound, as `message` events
// flagged `history` (the inbound store files them without live-message effects).
import type { BaileysEventMap, WAMessage } from '@whiskeysockets/baileys';
import { toNumber } from '@whiskeysockets/baileys';
import type { InboundMessage } from '../channel.ts';
import { type MappedEvent, type MappingContext, mapMessage } from './mapping.ts';

/** The most days of history a session may import (the API validates 1..this). */
export const HISTORY_IMPORT_MAX_DAYS = 90;

/**
 * The most messages one pairing imports (default of {@link HistoryImportOptions.maxMessages}):
 * a number with years of busy chats sends tens of thousands; the newest this many are kept.
 */
export const HISTORY_IMPORT_MAX_MESSAGES = 5_000;

/** Options of one {@link HistoryImport}. */
export interface HistoryImportOptions {
  /** Days to import; null: none. Asked once, when the first history chunk arrives. */
  days: () => Promise<number | null>;
  /** The most messages this import keeps (default {@link HISTORY_IMPORT_MAX_MESSAGES}). */
  maxMessages?: number;
}

/** Content kinds an import leaves out: they change or answer earlier messages, not new ones. */
const SKIPPED = new Set(['edit', 'delete', 'poll_vote']);

/**
 * The import of one pairing: what WhatsApp sends the socket that opened right after linking, in
 * chunks (initial bootstrap, recent, push names...). Every chunk is filtered to the messages of
 * direct and group chats no older than `days`, of a kind stored as a new row (no edits, deletes,
 * poll votes; status broadcasts and unsupported kinds are dropped, not reported), newest first
 * within a chunk, until `maxMessages` are taken. Duplicates across chunks are left to the store,
 * which de-duplicates on (session, message id).
 */
export class HistoryImport {
  readonly #options: HistoryImportOptions;
  #days: Promise<number | null> | undefined;
  /** Messages taken so far. */
  taken = 0;

  constructor(options: HistoryImportOptions) {
    this.#options = options;
  }

  /** The window in days (null: the setting is off or could not be read). Asked once. */
  days(): Promise<number | null> {
    this.#days ??= this.#options.days().catch(() => null);
    return this.#days;
  }

  /** The events of one chunk, oldest first (so threads and conversations fill in order). */
  select(set: Pick<BaileysEventMap['messaging-history.set'], 'messages'>, days: number, ctx: MappingContext) {
    const max = this.#options.maxMessages ?? HISTORY_IMPORT_MAX_MESSAGES;
    const since = ctx.now().getTime() - days * 86_400_000;
    const candidates = (set.messages ?? [])
      .map((message) => ({ message, at: secondsOf(message) * 1000 }))
      .filter(({ at }) => at > since)
      .sort((a, b) => b.at - a.at);
    const events: MappedEvent[] = [];
    for (const { message } of candidates) {
      if (this.taken >= max) break;
      const event = historyEvent(message, ctx);
      if (!event) continue;
      events.push(event);
      this.taken++;
    }
    return events.reverse();
  }
}

function secondsOf(message: WAMessage): number {
  const value = message.messageTimestamp;
  return value == null ? 0 : toNumber(value);
}

/** One history message as a `message` event flagged `history`, or undefined when it is not kept. */
export function historyEvent(message: WAMessage, ctx: MappingContext): MappedEvent | undefined {
  const mapped = mapMessage(message, false, ctx, 'messaging-history.set');
  if (mapped.event !== 'message') return undefined;
  const payload: InboundMessage = mapped.payload;
  if (payload.chat.kind !== 'direct' && payload.chat.kind !== 'group') return undefined;
  if (SKIPPED.has(payload.content.type)) return undefined;
  return { event: 'message', payload: { ...payload, history: true } };
}
