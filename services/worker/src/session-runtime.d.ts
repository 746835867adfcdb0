import type { Channel } from '@switchboard/channels';
import type { Db } from '@switchboard/db';
import { type OwnedSession } from '@switchboard/sessions';
import type { MetricsRegistry } from '@switchboard/telemetry';
import type { Redis } from 'ioredis';
/**
 * The worker's sessions: the claimer decides which sessions this worker holds; for each held
 * session a channel (a Baileys socket, or a Cloud API client) is opened, its state changes are
 * persisted under the claim's epoch and appended to the tenant's realtime stream, and its QR and
 * pairing codes are stored with their TTL for the API and inbox (packages/messaging/contracts.ts
 * has the key and event formats). A state write refused as stale means a newer owner exists: the channel
 * is closed at once.
 */
/** Builds the channel of a session this worker now holds (epoch-fenced). */
export type ChannelFactory = (session: OwnedSession) => Promise<Channel>;
/**
 * Runs alongside a held session's open channel (the message pipelines: inbound storage, the
 * session's outbound queue consumer); returns how to stop it. Stopped before the channel closes
 * on release, so nothing is sent through a socket that is going away.
 */
export type SessionAttachment = (session: OwnedSession, channel: Channel) => Promise<() => Promise<void>>;
/** Options for SessionRuntime. */
export interface SessionRuntimeOptions {
  redis: Redis;
  db: Db;
  tenantId: string;
  /** The tenant's Redis key prefix, e.g. `sb:acme:`. */
  prefix: string;
  workerId: string;
  maxSessions: number;
  leaseTtlMs?: number;
  createChannel: ChannelFactory;
  /** What runs with each open channel (see {@link SessionAttachment}). */
  attach?: SessionAttachment;
  /**
   * Consume each held session's command queue (logout, pairing code) on this `worker`-role
   * connection; without it commands wait for a worker that does.
   */
  commands?: {
    connection: Redis;
    handOverDelayMs?: number;
  };
  metrics?: MetricsRegistry;
  onError?: (
    error: unknown,
    context: {
      sessionId?: string;
      what: string;
    },
  ) => void;
}
/** The sessions of one worker process. */
export declare class SessionRuntime {
  private readonly options;
  private readonly claimer;
  private readonly channels;
  private readonly detachers;
  private readonly commandConsumers;
  constructor(options: SessionRuntimeOptions);
  /** Starts claiming. */
  start(): void;
  /** Sessions with an open channel on this worker. */
  sessions(): string[];
  /** The channel of a held session (the outbound pipeline sends through it). */
  channel(sessionId: string): Channel | undefined;
  /** SIGTERM: close every channel, record the hand-over, release the leases so others claim at once. */
  stop(): Promise<void>;
  private open;
  /** Stops what runs with the session's channel (commands first, then the attachment), before it closes. */
  private detach;
  private close;
  private persistState;
  private publishChallenge;
  /** False when the write was refused as stale. */
  private writeState;
}
