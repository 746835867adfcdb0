// WhatsApp groups in the inbox: the tenant's groups (GET /v1/groups, read once and again when a
// conversation of an unknown contact asks), the marker of a group in the list, the sender line
// and mentions of a group message, the system lines of group events, and the participants.
import { createContext, type ReactNode, useContext, useEffect, useState } from 'react';
import type { ApiClient } from '../api/client.ts';
import { type Group, groupListSchema } from '../api/group-schemas.ts';
import type { Message } from '../api/schemas.ts';
import { useApp } from '../app-context.tsx';
import { formatNumber, timeOf } from '../format.ts';
import '../styles/groups.css';

/** Re-reads the list at most this often when asked about a contact it does not know. */
const REFRESH_MS = 30_000;

/** The tenant's groups by contact id, shared by every component of the page. */
class GroupDirectory {
  private byContact = new Map<string, Group>();
  private loadedAt = 0;
  private loading: Promise<void> | undefined;
  private readonly listeners = new Set<() => void>();
  private readonly client: ApiClient;

  constructor(client: ApiClient) {
    this.client = client;
  }

  get(contactId: string): Group | undefined {
    return this.byContact.get(contactId);
  }

  /** Loads the list when it was never read, or (for an unknown contact) when it is old. */
  want(contactId: string): void {
    if (this.byContact.has(contactId) || this.loading) return;
    if (this.loadedAt !== 0 && Date.now() - this.loadedAt < REFRESH_MS) return;
    this.loading = this.client
      .request('GET', '/v1/groups?limit=500', groupListSchema)
      .then((list) => {
        this.byContact = new Map(list.data.filter((g) => g.contactId).map((g) => [g.contactId!, g]));
        for (const listener of this.listeners) listener();
      })
      .catch(() => undefined)
      .finally(() => {
        this.loadedAt = Date.now();
        this.loading = undefined;
      });
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

const directories = new WeakMap<ApiClient, GroupDirectory>();

/** The group whose conversations are filed under `contactId`, once known; undefined otherwise. */
export function useGroup(contactId: string | undefined): Group | undefined {
  const { client } = useApp();
  let directory = directories.get(client);
  if (!directory) {
    directory = new GroupDirectory(client);
    directories.set(client, directory);
  }
  const [, setVersion] = useState(0);
  useEffect(() => directory.subscribe(() => setVersion((v) => v + 1)), [directory]);
  useEffect(() => {
    if (contactId) directory.want(contactId);
  }, [directory, contactId]);
  return contactId ? directory.get(contactId) : undefined;
}

const GroupContext = createContext<Group | undefined>(undefined);

/** Gives the thread's messages their group (for names of senders and mentions). */
export function GroupScope(props: { contactId: string; children: ReactNode }) {
  const group = useGroup(props.contactId);
  return <GroupContext.Provider value={group}>{props.children}</GroupContext.Provider>;
}

/** The name of a participant: the team's, else as WhatsApp gave it, else the number. */
function participantName(group: Group | undefined, pn: string | null | undefined, fallback?: string | null) {
  const known = pn ? group?.participants.find((p) => p.phone === pn)?.name : undefined;
  return known ?? fallback ?? formatNumber(pn ?? undefined) ?? 'Someone';
}

/** The "Group" tag beside a conversation's name in the list. */
export function GroupMarker(props: { contactId: string }) {
  const group = useGroup(props.contactId);
  if (!group) return null;
  return (
    <span className="group-marker" title={`WhatsApp group, ${group.participants.length} participants`}>
      Group
    </span>
  );
}

/** Who wrote a message of a group conversation (above its body). */
export function GroupSender(props: { message: Message }) {
  const group = useContext(GroupContext);
  const sender = props.message.sender;
  if (!sender || props.message.direction !== 'inbound') return null;
  return <span className="sender">{participantName(group, sender.pn, sender.name)}</span>;
}

/** A body whose `@<digits>` mentions are shown as `@<name>`. */
export function MentionedText(props: { message: Message }) {
  const group = useContext(GroupContext);
  const body = props.message.body ?? '';
  const mentions = props.message.mentions ?? [];
  if (mentions.length === 0) return <>{body}</>;
  const digits = new Set(mentions.map((m) => m.pn).filter((pn): pn is string => !!pn));
  const parts = body.split(/(@\d{7,15})/g);
  return (
    <>
      {parts.map((part, i) => {
        const pn = part.startsWith('@') ? part.slice(1) : undefined;
        if (!pn || !digits.has(pn)) return part;
        return (
          // biome-ignore lint/suspicious/noArrayIndexKey: the parts of one body never move.
          <span key={i} className="mention">
            @{participantName(group, pn)}
          </span>
        );
      })}
    </>
  );
}

/** A group event (joined, left, promoted, subject changed...) as a system line of the thread. */
export function GroupEventLine(props: { message: Message }) {
  const m = props.message;
  return (
    <li className="day" data-message={m.id} role="note" aria-label="Group event">
      {m.body ?? 'Group changed'} · <time dateTime={m.createdAt}>{timeOf(m.createdAt)}</time>
    </li>
  );
}

const ROLE_LABEL = { superadmin: 'creator', admin: 'admin', member: '' } as const;

/** The participants of a group conversation, in the contact panel (nothing for other contacts). */
export function GroupParticipants(props: { contactId: string }) {
  const group = useGroup(props.contactId);
  if (!group) return null;
  return (
    <>
      <h3>Group</h3>
      {group.description && <p className="muted">{group.description}</p>}
      <ul className="participants" aria-label="Participants">
        {group.participants.length === 0 && <li className="muted">Not known yet</li>}
        {group.participants.map((p) => (
          <li key={p.jid}>
            {p.name ?? formatNumber(p.phone ?? undefined) ?? p.jid}
            {p.name && p.phone && <span className="muted"> {formatNumber(p.phone)}</span>}
            {ROLE_LABEL[p.role] && <span className="role">{ROLE_LABEL[p.role]}</span>}
          </li>
        ))}
      </ul>
    </>
  );
}
