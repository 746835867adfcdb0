import { AuthStateSealer, type SocketFactory } from '@switchboard/channels';
import { createDb, type Db, ensureTenant, verifyRuntimeRole, withTenant } from '@switchboard/db';
import {
  BOT_DELIVERIES_QUEUE,
  OutboxRelay,
  QUEUE_NAMES,
  queuePrefix,
  resealWebhookSecrets,
  tenantKeyPrefix,
} from '@switchboard/messaging';
import { createRedis, redisConnectionFromSettings } from '@switchboard/redis';
import { SealingKeyring, type SecretResolver } from '@switchboard/secrets';
import {
  HealthServer,
  type Logger,
  type MetricsRegistry,
  metricDefinitions,
  registerPipelineMetrics,
} from '@switchboard/telemetry';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { assistantPlatform, assistantReplier } from './assistant-wiring.ts';
import { AwayReplier } from './away-replies.ts';
import { SessionBots } from './bot.ts';
import { CallHandler } from './calls.ts';
import { CampaignLoop } from './campaigns.ts';
import { channelOpener, cloudApiSessionIds } from './channels.ts';
import { type WorkerConfig, workerPoolSettings } from './config.ts';
import { CustomerMessageReader } from './customer-messages.ts';
import { type DeclaredSession, readDeclaredSessions, syncDeclaredSessions } from './declared-sessions.ts';
import { GroupEventHandler } from './groups.ts';
import { pipelineMediaFromConfig } from './media.ts';
import { MessagePipelines } from './pipelines.ts';
import { PresenceRelay } from './presence.ts';
import { SessionRuntime } from './session-runtime.ts';

/**
 * One worker process, wired: the tenant's row and declared sessions made to exist, the session
 * runtime claiming this worker's share, and the probe server (/livez, /readyz, /metrics) the
 * Deployment's probes and Prometheus use. `server.ts` builds it from the environment; tests
 * build it in-process or as a child process.
 */

/** What startWorker needs besides the configuration. */
export interface WorkerDependencies {
  logger: Logger;
  metrics: MetricsRegistry;
  /** Resolves `secret://` references (Cloud API credentials, webhook secret refs). */
  secrets: SecretResolver;
  /** Makes Baileys sockets; Baileys' own makeWASocket unless a test passes its stand-in's. */
  baileysSocketFactory?: SocketFactory;
}

/** A running worker. */
export interface RunningWorker {
  tenantId: string;
  /** The port the probe server bound (METRICS_PORT, or the one picked for 0). */
  metricsPort: number;
  runtime: SessionRuntime;
  /** SIGTERM: close every socket, hand the sessions over, release the leases, close connections. */
  stop(): Promise<void>;
}

