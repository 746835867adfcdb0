import { randomBytes } from 'node:crypto';
import {
  type BaileysEventMap,
  type GroupMetadata,
  type GroupParticipant,
  generateMessageIDV2,
  jidNormalizedUser,
  type ParticipantAction,
  proto,
  type WAMessage,
} from '@whiskeysockets/baileys';
import { wireMessage } from './messages.ts';

/**
 * WhatsApp's group server as the stand-in socket plays it: the groups the account is in, the
 * answers of Baileys' group queries (`groupMetadata`, `groupCreate`, `groupParticipantsUpdate`,
 * `groupUpdateSubject`, in the shapes Baileys' `extractGroupMetadata` and its participants
 * parser return), and the group notifications, delivered as Baileys delivers them: the stub
 * message (`messageStubType` GROUP_*, JSON participants in `messageStubParameters`) upserted with
 * type `append`, then the event Baileys' processMessage derives from it (`group-participants.update`
 * or `groups.update`; `groups.upsert` for a creation).
 */

const StubType = proto.WebMessageInfo.StubType;

/** The parts of the stand-in socket the group server uses. */
export interface GroupServerSocket {
  readonly ev: { emit<E extends keyof BaileysEventMap>(event: E, data: BaileysEventMap[E]): boolean };
  /** The account's own JID (creds.me.id). */
  me(): string;
  /** Throws the Boom Baileys throws on a closed socket. */
  assertOpen(): void;
  /** The Boom-shaped error Baileys throws with this status (stand-in.ts `boom`). */
  boom(message: string, statusCode: number): Error;
}

/** A participant to seed: a JID (PN or LID, with its alternate) and a role. */
export interface SeedParticipant {
  jid: string;
  /** The PN of a LID participant (or the LID of a PN one). */
  alt?: string;
  admin?: 'admin' | 'superadmin' | null;
}

/** One group notification as a test describes it. */
export interface GroupNotification {
  group: string;
  /** Who did it (a JID), absent for server-side changes. */
  author?: string;
  authorAlt?: string;
  /** The notification id (default: a fresh one). */
  id?: string;
  /** Seconds since the epoch (default: now). */
  at?: number;
  change:
    | { action: 'add' | 'remove' | 'leave' | 'promote' | 'demote'; participants: SeedParticipant[] }
    | { subject: string };
}

function participantOf(seed: SeedParticipant): GroupParticipant {
  const isLid = seed.jid.endsWith('@lid');
  return {
    id: seed.jid,
    ...(seed.alt ? (isLid ? { phoneNumber: seed.alt } : { lid: seed.alt }) : {}),
    admin: seed.admin ?? null,
  };
}

/** See the module comment. */
export class StandInGroupServer {
  /** The groups the account is in, by JID. */
  readonly groups = new Map<string, GroupMetadata>();
  /** Participants (PN JIDs) WhatsApp refuses to add, with the error code it answers (e.g. '403'). */
  readonly refusals = new Map<string, string>();
  /** Every group query Baileys would have sent, in order. */
  readonly queries: { type: string; group: string; participants?: string[]; subject?: string }[] = [];
  readonly #socket: GroupServerSocket;

  constructor(socket: GroupServerSocket) {
    this.#socket = socket;
  }

  /** Puts the account in a group (as if it had been added before this connection). */
  seed(options: {
    id?: string;
    subject: string;
    owner?: string;
    participants: SeedParticipant[];
  }): GroupMetadata {
    const id = options.id ?? `120363${randomBytes(6).readUIntBE(0, 6).toString().padStart(12, '0')}@g.us`;
    const participants = options.participants.map(participantOf);
    const metadata: GroupMetadata = {
      id,
      subject: options.subject,
      owner: options.owner,
      creation: Math.floor(Date.now() / 1000) - 3600,
      participants,
      size: participants.length,
      addressingMode: 'pn' as GroupMetadata['addressingMode'],
    };
    this.groups.set(id, metadata);
    return metadata;
  }

  // --- Baileys' group queries ---

  async groupMetadata(jid: string): Promise<GroupMetadata> {
    this.#socket.assertOpen();
    this.queries.push({ type: 'metadata', group: jid });
    const group = this.groups.get(jidNormalizedUser(jid));
    // What extractGroupMetadata throws for the server's <error code="404" text="item-not-found"/>.
    if (!group) throw this.#socket.boom('item-not-found', 404);
    return structuredClone(group);
  }

  async groupCreate(subject: string, participants: string[]): Promise<GroupMetadata> {
    this.#socket.assertOpen();
    this.queries.push({ type: 'create', group: '@g.us', participants, subject });
    const me = jidNormalizedUser(this.#socket.me());
    const metadata = this.seed({
      subject,
      owner: me,
      participants: [
        { jid: me, admin: 'superadmin' },
        ...participants.filter((p) => !this.refusals.has(p)).map((jid) => ({ jid })),
      ],
    });
    metadata.creation = Math.floor(Date.now() / 1000);
    // WhatsApp then sends the group's `create` notification.
    process.nextTick(() => {
      this.#socket.ev.emit('messages.upsert', {
        messages: [this.#stub(metadata.id, StubType.GROUP_CREATE, [subject], { author: me })],
        type: 'append',
      });
      this.#socket.ev.emit('groups.upsert', [{ ...structuredClone(metadata), author: me }]);
    });
    return structuredClone(metadata);
  }

