/**
 * Polls on WhatsApp Web. A poll (`pollCreationMessage`, V2, V3) carries a 32-byte secret in its
 * `messageContextInfo.messageSecret`; every vote (`pollUpdateMessage`) arrives AES-GCM encrypted
 * under a key derived from that secret, the poll's id, its creator's JID and the voter's JID, and
 * names the chosen options by their SHA-256. Baileys 7 no longer decrypts votes itself (its
 * process-message code for it is commented out), so the adapter keeps what a vote needs per
 * poll (the secret, the options, who created it) in the tenant's Redis when the poll is sent or
 * received, and decrypts each vote with Baileys' `decryptPollVote` when it arrives.
 */
import { createHash } from 'node:crypto';
import {
  type AnyMessageContent,
  decryptPollVote,
  jidNormalizedUser,
  type proto,
  type WAMessage,
} from '@whiskeysockets/baileys';
import type { Cluster, Redis } from 'ioredis';
import type { ChannelEventName, ChannelEvents, MessageContent, OutboundContent } from '../channel.ts';
import { UnrecoverableChannelError } from '../errors.ts';

/** A domain event (as mapping.ts's MappedEvent; declared here so the two files do not import each other). */
type MappedEvent = { [E in ChannelEventName]: { event: E; payload: ChannelEvents[E] } }[ChannelEventName];

/** What poll handling needs to know about the session (mapping.ts's MappingContext fits). */
export interface PollContext {
  sessionId: string;
  me?: { id?: string | null; lid?: string | null };
  now: () => Date;
}

/** How long a poll's record is kept (votes on an older poll are reported as undecryptable). */
export const POLL_RECORD_TTL_SECONDS = 90 * 24 * 3600;

/** WhatsApp's limits: 2 to 12 options, option names and the question up to 255 characters. */
export const POLL_LIMITS = { minOptions: 2, maxOptions: 12, nameLength: 255, optionLength: 100 } as const;

/** What decrypting a poll's votes needs, kept per poll. */
export interface PollRecord {
  /** messageContextInfo.messageSecret, base64. */
  secret: string;
  options: string[];
  /** The JIDs the creator may be known by (PN and LID forms), most likely first. */
  creatorJids: string[];
}

/** The Redis key of a poll's record. */
export function pollRecordKey(keyPrefix: string, sessionId: string, pollMessageId: string): string {
  return `${keyPrefix}session:${sessionId}:poll:${pollMessageId}`;
}

/** The poll records of one session in the tenant's Redis. */
export class PollStore {
  readonly #redis: Redis | Cluster;
  readonly #keyPrefix: string;
  readonly #sessionId: string;

  constructor(redis: Redis | Cluster, keyPrefix: string, sessionId: string) {
    this.#redis = redis;
    this.#keyPrefix = keyPrefix;
    this.#sessionId = sessionId;
  }

  /** Keeps `record` for poll `pollMessageId` for {@link POLL_RECORD_TTL_SECONDS}. */
  async save(pollMessageId: string, record: PollRecord): Promise<void> {
    await this.#redis.set(
      pollRecordKey(this.#keyPrefix, this.#sessionId, pollMessageId),
      JSON.stringify(record),
      'EX',
      POLL_RECORD_TTL_SECONDS,
    );
  }

  /** The record of poll `pollMessageId`, or undefined when it was never seen (or expired). */
  async load(pollMessageId: string): Promise<PollRecord | undefined> {
    const raw = await this.#redis.get(pollRecordKey(this.#keyPrefix, this.#sessionId, pollMessageId));
    return raw ? (JSON.parse(raw) as PollRecord) : undefined;
  }
}

/** What Baileys sends for a poll; throws unrecoverable INVALID_CONTENT outside WhatsApp's limits. */
export function toBaileysPoll(content: Extract<OutboundContent, { type: 'poll' }>): AnyMessageContent {
  const invalid = (why: string) =>
    new UnrecoverableChannelError('INVALID_CONTENT', `poll ${why}`, { status: 400 });
  const L = POLL_LIMITS;
  if (!content.name || content.name.length > L.nameLength)
    throw invalid(`name must be 1 to ${L.nameLength} characters`);
  if (content.options.length < L.minOptions || content.options.length > L.maxOptions)
    throw invalid(`needs ${L.minOptions} to ${L.maxOptions} options`);
  if (content.options.some((o) => !o || o.length > L.optionLength))
    throw invalid(`options must be 1 to ${L.optionLength} characters`);
  if (new Set(content.options).size !== content.options.length) throw invalid('options must differ');
  if (
    !Number.isInteger(content.selectableCount) ||
    content.selectableCount < 0 ||
    content.selectableCount > content.options.length
  )
    throw invalid(`selectableCount must be 0 (any) to ${content.options.length}`);
  return { poll: { name: content.name, values: content.options, selectableCount: content.selectableCount } };
}

function pollCreationOf(
  message: proto.IMessage | null | undefined,
): proto.Message.IPollCreationMessage | undefined {
  return (message?.pollCreationMessage ??
    message?.pollCreationMessageV2 ??
    message?.pollCreationMessageV3 ??
    undefined) as proto.Message.IPollCreationMessage | undefined;
}