/** Starts a worker; rejects (after closing what it opened) when the database or Redis refuses it. */
export async function startWorker(config: WorkerConfig, deps: WorkerDependencies): Promise<RunningWorker> {
  const { logger } = deps;
  const db = createDb({
    databaseUrl: config.DATABASE_URL,
    applicationName: config.POD_NAME,
    ...workerPoolSettings(config),
    onPoolError: (error) => logger.warn({ err: error }, 'idle database connection failed'),
  });
  const redis = createRedis({
    ...redisConnectionFromSettings(config),
    role: 'command',
    connectionName: `${config.OTEL_SERVICE_NAME}:${config.POD_NAME}`,
  }) as Redis;
  redis.on('error', (error: Error) => logger.warn({ err: error }, 'redis connection error'));
  // BullMQ's Workers block; they get their own connection with the worker role's retry policy.
  const workerConnection = createRedis({
    ...redisConnectionFromSettings(config),
    role: 'worker',
    connectionName: `${config.OTEL_SERVICE_NAME}:${config.POD_NAME}:queues`,
  }) as Redis;
  workerConnection.on('error', (error: Error) => logger.warn({ err: error }, 'redis queue connection error'));
  const closeConnections = async (): Promise<void> => {
    redis.disconnect();
    workerConnection.disconnect();
    await db.$disconnect();
  };

  let tenantId: string;
  let declared: DeclaredSession[] = [];
  try {
    // A DATABASE_URL with a superuser or the table owner would weaken tenant isolation: refuse it.
    await verifyRuntimeRole(db);
    tenantId = await ensureTenant(db, {
      slug: config.SWITCHBOARD_TENANT,
      displayName: config.SWITCHBOARD_DISPLAY_NAME ?? config.SWITCHBOARD_TENANT,
    });
    if (config.SWITCHBOARD_SESSIONS_FILE !== undefined) {
      declared = await readDeclaredSessions(config.SWITCHBOARD_SESSIONS_FILE);
      const sync = await syncDeclaredSessions(db, tenantId, declared);
      logger.info({ declared: declared.length, ...sync }, 'declared sessions synced');
    }
  } catch (error) {
    await closeConnections();
    throw error;
  }

  const keyPrefix = tenantKeyPrefix(config.SWITCHBOARD_TENANT);
  // The schema checked the format; each session's hash is re-sealed under the current key on load.
  const authStateSealer = config.AUTH_STATE_KEYS ? AuthStateSealer.parse(config.AUTH_STATE_KEYS) : undefined;
  if (!authStateSealer)
    logger.warn('AUTH_STATE_KEYS is unset: WhatsApp auth state is stored in Redis as plaintext');
  // SEALING_KEYS opens webhook secrets (current key first); INTERNAL_TOKEN only those sealed
  // before SEALING_KEYS existed, which the re-seal below moves onto the current key.
  const sealingKeys = config.SEALING_KEYS
    ? SealingKeyring.parse(config.SEALING_KEYS, { legacyKeyMaterial: config.INTERNAL_TOKEN })
    : undefined;
  if (!sealingKeys) logger.warn('SEALING_KEYS is unset: webhooks with a sealed secret cannot be delivered');
  // WAIT only where replicas exist to fail over to (the operator's Sentinel group).
  const replicaWait =
    config.REDIS_MODE === 'sentinel' && config.REDIS_REPLICA_WAIT > 0
      ? { replicas: config.REDIS_REPLICA_WAIT, timeoutMs: config.REDIS_REPLICA_WAIT_TIMEOUT }
      : undefined;
  const declaredByName = new Map(declared.map((session) => [session.name, session]));
  // The outbox's sweep: what a crash (this worker's or another's) left between a commit and its
  // effects. Every session's pipeline kicks it right after each commit.
  const outbox = new OutboxRelay({
    db,
    redis,
    tenantId,
    keyPrefix,
    onError: (error, context) => logger.warn({ err: error, ...context }, `${context.what} failed`),
  });
  const pipelines = new MessagePipelines({
    db,
    redis,
    workerConnection,
    tenantId,
    keyPrefix,
    logger,
    secrets: deps.secrets,
    ...(sealingKeys ? { sealingKeys } : {}),
    typingDelay: config.OUTBOUND_TYPING_DELAY,
    allowedWebhookHosts: config.WEBHOOK_ALLOWED_HOSTS,
    limits: {
      perContactPerMinute: config.OUTBOUND_CONTACT_PER_MINUTE,
      perSessionPerMinute: config.OUTBOUND_SESSION_PER_MINUTE,
    },
    relay: outbox,
    media: pipelineMediaFromConfig(config, { db, tenantId, declared: declaredByName, secrets: deps.secrets }),
    cloudApiSessions: cloudApiSessionIds(db, tenantId, declaredByName),
  });
  // Incoming calls of each held session (calls.ts): declined per the session's setting, recorded.
  const calls = new CallHandler({
    db,
    redis,
    tenantId,
    keyPrefix,
    relay: outbox,
    onError: (error, context) => logger.warn({ err: error, ...context }, `${context.what} failed`),
  });
  // WhatsApp groups of each held session (groups.ts): their info and changes stored.
  const groups = new GroupEventHandler({
    db,
    tenantId,
    relay: outbox,
    onError: (error, context) => logger.warn({ err: error, ...context }, `${context.what} failed`),
  });
  // Typing indicators of each held session (presence.ts): published on the realtime stream.
  const presence = new PresenceRelay({
    db,
    redis,
    tenantId,
    keyPrefix,
    onError: (error, context) => logger.warn({ err: error, ...context }, `${context.what} failed`),
  });
  const runtime = new SessionRuntime({
    redis,
    db,
    tenantId,
    keyPrefix,
    workerId: config.POD_NAME,
    maxSessions: config.MAX_SESSIONS_PER_WORKER,
    leaseTtlMs: config.SESSION_LEASE_TTL,
    ...(replicaWait ? { replicaWait } : {}),
    metrics: deps.metrics,
    createChannel: channelOpener({
      db,
      tenantId,
      redis,
      keyPrefix,
      secrets: deps.secrets,
      logger,
      declared: declaredByName,
      cloudApi: { baseUrl: config.CLOUD_API_BASE_URL, graphVersion: config.CLOUD_API_GRAPH_VERSION },
      ...(deps.baileysSocketFactory ? { baileysSocketFactory: deps.baileysSocketFactory } : {}),
      ...(config.WHATSAPP_WEB_SOCKET_URL ? { whatsappWebSocketUrl: config.WHATSAPP_WEB_SOCKET_URL } : {}),
      ...(authStateSealer ? { authStateSealer } : {}),
      ...(replicaWait ? { replicaWait } : {}),
    }),
    attach: async (session, channel) => {
      const detach = await pipelines.attach(session, channel);
      const detachCalls = calls.attach(session.sessionId, channel);
      const detachGroups = groups.attach(session.sessionId, channel);
      const detachPresence = presence.attach(session.sessionId, channel);
      return async () => {
        detachCalls();
        detachGroups();
        detachPresence();
        await detach();
      };
    },
    relay: outbox,
    // Logout and pairing-code requests from the API, consumed by whoever holds the session.
    commands: { connection: workerConnection },
    onError: (error, context) =>
      logger.error({ err: error, ...context }, `session runtime: ${context.what} failed`),
  });

  registerPipelineMetrics(deps.metrics);
  const closeBacklogQueues = registerBacklogMetrics(deps.metrics, {
    db,
    redis,
    tenantId,
    keyPrefix,
    sessions: () => runtime.sessions(),
  });

  let started = false;
  const health = new HealthServer({
    host: config.METRICS_HOST,
    port: config.METRICS_PORT,
    metrics: deps.metrics,
    // Liveness is only "the event loop answers": a Redis or Postgres outage must not restart
    // every worker at once (the claimer already closes sockets it cannot keep).
    livenessChecks: {},
    readinessChecks: {
      claiming: () => started,
      database: async () => {
        await db.$queryRaw`SELECT 1`;
      },
      redis: async () => {
        await redis.ping();
      },
    },
  });
  let metricsPort: number;
  try {
    ({ port: metricsPort } = await health.listen());
  } catch (error) {
    await closeConnections();
    throw error;
  }

  // Session bots (bot.ts): their deliveries to the flow engines.
  const bots = new SessionBots({
    db,
    connection: workerConnection,
    tenantId,
    keyPrefix,
    secrets: deps.secrets,
    ...(sealingKeys ? { sealingKeys } : {}),
    allowedHosts: config.WEBHOOK_ALLOWED_HOSTS,
    relay: outbox,
    onError: (error, context) => logger.warn({ err: error, ...context }, `${context.what} failed`),
  });
  try {
    await pipelines.start();
    outbox.start();
    await bots.start();
  } catch (error) {
    await bots.close();
    await outbox.close();
    await health.close();
    await closeConnections();
    throw error;
  }
  runtime.start();
  // The automations that answer customers (the bot, away replies, the assistant) are fed by one
  // reader of the realtime stream (customer-messages.ts), on a connection of its own (XREAD BLOCK
  // holds it; closed by the reader). The bot and away replies see each customer's messages in
  // order; the assistant's provider calls run beside them.
  const awayReplies = new AwayReplier({
    db,
    redis,
    tenantId,
    keyPrefix,
    relay: outbox,
    assistantPlatform: assistantPlatform(config),
    onError: (error, context) => logger.warn({ err: error, ...context }, `${context.what} failed`),
  });
  const assistant = assistantReplier({ config, deps, db, redis, tenantId, keyPrefix, relay: outbox });
  const customerStream = createRedis({
    ...redisConnectionFromSettings(config),
    role: 'worker',
    connectionName: `${config.OTEL_SERVICE_NAME}:${config.POD_NAME}:customer-messages`,
  }) as Redis;
  customerStream.on('error', (error: Error) =>
    logger.warn({ err: error }, 'redis customer-messages connection error'),
  );
  const customerMessages = new CustomerMessageReader({
    connection: customerStream,
    keyPrefix,
    handlers: [
      { name: 'bot dispatch', handle: (messageId) => bots.dispatch(messageId) },
      { name: 'away reply', handle: (messageId) => awayReplies.replyIfAway(messageId) },
      { name: 'assistant reply', handle: (messageId) => assistant.answer(messageId), mode: 'concurrent' },
    ],
    onError: (error, context) => logger.warn({ err: error, ...context }, `${context.what} failed`),
  });
  customerMessages.start();
  // Campaigns (campaigns.ts): paced within the session's outbound limit.
  const campaigns = new CampaignLoop({
    db,
    redis,
    tenantId,
    keyPrefix,
    limits: {
      perContactPerMinute: config.OUTBOUND_CONTACT_PER_MINUTE,
      perSessionPerMinute: config.OUTBOUND_SESSION_PER_MINUTE,
    },
    onError: (error, context) => logger.warn({ err: error, ...context }, `${context.what} failed`),
  });
  campaigns.start();
  started = true;
  if (sealingKeys) {
    // After a key rotation: what older keys sealed is re-sealed with the current key, in the
    // background (deliveries meanwhile open it with the older key). Every worker runs it; each
    // row is replaced by compare-and-set, so they do not conflict.
    void resealWebhookSecrets(db, tenantId, sealingKeys).then(
      (result) =>
        logger.info(
          {
            currentKeyId: sealingKeys.currentKeyId,
            resealed: result.resealed,
            current: result.current,
            unreadable: result.unreadable.length,
          },
          'webhook secrets re-sealed with the current sealing key',
        ),
      (error: unknown) =>
        logger.warn({ err: error }, 'webhook secret re-seal failed; retried at the next start'),
    );
  }
  logger.info(
    {
      tenant: config.SWITCHBOARD_TENANT,
      worker: config.POD_NAME,
      maxSessions: config.MAX_SESSIONS_PER_WORKER,
      metricsPort,
    },
    'worker started',
  );

  let stopping: Promise<void> | undefined;
  return {
    tenantId,
    metricsPort,
    runtime,
    stop: () => {
      stopping ??= (async () => {
        started = false;
        await runtime.stop();
        await customerMessages.close();
        await awayReplies.close();
        await assistant.close();
        await bots.close();
        await campaigns.close();
        await calls.close();
        await pipelines.stop();
        await outbox.close();
        await health.close();
        await closeBacklogQueues();
        await closeConnections();
      })();
      return stopping;
    },
  };
}

