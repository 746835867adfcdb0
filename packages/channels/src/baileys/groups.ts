import {
  type BaileysEventMap,
  type GroupParticipant as BaileysParticipant,
  type GroupMetadata,
  jidNormalizedUser,
  proto,
  toNumber,
  type WAMessage,
} from '@whiskeysockets/baileys';
import type { ContactRef } from '../channel.ts';
import { type ChannelError, UnrecoverableChannelError } from '../errors.ts';
import type {
  ChannelGroups,
  GroupChange,
  GroupEvent,
  GroupInfo,
  GroupParticipant,
  GroupParticipantResult,
  GroupRole,
} from '../groups.ts';
import { chatKind, contactFrom, phoneDigits, pnOf } from './jid.ts';
import { statusCodeOf } from './lifecycle.ts';
import type { BaileysSocket } from './options.ts';
import { sendError } from './outbound.ts';

/**
 * A failed group query as a ChannelError: WhatsApp's `item-not-found` (404: no such group, or this
 * number is not in it) and `not-authorized` / `forbidden` (401/403 on a group query: this number is
 * not an admin) are unrecoverable with that status; the rest as for sends.
 */
function groupError(error: unknown, sessionId: string, group?: string): ChannelError {
  const code = statusCodeOf(error);
  const which = group ? `group ${group}` : 'the group';
  if (code === 404)
    return new UnrecoverableChannelError(
      'SEND_FAILED',
      `${which} does not exist or this number is not in it`,
      {
        status: 404,
        cause: error,
      },
    );
  if (code === 403 || (code === 401 && group))
    return new UnrecoverableChannelError('SEND_FAILED', `this number is not an admin of ${which}`, {
      status: 403,
      cause: error,
    });
  return sendError(error, sessionId);
}

/**
 * Groups through Baileys: the group notifications (stub messages) as `group` change events, the
 * metadata cache Baileys' sends read (`cachedGroupMetadata`, so a send to a group does not query
 * WhatsApp for its participants each time), the group's info read on first sight, and the
 * {@link ChannelGroups} operations.
 *
 * Baileys turns every group notification into a stub message (`messageStubType` GROUP_*, the
 * notification's id as `key.id`) upserted with type `append`, then derives `groups.update` /
 * `group-participants.update` from it. The stub carries the id and the time, so the domain event
 * comes from it (one per notification, de-duplicated on its id); the derived events keep the cache
 * current.
 */

const StubType = proto.WebMessageInfo.StubType;

/** A participant of a stub's parameters: Baileys JSON-encodes `{ id, phoneNumber?, lid?, admin? }`. */
function participantOfParameter(parameter: string): ContactRef | undefined {
  try {
    const parsed = JSON.parse(parameter) as { id?: unknown; phoneNumber?: unknown; lid?: unknown };
    if (typeof parsed?.id !== 'string') return undefined;
    const alt =
      typeof parsed.phoneNumber === 'string'
        ? parsed.phoneNumber
        : typeof parsed.lid === 'string'
          ? parsed.lid
          : undefined;
    return contactFrom(parsed.id, alt);
  } catch {
    // GROUP_PARTICIPANT_CHANGE_NUMBER straight from the notification carries bare JIDs.
    return parameter.includes('@') ? contactFrom(parameter) : undefined;
  }
}

const PARTICIPANT_STUBS: Partial<
  Record<number, 'add' | 'remove' | 'leave' | 'promote' | 'demote' | 'modify'>
> = {
  [StubType.GROUP_PARTICIPANT_ADD]: 'add',
  [StubType.GROUP_PARTICIPANT_INVITE]: 'add',
  [StubType.GROUP_PARTICIPANT_ADD_REQUEST_JOIN]: 'add',
  [StubType.GROUP_PARTICIPANT_REMOVE]: 'remove',
  [StubType.GROUP_PARTICIPANT_LEAVE]: 'leave',
  [StubType.GROUP_PARTICIPANT_PROMOTE]: 'promote',
  [StubType.GROUP_PARTICIPANT_DEMOTE]: 'demote',
  [StubType.GROUP_PARTICIPANT_CHANGE_NUMBER]: 'modify',
};

/** The change a group stub message announces, or undefined for stubs that are not one. */
function changeOfStub(stub: number, parameters: string[]): GroupChange | undefined {
  const action = PARTICIPANT_STUBS[stub];
  if (action) {
    const participants = parameters.map(participantOfParameter).filter((p): p is ContactRef => !!p);
    return participants.length > 0 ? { type: 'participants', action, participants } : undefined;
  }
  switch (stub) {
    case StubType.GROUP_CHANGE_SUBJECT:
      return parameters[0] ? { type: 'subject', subject: parameters[0] } : undefined;
    case StubType.GROUP_CHANGE_DESCRIPTION:
      return { type: 'description', description: parameters[0] || null };
    case StubType.GROUP_CREATE:
      return { type: 'created', subject: parameters[0] ?? '' };
    default:
      return undefined;
  }
}

