/**
 * The channel of each session this worker holds, by the session's row: Baileys (WhatsApp Web;
 * its auth state in the tenant's Redis, fenced by the claim's epoch) or the Cloud API (the
 * session's declared phone number id and credentials, from the WhatsAppTenant's
 * `spec.sessions`). Also the map Meta's webhook payloads are routed with.
 */
import {
  type AuthStateSealer,
  authStateKeys,
  BaileysChannel,
  type BaileysLogger,
  type Channel,
  CloudApiChannel,
  readFence,
  type SocketFactory,
} from '@switchboard/channels';
import { type Db, withTenant } from '@switchboard/db';
import type { SecretResolver } from '@switchboard/secrets';
import { type OwnedSession, type ReplicaWaitPolicy, waitForReplicas } from '@switchboard/sessions';
import type { Logger } from '@switchboard/telemetry';
import type { Redis } from 'ioredis';
import type { DeclaredSession } from './declared-sessions.ts';

/** Options for {@link channelOpener}. */
export interface ChannelOpenerOptions {
  db: Db;
  tenantId: string;
  /** The command connection (Baileys auth state and fences). */
  redis: Redis;
  keyPrefix: string;
  secrets: SecretResolver;
  logger: Logger;
  /** The declared sessions by name (Cloud API sessions need theirs). */
  declared: ReadonlyMap<string, DeclaredSession>;
  /** Graph's base URL and version (`CLOUD_API_BASE_URL`, `CLOUD_API_GRAPH_VERSION`). */
  cloudApi: { baseUrl: string; graphVersion: string };
  /** Makes Baileys sockets; Baileys' own makeWASocket unless a test passes its stand-in's. */
  baileysSocketFactory?: SocketFactory;
  /** Where Baileys connects instead of WhatsApp's (`WHATSAPP_WEB_SOCKET_URL`). */
  whatsappWebSocketUrl?: string;
  /** Seals Baileys auth state at rest (`AUTH_STATE_KEYS`); plaintext without one. */
  authStateSealer?: AuthStateSealer;
  /** WAIT for replicas after each auth-state write (`REDIS_REPLICA_WAIT`, Sentinel only). */
  replicaWait?: ReplicaWaitPolicy;
}

/** The SessionRuntime's `createChannel`: opens the channel a held session's row names. */
export function channelOpener(options: ChannelOpenerOptions): (session: OwnedSession) => Promise<Channel> {
  const { db, tenantId, redis, keyPrefix, logger } = options;
  const baileysLogger = logger.child({ component: 'baileys' }, { level: 'warn' }) as unknown as BaileysLogger;
  return async (session) => {
    const row = await withTenant(db, tenantId, (tx) =>
      tx.session.findUniqueOrThrow({
        where: { id: session.sessionId },
        select: { channel: true, name: true },
      }),
    );
    if (row.channel === 'cloud_api') {
      return openCloudApiChannel({
        session,
        declared: options.declared.get(row.name),
        secrets: options.secrets,
        baseUrl: options.cloudApi.baseUrl,
        graphVersion: options.cloudApi.graphVersion,
        readFence: () => readFence(redis, authStateKeys(keyPrefix, session.sessionId)),
        logger,
      });
    }
    return BaileysChannel.create({
      sessionId: session.sessionId,
      redis,
      keyPrefix,
      epoch: session.fence.epoch,
      logger: baileysLogger,
      ...(options.authStateSealer ? { sealer: options.authStateSealer } : {}),
      ...(options.replicaWait
        ? { afterWrite: authStateReplicaWait(redis, options.replicaWait, logger, session) }
        : {}),
      // Read when WhatsApp sends the history of a new pairing, so a change while the QR shows counts.
      historyImportDays: async () =>
        (
          await withTenant(db, tenantId, (tx) =>
            tx.session.findUnique({ where: { id: session.sessionId }, select: { historyImportDays: true } }),
          )
        )?.historyImportDays ?? null,
      ...(options.baileysSocketFactory ? { socketFactory: options.baileysSocketFactory } : {}),
      ...(options.whatsappWebSocketUrl
        ? { socketConfig: { waWebSocketUrl: options.whatsappWebSocketUrl } }
        : {}),
    });
  };
}

/**
 * After each auth-state write: WAIT for replicas. Not acknowledged in time (or WAIT failed), the
 * write stays applied on the primary and is logged as at risk; it is not failed, because failing
 * it would not undo it and would only break Baileys' signal transaction. Acknowledged, Baileys
 * goes on (sends with the new keys) only once a failover can no longer lose them.
 */
function authStateReplicaWait(
  redis: Redis,
  policy: ReplicaWaitPolicy,
  logger: Logger,
  session: OwnedSession,
): () => Promise<void> {
  return async () => {
    let outcome: string;
    try {
      outcome = await waitForReplicas(redis, policy);
    } catch (error) {
      logger.warn({ err: error, sessionId: session.sessionId }, 'auth-state write: WAIT for replicas failed');
      return;
    }
    if (outcome === 'unacknowledged')
      logger.warn(
        { sessionId: session.sessionId, replicas: policy.replicas, timeoutMs: policy.timeoutMs },
        'auth-state write not acknowledged by a replica in time: a failover now could lose it',
      );
  };
}

/** Opens a Cloud API session's channel with its declared phone number id and credentials. */
export async function openCloudApiChannel(options: {
  session: OwnedSession;
  declared: DeclaredSession | undefined;
  secrets: SecretResolver;
  baseUrl: string;
  graphVersion: string;
  readFence: () => Promise<bigint>;
  logger: Logger;
}): Promise<CloudApiChannel> {
  const { declared, session } = options;
  if (!declared?.phoneNumberId || !declared.credentials) {
    throw new Error(
      `cloud-api session ${session.sessionId} has no declared phoneNumberId and credentials (declare it in the WhatsAppTenant's spec.sessions)`,
    );
  }
  const accessToken = await options.secrets.resolve(declared.credentials.accessToken);
  return new CloudApiChannel({
    sessionId: session.sessionId,
    phoneNumberId: declared.phoneNumberId,
    accessToken,
    baseUrl: options.baseUrl,
    graphVersion: options.graphVersion,
    epoch: session.fence.epoch,
    readFence: options.readFence,
    logger: {
      warn: (fields: Record<string, unknown>, message: string) => options.logger.warn(fields, message),
    },
  });
}

/**
 * phone_number_id -> session id of the tenant's Cloud API sessions (the declared ones with a
 * phone number id), read anew on each call: what Meta's payloads are routed by.
 */
export function cloudApiSessionIds(
  db: Db,
  tenantId: string,
  declared: ReadonlyMap<string, DeclaredSession>,
): () => Promise<Map<string, string>> {
  return async () => {
    const rows = await withTenant(db, tenantId, (tx) =>
      tx.session.findMany({ where: { channel: 'cloud_api' }, select: { id: true, name: true } }),
    );
    const map = new Map<string, string>();
    for (const row of rows) {
      const phoneNumberId = declared.get(row.name)?.phoneNumberId;
      if (phoneNumberId) map.set(phoneNumberId, row.id);
    }
    return map;
  };
}