/** What the backlog gauges read. */
interface BacklogSources {
  db: Db;
  redis: Redis;
  tenantId: string;
  keyPrefix: string;
  /** Sessions this worker holds: their outbound queues are the ones it can speak for. */
  sessions: () => string[];
}

/**
 * Queue depth, oldest-job age and the outbox backlog, read at scrape time (a gauge that is only
 * as old as the scrape, and no timer of its own): the tenant-wide queues, this worker's sessions'
 * outbound queues summed as `outbound`, and the tenant's outbox rows. Returns a closer for the
 * Queue handles it opened (they share `redis`, which the caller closes).
 */
function registerBacklogMetrics(metrics: MetricsRegistry, sources: BacklogSources): () => Promise<void> {
  const queues = new Map<string, Queue>();
  const queue = (name: string): Queue => {
    let found = queues.get(name);
    if (!found) {
      found = new Queue(name, { connection: sources.redis, prefix: queuePrefix(sources.keyPrefix) });
      queues.set(name, found);
    }
    return found;
  };
  const tracked = (): Array<[label: string, name: string]> => [
    ['cloud-api-inbound', QUEUE_NAMES.cloudApiInbound],
    ['webhook-deliveries', QUEUE_NAMES.webhookDeliveries],
    ['bot-deliveries', BOT_DELIVERIES_QUEUE],
    ['media-downloads', QUEUE_NAMES.mediaDownloads],
    ...sources.sessions().map((sessionId): [string, string] => ['outbound', QUEUE_NAMES.outbound(sessionId)]),
  ];
  const states = ['waiting', 'delayed', 'active', 'failed'] as const;
  metrics.gauge({
    ...metricDefinitions.queueJobs,
    async collect() {
      this.reset();
      const totals = new Map<string, number>();
      for (const [label, name] of tracked()) {
        const counts = await queue(name).getJobCounts(...states);
        for (const state of states) {
          const key = `${label}\u0000${state}`;
          totals.set(key, (totals.get(key) ?? 0) + (counts[state] ?? 0));
        }
      }
      for (const [key, value] of totals) {
        const [label, state] = key.split('\u0000') as [string, string];
        this.set({ queue: label, state }, value);
      }
    },
  });
  metrics.gauge({
    ...metricDefinitions.queueOldestJobAge,
    async collect() {
      this.reset();
      const oldest = new Map<string, number>();
      for (const [label, name] of tracked()) {
        const [job] = await queue(name).getJobs(['wait'], 0, 0, true);
        const age = job ? Math.max(0, (Date.now() - job.timestamp) / 1000) : 0;
        oldest.set(label, Math.max(oldest.get(label) ?? 0, age));
      }
      for (const [label, age] of oldest) this.set({ queue: label }, age);
    },
  });
  const outbox = async (): Promise<{ rows: number; age: number }> => {
    const [row] = await withTenant(
      sources.db,
      sources.tenantId,
      (tx) =>
        tx.$queryRaw<Array<{ rows: bigint; age: number | null }>>`
        SELECT count(*) AS rows, EXTRACT(EPOCH FROM clock_timestamp() - min(created_at))::float8 AS age
          FROM outbox`,
    );
    return { rows: Number(row?.rows ?? 0), age: Math.max(0, row?.age ?? 0) };
  };
  metrics.gauge({
    ...metricDefinitions.outboxBacklog,
    async collect() {
      this.set((await outbox()).rows);
    },
  });
  metrics.gauge({
    ...metricDefinitions.outboxOldestAge,
    async collect() {
      this.set((await outbox()).age);
    },
  });
  return async () => {
    await Promise.allSettled([...queues.values()].map((q) => q.close()));
    queues.clear();
  };
}