  async groupParticipantsUpdate(
    jid: string,
    participants: string[],
    action: ParticipantAction,
  ): Promise<{ status: string; jid: string | undefined; content: never }[]> {
    this.#socket.assertOpen();
    this.queries.push({ type: action, group: jid, participants });
    const group = this.groups.get(jidNormalizedUser(jid));
    if (!group) throw this.#socket.boom('item-not-found', 404);
    const answer = participants.map((p) => ({
      status: this.refusals.get(p) ?? '200',
      jid: p,
      content: undefined as never,
    }));
    const done = answer.filter((a) => a.status === '200').map((a) => ({ jid: a.jid }));
    if (done.length > 0 && action !== 'modify') {
      const me = jidNormalizedUser(this.#socket.me());
      process.nextTick(() => this.notify({ group: jid, author: me, change: { action, participants: done } }));
    }
    return answer;
  }

  async groupUpdateSubject(jid: string, subject: string): Promise<void> {
    this.#socket.assertOpen();
    this.queries.push({ type: 'subject', group: jid, subject });
    if (!this.groups.has(jidNormalizedUser(jid))) throw this.#socket.boom('item-not-found', 404);
    const me = jidNormalizedUser(this.#socket.me());
    process.nextTick(() => this.notify({ group: jid, author: me, change: { subject } }));
  }

  // --- notifications, driven by tests (and by the queries above) ---

  /** Delivers a group notification the way Baileys does (see the module comment); applies it to the group. */
  notify(notification: GroupNotification): void {
    const group = jidNormalizedUser(notification.group);
    const metadata = this.groups.get(group);
    const { change } = notification;
    if ('subject' in change) {
      if (metadata) metadata.subject = change.subject;
      this.#socket.ev.emit('messages.upsert', {
        messages: [this.#stub(group, StubType.GROUP_CHANGE_SUBJECT, [change.subject], notification)],
        type: 'append',
      });
      this.#socket.ev.emit('groups.update', [
        {
          id: group,
          subject: change.subject,
          ...(notification.author ? { author: notification.author } : {}),
        },
      ]);
      return;
    }
    const participants = change.participants.map(participantOf);
    if (metadata) this.#apply(metadata, change.action, participants);
    const stub = {
      add: StubType.GROUP_PARTICIPANT_ADD,
      remove: StubType.GROUP_PARTICIPANT_REMOVE,
      leave: StubType.GROUP_PARTICIPANT_LEAVE,
      promote: StubType.GROUP_PARTICIPANT_PROMOTE,
      demote: StubType.GROUP_PARTICIPANT_DEMOTE,
    }[change.action];
    const parameters = participants.map((p) => JSON.stringify(p));
    this.#socket.ev.emit('messages.upsert', {
      messages: [this.#stub(group, stub, parameters, notification)],
      type: 'append',
    });
    this.#socket.ev.emit('group-participants.update', {
      id: group,
      author: notification.author ?? '',
      ...(notification.authorAlt ? { authorPn: notification.authorAlt } : {}),
      participants,
      action: change.action === 'leave' ? 'remove' : change.action,
    });
  }

  #apply(metadata: GroupMetadata, action: string, participants: GroupParticipant[]): void {
    const same = (a: GroupParticipant, b: GroupParticipant) =>
      jidNormalizedUser(a.id) === jidNormalizedUser(b.id);
    if (action === 'add') {
      metadata.participants = [
        ...metadata.participants.filter((p) => !participants.some((c) => same(p, c))),
        ...participants,
      ];
    } else if (action === 'remove' || action === 'leave') {
      metadata.participants = metadata.participants.filter((p) => !participants.some((c) => same(p, c)));
    } else {
      metadata.participants = metadata.participants.map((p) =>
        participants.some((c) => same(p, c)) ? { ...p, admin: action === 'promote' ? 'admin' : null } : p,
      );
    }
    metadata.size = metadata.participants.length;
  }

  /** The stub message Baileys' handleGroupNotification builds (then upserts with type `append`). */
  #stub(
    group: string,
    stubType: number,
    parameters: string[],
    from: { author?: string; authorAlt?: string; id?: string; at?: number },
  ): WAMessage {
    const me = jidNormalizedUser(this.#socket.me());
    return wireMessage({
      key: {
        remoteJid: group,
        id: from.id ?? generateMessageIDV2(),
        fromMe: from.author ? jidNormalizedUser(from.author) === me : false,
        ...(from.author ? { participant: from.author } : {}),
        ...(from.authorAlt ? { participantAlt: from.authorAlt } : {}),
      },
      timestamp: from.at ?? Math.floor(Date.now() / 1000),
      stubType,
      stubParameters: parameters,
    });
  }
}
