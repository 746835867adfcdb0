import type { SocketConfig, UserFacingSocketConfig, WASocket } from '@whiskeysockets/baileys';
import type { Cluster, Redis } from 'ioredis';
import type { AuthStateSealer } from './auth-sealing.ts';
import type { BackoffPolicy } from './backoff.ts';
import type { BaileysLogger } from './logger.ts';
import type { Scheduler } from './scheduler.ts';

/** The part of Baileys' socket the adapter uses; a test stand-in implements exactly this. */
export type BaileysSocket = Pick<
  WASocket,
  | 'ev'
  | 'user'
  | 'sendMessage'
  | 'sendPresenceUpdate'
  | 'requestPairingCode'
  | 'logout'
  | 'end'
  | 'rejectCall'
  | 'groupMetadata'
  | 'groupCreate'
  | 'groupParticipantsUpdate'
  | 'groupUpdateSubject'
  | 'readMessages'
  | 'presenceSubscribe'
>;

/** Makes a socket from Baileys' config; the default is Baileys' own makeWASocket. */
export type SocketFactory = (config: UserFacingSocketConfig) => BaileysSocket;

/** Options for {@link BaileysChannel.create}. */
export interface BaileysChannelOptions {
  sessionId: string;
  /** A command connection to the tenant's Redis (auth state and fence). */
  redis: Redis | Cluster;
  /** The tenant's key prefix, e.g. `sb:acme:`. */
  keyPrefix: string;
  /** The epoch of this worker's claim of the session. */
  epoch: bigint | number;
  /** Seals the auth state at rest (see createRedisAuthState); plaintext without one. */
  sealer?: AuthStateSealer;
  /** Awaited after each auth-state write (the worker waits for replicas there; see createRedisAuthState). */
  afterWrite?: () => Promise<void>;
  /** Makes sockets; tests pass the stand-in's. */
  socketFactory?: SocketFactory;
  /**
   * More Baileys socket config (`getMessage` for message retries, `browser`, `qrTimeout`...).
   * The adapter sets `auth` and `logger`, and defaults `markOnlineOnConnect: false` (so the phone
   * keeps its notifications) and `emitOwnEvents: false` (sent messages come back as the send's
   * result, not as an inbound echo).
   */
  socketConfig?: Omit<Partial<SocketConfig>, 'auth' | 'logger'>;
  /** Baileys' logger; keep it at `warn` or above (lower levels log message content). */
  logger?: BaileysLogger;
  /** Reconnect backoff. */
  backoff?: Partial<BackoffPolicy>;
  /** A connection that stayed open this long resets the backoff to its first step (default 60 s). */
  stableAfterMs?: number;
  /** Pairing rounds (each a socket's QR codes, about 160 s) before giving up as `unpaired` (default 3). */
  maxPairingRounds?: number;
  /**
   * How long a pairing code is valid once issued (default 160 s: it is tied to the socket's
   * pairing window, the first QR's 60 s plus five more of 20 s; a new round brings a new code).
   */
  pairingCodeTtlMs?: number;
  /** How long requestPairingCode waits for the code (default 30 s). */
  pairingCodeTimeoutMs?: number;
  /**
   * The session's history import (history.ts): the days of chats to store from what WhatsApp
   * sends right after pairing, null for none; asked when the first history chunk arrives.
   * Without it nothing is imported.
   */
  historyImportDays?: () => Promise<number | null>;
  /** The most messages one pairing's history import keeps (default 5,000). */
  historyImportMaxMessages?: number;
  scheduler?: Scheduler;
  random?: () => number;
  now?: () => Date;
}