/** A poll creation message as `poll` content; undefined when `message` is not one. */
export function pollContentOf(message: proto.IMessage): MessageContent | undefined {
  const poll = pollCreationOf(message);
  if (!poll) return undefined;
  return {
    type: 'poll',
    name: poll.name ?? '',
    options: (poll.options ?? []).map((o) => o.optionName ?? ''),
    selectableCount: poll.selectableOptionsCount ?? 0,
  };
}

function meJids(ctx: Pick<PollContext, 'me'>): string[] {
  return [ctx.me?.id, ctx.me?.lid].filter((j): j is string => Boolean(j)).map((j) => jidNormalizedUser(j));
}

/** The JIDs the author of a message with `key` may be known by (PN and LID forms). */
function authorJids(
  key: proto.IMessageKey & { remoteJidAlt?: string | null; participantAlt?: string | null },
  ctx: Pick<PollContext, 'me'>,
): string[] {
  if (key.fromMe) return meJids(ctx);
  const jids = key.participant ? [key.participant, key.participantAlt] : [key.remoteJid, key.remoteJidAlt];
  return jids.filter((j): j is string => Boolean(j)).map((j) => jidNormalizedUser(j));
}

/**
 * The record of poll `message` (ours as sent, or one received), or undefined when it is not a
 * poll or carries no secret.
 */
export function pollRecordOf(message: WAMessage, ctx: Pick<PollContext, 'me'>): PollRecord | undefined {
  const content = message.message;
  const poll = pollCreationOf(content);
  const secret = content?.messageContextInfo?.messageSecret;
  if (!poll || !secret?.length || !message.key) return undefined;
  return {
    secret: Buffer.from(secret).toString('base64'),
    options: (poll.options ?? []).map((o) => o.optionName ?? ''),
    creatorJids: authorJids(message.key, ctx),
  };
}

/** Keeps the records of the polls among `messages` (received, or echoed from the phone). */
export async function rememberPolls(
  store: PollStore,
  messages: WAMessage[],
  ctx: Pick<PollContext, 'me'>,
): Promise<void> {
  for (const message of messages) {
    const record = pollRecordOf(message, ctx);
    if (record && message.key?.id) await store.save(message.key.id, record);
  }
}

/** The votes among `messages`, by their message id (for {@link decryptPollVotes}). */
export function pollVotesOf(messages: WAMessage[]): Map<string, WAMessage> {
  const votes = new Map<string, WAMessage>();
  for (const m of messages) if (m.message?.pollUpdateMessage && m.key?.id) votes.set(m.key.id, m);
  return votes;
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(Buffer.from(text)).digest('hex');
}

/**
 * Fills in the selected options of the `poll_vote` events among `events` by decrypting their
 * votes (`votes`, from {@link pollVotesOf}) with the polls' records; a vote whose poll is unknown
 * or that does not decrypt becomes an `unsupported` event (`undecryptable`).
 */
export async function decryptPollVotes(
  events: MappedEvent[],
  votes: Map<string, WAMessage>,
  store: PollStore,
  ctx: PollContext,
): Promise<void> {
  for (const [index, item] of events.entries()) {
    if (item.event !== 'message' || item.payload.content.type !== 'poll_vote') continue;
    const content = item.payload.content;
    const vote = votes.get(item.payload.providerMessageId);
    const update = vote?.message?.pollUpdateMessage;
    const record = await store.load(content.pollMessageId);
    const selected =
      vote && update?.vote && record
        ? decryptWithCandidates(update.vote, vote, content.pollMessageId, record, ctx)
        : undefined;
    if (!selected) {
      events[index] = {
        event: 'unsupported',
        payload: {
          sessionId: ctx.sessionId,
          source: 'messages.upsert',
          reason: 'undecryptable',
          detail: record ? 'poll vote did not decrypt' : 'poll vote for an unknown poll',
          providerMessageId: item.payload.providerMessageId,
          chat: item.payload.chat.address,
          at: ctx.now(),
        },
      };
      continue;
    }
    content.selectedOptions = selected;
  }
}

/**
 * Decrypts with each (creator, voter) JID pair the records allow (PN or LID forms: which one
 * the voter's client used is not on the wire); AES-GCM's tag rejects every wrong pair.
 */
function decryptWithCandidates(
  encrypted: proto.Message.IPollEncValue,
  vote: WAMessage,
  pollMessageId: string,
  record: PollRecord,
  ctx: PollContext,
): string[] | undefined {
  const pollEncKey = Buffer.from(record.secret, 'base64');
  const byHash = new Map(record.options.map((o) => [sha256Hex(o), o]));
  for (const pollCreatorJid of record.creatorJids) {
    for (const voterJid of authorJids(vote.key, ctx)) {
      let decrypted: proto.Message.PollVoteMessage;
      try {
        decrypted = decryptPollVote(encrypted, {
          pollCreatorJid,
          pollMsgId: pollMessageId,
          pollEncKey,
          voterJid,
        });
      } catch {
        continue;
      }
      return (decrypted.selectedOptions ?? [])
        .map((hash) => byHash.get(Buffer.from(hash).toString('hex')))
        .filter((o): o is string => o !== undefined);
    }
  }
  return undefined;
}
