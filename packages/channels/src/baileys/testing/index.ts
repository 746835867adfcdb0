/**
 * Test-only: a faithful stand-in for Baileys' socket and real-proto message builders, for this
 * package's tests and for the worker's (`@switchboard/channels/baileys/testing`). Nothing here
 * reaches the network.
 */

/** WhatsApp's group server as the stand-in plays it (queries, notifications). */
export {
  type GroupNotification,
  type SeedParticipant,
  StandInGroupServer,
} from './groups.ts';
/** A Baileys channel on stand-in sockets, with an event log; a worker's channel factory over stand-ins. */
export {
  createStandInChannel,
  type HeldSessionRef,
  type StandInChannel,
  type StandInChannelFactoryOptions,
  type StandInChannelOptions,
  standInChannelFactory,
} from './harness.ts';
/** Builds WAMessages from real protos, as Baileys emits them. */
export { messageId, type WireMessageInput, wireMessage } from './messages.ts';
/** Poll votes encrypted as a voter's client does (for decrypting them through the adapter). */
export { encryptPollVote, pollVoteMessage } from './polls.ts';
/** A scheduler tests advance by hand (reconnect backoff). */
export { ManualScheduler, type ScheduledCall } from './scheduler.ts';
/** Saves paired creds for a session, as if it had been linked before. */
export { seedPairedSession } from './seed.ts';
/** The socket stand-in and its registry. */
export {
  BaileysStandIn,
  type BoomLike,
  boom,
  type PairingIdentity,
  pairedCredsUpdate,
  type SentMessage,
  StandInSocket,
  type UploadedMedia,
} from './stand-in.ts';