/**
 * Maps a stub message of a group chat (a group notification) to a `group` change event;
 * undefined when the stub is not a group change this adapter maps (the caller reports it).
 */
export function mapGroupStub(
  message: WAMessage,
  live: boolean,
  ctx: { sessionId: string; now: () => Date },
): GroupEvent | undefined {
  const key = message.key;
  const stub = message.messageStubType;
  if (!key?.id || !key.remoteJid || stub == null || chatKind(key.remoteJid) !== 'group') return undefined;
  const change = changeOfStub(stub, message.messageStubParameters ?? []);
  if (!change) return undefined;
  const seconds = message.messageTimestamp == null ? 0 : toNumber(message.messageTimestamp);
  const payload: Extract<GroupEvent, { kind: 'change' }> = {
    kind: 'change',
    sessionId: ctx.sessionId,
    group: jidNormalizedUser(key.remoteJid),
    eventId: key.id,
    change,
    live,
    at: seconds > 0 ? new Date(seconds * 1000) : ctx.now(),
  };
  const actorJid = key.participant ?? message.participant;
  if (actorJid) payload.actor = contactFrom(actorJid, key.participantAlt);
  return payload;
}

function roleOf(participant: BaileysParticipant): GroupRole {
  if (participant.admin === 'superadmin' || participant.isSuperAdmin) return 'superadmin';
  if (participant.admin === 'admin' || participant.isAdmin) return 'admin';
  return 'member';
}

/** Baileys' group metadata as the port's {@link GroupInfo}. */
export function groupInfoOf(metadata: GroupMetadata): GroupInfo {
  const info: GroupInfo = {
    address: jidNormalizedUser(metadata.id),
    participants: (metadata.participants ?? []).map(
      (p): GroupParticipant => ({
        ...contactFrom(p.id, p.phoneNumber ?? p.lid),
        ...(p.notify ? { pushName: p.notify } : {}),
        role: roleOf(p),
      }),
    ),
  };
  if (metadata.subject) info.subject = metadata.subject;
  if (metadata.desc) info.description = metadata.desc;
  if (metadata.owner) info.owner = contactFrom(metadata.owner, metadata.ownerPn);
  if (metadata.creation) info.createdAt = new Date(metadata.creation * 1000);
  return info;
}

function sameUser(a: string | undefined, b: string | undefined): boolean {
  return !!a && !!b && jidNormalizedUser(a) === jidNormalizedUser(b);
}

/**
 * The group metadata Baileys' sends read through `cachedGroupMetadata`: filled by what the
 * socket announces (`groups.upsert`, `groups.update`, `group-participants.update`) and by
 * {@link BaileysGroups.metadata}. Bounded: at most `max` groups, the least recently stored
 * dropped first (a send to a dropped group queries WhatsApp, as Baileys does without a cache).
 */
export class GroupMetadataCache {
  readonly #groups = new Map<string, GroupMetadata>();
  readonly #max: number;

  constructor(max = 5_000) {
    this.#max = max;
  }

  /** Baileys' `cachedGroupMetadata` hook. */
  readonly hook = async (jid: string): Promise<GroupMetadata | undefined> => this.get(jid);

  get(jid: string): GroupMetadata | undefined {
    return this.#groups.get(jidNormalizedUser(jid));
  }

  has(jid: string): boolean {
    return this.#groups.has(jidNormalizedUser(jid));
  }

