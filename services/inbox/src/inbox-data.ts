import { useSyncExternalStore } from 'react';
import type { ApiClient } from './api/client.ts';
import {
  type Contact,
  contactSchema,
  type Member,
  type Message,
  memberSchema,
  messageSchema,
  pageOf,
  type RealtimeEvent,
  type Session,
  sessionSchema,
} from './api/schemas.ts';
import { statusAdvances } from './format.ts';

/** How many messages carried by realtime events are kept for `message(id)`. */
const CARRIED_KEPT = 200;

/**
 * What several screens show about the same rows: contacts, each conversation's last message,
 * the team and the sessions. Fetched once, shared, and updated from realtime events, so the list
 * and the thread never disagree and a hundred rows do not fetch the same contact twice.
 */
export class InboxData {
  private readonly contacts = new Map<string, Contact | null>();
  private readonly previews = new Map<string, Message | null>();
  private readonly pending = new Map<string, Promise<unknown>>();
  /** The latest messages realtime events carried, oldest first (at most CARRIED_KEPT). */
  private readonly carried = new Map<string, Message>();
  private members: Member[] | undefined;
  private sessions: Session[] | undefined;
  private readonly listeners = new Set<() => void>();
  private version = 0;
  private readonly client: ApiClient;

  constructor(client: ApiClient) {
    this.client = client;
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };
  getVersion = (): number => this.version;

  private changed(): void {
    this.version += 1;
    for (const listener of this.listeners) listener();
  }

  private once<T>(key: string, load: () => Promise<T>): Promise<T> {
    let promise = this.pending.get(key) as Promise<T> | undefined;
    if (!promise) {
      promise = load().finally(() => this.pending.delete(key));
      this.pending.set(key, promise);
    }
    return promise;
  }

  /** The contact, or undefined while it loads (null: gone). */
  contact(id: string): Contact | null | undefined {
    if (!this.contacts.has(id)) void this.loadContact(id);
    return this.contacts.get(id);
  }

  loadContact(id: string): Promise<Contact | null> {
    return this.once(`contact:${id}`, async () => {
      const contact = await this.client.request('GET', `/v1/contacts/${id}`, contactSchema).catch(() => null);
      this.contacts.set(id, contact);
      this.changed();
      return contact;
    });
  }

  setContact(contact: Contact): void {
    this.contacts.set(contact.id, contact);
    this.changed();
  }

  /** The conversation's last message, undefined while it loads (null: none). */
  preview(conversationId: string): Message | null | undefined {
    if (!this.previews.has(conversationId)) {
      void this.once(`preview:${conversationId}`, async () => {
        const page = await this.client
          .request('GET', `/v1/conversations/${conversationId}/messages?limit=1`, pageOf(messageSchema))
          .catch(() => ({ items: [] }));
        if (!this.previews.has(conversationId)) this.previews.set(conversationId, page.items[0] ?? null);
        this.changed();
      });
    }
    return this.previews.get(conversationId);
  }

  /** The cached last message, without loading. */
  cachedPreview(conversationId: string): Message | null | undefined {
    return this.previews.get(conversationId);
  }

  /** Records `message` as its conversation's last one if it is newer than what is shown. */
  notePreview(message: Message): void {
    const current = this.previews.get(message.conversationId);
    if (current && current.createdAt > message.createdAt) return;
    if (message.type === 'reaction' && current) return;
    this.previews.set(message.conversationId, message);
    this.changed();
  }

  /** One message (shared by the list and the thread when an event names it). */
  message(id: string): Promise<Message> {
    const carried = this.carried.get(id);
    if (carried) return Promise.resolve(carried);
    return this.once(`message:${id}`, async () => {
      const message = await this.client.request('GET', `/v1/messages/${id}`, messageSchema);
      this.notePreview(message);
      return message;
    });
  }

  /** The team, loaded once per sign-in (the assignee picker and names). */
  team(): Member[] | undefined {
    if (!this.members) {
      void this.once('team', async () => {
        this.members = await this.client
          .request('GET', '/v1/team?limit=100', pageOf(memberSchema))
          .then((p) => p.items)
          .catch(() => []);
        this.changed();
      });
    }
    return this.members;
  }

  /** The sessions (the list's session filter). */
  sessionList(): Session[] | undefined {
    if (!this.sessions) void this.reloadSessions();
    return this.sessions;
  }

  reloadSessions(): Promise<void> {
    return this.once('sessions', async () => {
      this.sessions = await this.client
        .request('GET', '/v1/sessions?limit=100', pageOf(sessionSchema))
        .then((p) => p.items)
        .catch(() => this.sessions ?? []);
      this.changed();
    });
  }

  /** Keeps cached rows current from the stream. */
  observe(event: RealtimeEvent): void {
    if ((event.type === 'message.created' || event.type === 'message.updated') && event.data.message) {
      // The event carries the message: `message(id)` answers it without a request.
      const message = event.data.message;
      this.carried.delete(message.id);
      this.carried.set(message.id, message);
      if (this.carried.size > CARRIED_KEPT) this.carried.delete(this.carried.keys().next().value!);
      this.notePreview(message);
    } else if (event.type === 'message.updated') {
      // A status-only update keeps a carried copy current, so `message(id)` never answers it stale.
      const kept = this.carried.get(event.data.messageId);
      if (kept && statusAdvances(kept.status, event.data.status))
        this.carried.set(kept.id, {
          ...kept,
          status: event.data.status,
          failureReason: event.data.reason ?? kept.failureReason ?? null,
        });
    }
    if (event.type === 'session.state' && this.sessions) {
      this.sessions = this.sessions.map((s) =>
        s.id === event.data.sessionId
          ? {
              ...s,
              state: event.data.state,
              stateReason: event.data.reason ?? null,
              phoneNumber: event.data.phoneNumber ?? s.phoneNumber,
            }
          : s,
      );
      if (!this.sessions.some((s) => s.id === event.data.sessionId)) void this.reloadSessions();
      this.changed();
    }
  }
}

/** Re-renders when the shared data changes. */
export function useInboxData(data: InboxData): void {
  useSyncExternalStore(data.subscribe, data.getVersion);
}
