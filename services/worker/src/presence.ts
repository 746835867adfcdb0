// Typing indicators: a held session's `presence` events (Baileys' presence.update, for chats the
// worker subscribed to when an agent opened them) become `conversation.typing` realtime events
// for the conversation of that contact on that session, which the inbox's thread shows as
// "typing…". Nothing is stored: presence is momentary.
import type { Channel, PresenceUpdate } from '@switchboard/channels';
import { type Db, withTenant } from '@switchboard/db';
import { publishRealtimeEvent, type RealtimeStreamWriter } from '@switchboard/messaging';

/** How long a chat's presence subscription is trusted before an inbound message renews it (WhatsApp drops them with the connection). */
export const PRESENCE_RESUBSCRIBE_MS = 10 * 60_000;

/** Options for {@link PresenceRelay}. */
export interface PresenceRelayOptions {
  db: Db;
  /** A command-role connection: the realtime stream. */
  redis: RealtimeStreamWriter;
  tenantId: string;
  keyPrefix: string;
  onError?: (error: unknown, context: { sessionId: string; what: string }) => void;
}

/** The typing state a presence shows in the thread; online/offline say nothing about typing. */
const TYPING_STATE: Record<PresenceUpdate['presence'], 'typing' | 'recording' | 'paused'> = {
  typing: 'typing',
  recording: 'recording',
  paused: 'paused',
  available: 'paused',
  unavailable: 'paused',
};

/** See the module comment. */
export class PresenceRelay {
  private readonly options: PresenceRelayOptions;

  constructor(options: PresenceRelayOptions) {
    this.options = options;
  }

  /**
   * Subscribes to `channel`'s presence events, and (channels with presence) subscribes to the
   * presence of each direct chat a customer writes in, at most once per
   * {@link PRESENCE_RESUBSCRIBE_MS} per chat (opening a conversation subscribes too, through the
   * `conversation-opened` command); returns the unsubscribe.
   */
  attach(sessionId: string, channel: Channel): () => void {
    const subscribedAt = new Map<string, number>();
    const offPresence = channel.on('presence', (update) =>
      this.handle(update).then(
        () => undefined,
        (error: unknown) => this.options.onError?.(error, { sessionId, what: 'relay presence' }),
      ),
    );
    const offMessage = channel.on('message', (message) => {
      if (!channel.subscribePresence || message.fromMe || !message.live || message.chat.kind !== 'direct')
        return;
      const now = Date.now();
      const last = subscribedAt.get(message.chat.address);
      if (last !== undefined && now - last < PRESENCE_RESUBSCRIBE_MS) return;
      if (subscribedAt.size >= 10_000) subscribedAt.clear();
      subscribedAt.set(message.chat.address, now);
      channel.subscribePresence(message.chat.address).catch((error: unknown) => {
        subscribedAt.delete(message.chat.address);
        this.options.onError?.(error, { sessionId, what: 'subscribe to presence' });
      });
    });
    return () => {
      offPresence();
      offMessage();
    };
  }

  /** Publishes `update` for its conversation; returns the conversation id, or undefined when there is none. */
  async handle(update: PresenceUpdate): Promise<string | undefined> {
    const { db, tenantId, redis, keyPrefix } = this.options;
    const identities = [
      ...(update.contact.pn ? [{ kind: 'pn' as const, value: update.contact.pn }] : []),
      ...(update.contact.lid ? [{ kind: 'lid' as const, value: update.contact.lid }] : []),
    ];
    if (identities.length === 0) return undefined;
    const conversation = await withTenant(db, tenantId, async (tx) => {
      const identity = await tx.contactIdentity.findFirst({
        where: { OR: identities },
        select: { contactId: true },
      });
      if (!identity) return null;
      return await tx.conversation.findFirst({
        where: { sessionId: update.sessionId, contactId: identity.contactId },
        select: { id: true },
      });
    });
    if (!conversation) return undefined;
    await publishRealtimeEvent(redis, keyPrefix, {
      type: 'conversation.typing',
      at: new Date().toISOString(),
      data: {
        conversationId: conversation.id,
        sessionId: update.sessionId,
        state: TYPING_STATE[update.presence],
      },
    });
    return conversation.id;
  }
}