  set(metadata: GroupMetadata): void {
    const jid = jidNormalizedUser(metadata.id);
    this.#groups.delete(jid);
    this.#groups.set(jid, metadata);
    while (this.#groups.size > this.#max) this.#groups.delete(this.#groups.keys().next().value!);
  }

  /** `groups.update`: merges what changed into a cached group (unknown groups stay unknown). */
  update(updates: BaileysEventMap['groups.update']): void {
    for (const update of updates ?? []) {
      const cached = update?.id ? this.get(update.id) : undefined;
      if (!cached) continue;
      const { author: _a, authorPn: _p, authorUsername: _u, ...fields } = update;
      this.set({ ...cached, ...fields, id: cached.id });
    }
  }

  /** `group-participants.update`: applies the change to a cached group's participants. */
  participants(update: BaileysEventMap['group-participants.update']): void {
    const cached = update?.id ? this.get(update.id) : undefined;
    if (!cached) return;
    const changed = update.participants ?? [];
    const matches = (p: BaileysParticipant, c: BaileysParticipant) =>
      sameUser(p.id, c.id) ||
      sameUser(p.phoneNumber, c.phoneNumber ?? c.id) ||
      sameUser(p.lid, c.lid ?? c.id);
    let participants = cached.participants ?? [];
    switch (update.action) {
      case 'add':
        participants = [
          ...participants.filter((p) => !changed.some((c) => matches(p, c))),
          ...changed.map((c) => ({ ...c, admin: null })),
        ];
        break;
      case 'remove':
        participants = participants.filter((p) => !changed.some((c) => matches(p, c)));
        break;
      case 'promote':
      case 'demote':
        participants = participants.map((p) =>
          changed.some((c) => matches(p, c))
            ? { ...p, admin: update.action === 'promote' ? ('admin' as const) : null }
            : p,
        );
        break;
      default:
        // `modify` (a participant changed number): the next metadata read has the new one.
        this.#groups.delete(jidNormalizedUser(update.id));
        return;
    }
    this.set({ ...cached, participants, size: participants.length });
  }
}

/** What {@link BaileysGroups} needs from its adapter. */
export interface BaileysGroupsOptions {
  sessionId: string;
  cache: GroupMetadataCache;
  /** The connected socket, after the fence check; rejects like send() when there is none. */
  socket: (what: string) => Promise<BaileysSocket>;
  /** Emits a `group` metadata event. */
  emit: (event: GroupEvent) => void;
  now: () => Date;
  /** Reports a failed first-sight read (never thrown: a group message is stored without it). */
  onError: (error: unknown, group: string) => void;
}

/** A participant's JID for a group operation: only phone numbers are accepted. */
function participantJid(input: string): { jid: string; pn: string } {
  const digits = input.includes('@') ? pnOf(input) : phoneDigits(input);
  if (!digits)
    throw new UnrecoverableChannelError(
      'INVALID_NUMBER',
      `participant ${JSON.stringify(input)} is not a phone number`,
      {
        status: 400,
      },
    );
  return { jid: `${digits}@s.whatsapp.net`, pn: digits };
}

function groupJid(group: string): string {
  const jid = jidNormalizedUser(group.trim());
  if (chatKind(jid) !== 'group')
    throw new UnrecoverableChannelError('INVALID_NUMBER', `${JSON.stringify(group)} is not a group address`, {
      status: 400,
    });
  return jid;
}

/** The {@link ChannelGroups} of a Baileys channel, and the group info read on first sight. */
export class BaileysGroups implements ChannelGroups {
  readonly #options: BaileysGroupsOptions;
  readonly #reading = new Map<string, Promise<GroupInfo>>();

  constructor(options: BaileysGroupsOptions) {
    this.#options = options;
  }

  async create(subject: string, participants: string[]): Promise<GroupInfo> {
    const text = subject.trim();
    if (!text)
      throw new UnrecoverableChannelError('INVALID_CONTENT', 'a group needs a subject', { status: 400 });
    const jids = participants.map((p) => participantJid(p).jid);
    const socket = await this.#options.socket('create group');
    let metadata: GroupMetadata;
    try {
      metadata = await socket.groupCreate(text, jids);
    } catch (error) {
      throw groupError(error, this.#options.sessionId);
    }
    return this.#store(metadata);
  }

  async metadata(group: string): Promise<GroupInfo> {
    const jid = groupJid(group);
    const socket = await this.#options.socket('read group');
    let metadata: GroupMetadata;
    try {
      metadata = await socket.groupMetadata(jid);
    } catch (error) {
      throw groupError(error, this.#options.sessionId, jid);
    }
    return this.#store(metadata);
  }

  async updateParticipants(
    group: string,
    participants: string[],
    action: 'add' | 'remove' | 'promote' | 'demote',
  ): Promise<GroupParticipantResult[]> {
    const jid = groupJid(group);
    const wanted = participants.map(participantJid);
    const socket = await this.#options.socket(`${action} participants`);
    let answer: Awaited<ReturnType<BaileysSocket['groupParticipantsUpdate']>>;
    try {
      answer = await socket.groupParticipantsUpdate(
        jid,
        wanted.map((w) => w.jid),
        action,
      );
    } catch (error) {
      throw groupError(error, this.#options.sessionId, jid);
    }
    return answer.map((row) => {
      const pn = pnOf(row.jid);
      return { address: row.jid ?? '', ...(pn ? { pn } : {}), status: Number(row.status) || 0 };
    });
  }

  async updateSubject(group: string, subject: string): Promise<void> {
    const jid = groupJid(group);
    const text = subject.trim();
    if (!text)
      throw new UnrecoverableChannelError('INVALID_CONTENT', 'a group needs a subject', { status: 400 });
    const socket = await this.#options.socket('change group subject');
    try {
      await socket.groupUpdateSubject(jid, text);
    } catch (error) {
      throw groupError(error, this.#options.sessionId, jid);
    }
  }

  /**
   * Reads the info of the `groups` (addresses) the cache does not know yet (once per group at a
   * time), and emits each as a `group` metadata event. Never throws.
   */
  noticeGroups(groups: Iterable<string>): void {
    for (const group of new Set(groups)) {
      if (this.#options.cache.has(group) || this.#reading.has(group)) continue;
      const reading = this.metadata(group);
      this.#reading.set(group, reading);
      reading
        .catch((error: unknown) => this.#options.onError(error, group))
        .finally(() => this.#reading.delete(group));
    }
  }

  #store(metadata: GroupMetadata): GroupInfo {
    this.#options.cache.set(metadata);
    const info = groupInfoOf(metadata);
    this.#options.emit({
      kind: 'metadata',
      sessionId: this.#options.sessionId,
      group: info.address,
      info,
      at: this.#options.now(),
    });
    return info;
  }
}
