import {
  type BackoffPolicy,
  backoffDelay,
  type Channel,
  type ChannelKind,
  DEFAULT_BACKOFF,
  type PairingChallenge,
  type SessionState,
  type StateCause,
  type StateChange,
} from '@switchboard/channels';
import type { Db } from '@switchboard/db';
import {
  type PairingRecord,
  pairingKey,
  pairingRecordSchema,
  publishRealtimeEvent,
  REALTIME_EVENT_FIELD,
  REALTIME_STREAM_MAX_LEN,
  type RealtimeEvent,
  realtimeEventSchema,
  realtimeStreamKey,
} from '@switchboard/messaging';
import { RedisScript } from '@switchboard/redis';
import {
  type OwnedSession,
  type ReleaseReason,
  type ReplicaWaitPolicy,
  SessionClaimer,
  type SessionFence,
  updateSessionState,
} from '@switchboard/sessions';
import { type MetricsRegistry, metricDefinitions } from '@switchboard/telemetry';
import type { Redis } from 'ioredis';
import { SessionCommandConsumer } from './session-commands.ts';
import { recordSessionStateEvent } from './session-events.ts';

/**
 * The worker's sessions: the claimer decides which sessions this worker holds; for each held
 * session a channel (a Baileys socket, or a Cloud API client) is opened, its state changes are
 * persisted under the claim's epoch and appended to the tenant's realtime stream, and its QR and
 * pairing codes are stored with their TTL for the API and inbox (packages/messaging/contracts.ts
 * has the key and event formats). A state write refused as stale means a newer owner exists: the channel
 * is closed at once.
 *
 * A held session whose channel ends up `disconnected` without reconnecting by itself (a Cloud API
 * session whose Graph API could not be reached, or answered 5xx, when it connected) is connected
 * again with backoff (`connectRetry`) for as long as the worker holds it; Baileys reconnects by
 * itself (its transitions say `willReconnect`) and is left to it. Causes that no retry can fix
 * (a newer owner, a logout, a refused account) are not retried.
 *
 * With `metrics`, the held sessions are counted by channel and state when Prometheus scrapes
 * (`switchboard_sessions_state_sessions`, every channel and state present, 0 when none), and
 * each reconnect is counted with the cause of the disconnect (`switchboard_sessions_reconnects_total`):
 * a channel that reconnects by itself entering `connecting` again (Baileys: after a 515 restart, a
 * new pairing round or a backoff), or a connect retry of this runtime when its timer fires.
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
  keyPrefix: string;
  workerId: string;
  maxSessions: number;
  leaseTtlMs?: number;
  /** WAIT for replicas after claims and renewals (a Sentinel group); see SessionClaimer. */
  replicaWait?: ReplicaWaitPolicy;
  createChannel: ChannelFactory;
  /** What runs with each open channel (see {@link SessionAttachment}). */
  attach?: SessionAttachment;
  /**
   * Consume each held session's command queue (logout, pairing code) on this `worker`-role
   * connection; without it commands wait for a worker that does.
   */
  commands?: { connection: Redis; handOverDelayMs?: number };
  metrics?: MetricsRegistry;
  /** Delays between connect attempts of a channel left disconnected (default DEFAULT_BACKOFF: 1 s doubling to 2 min, jittered). */
  connectRetry?: BackoffPolicy;
  /**
   * The outbox relay kicked after a state write that recorded a `session.state_changed` webhook
   * event; without it the relay's sweep performs the row.
   */
  relay?: { kick(ids: readonly string[]): Promise<void> };
  onError?: (error: unknown, context: { sessionId?: string; what: string }) => void;
}

// Every state and channel, so the state gauge has all its series (0 when none) from the first scrape:
// an alert on `connected == 0` or a panel of `disconnected` then never reads an absent series.
const SESSION_STATES = Object.keys({
  unpaired: true,
  pairing: true,
  connecting: true,
  connected: true,
  disconnected: true,
  logged_out: true,
} satisfies Record<SessionState, true>) as SessionState[];
const CHANNEL_KINDS = Object.keys({ baileys: true, 'cloud-api': true } satisfies Record<
  ChannelKind,
  true
>) as ChannelKind[];

/** Disconnect causes a new connect attempt cannot fix. */
const FINAL_CAUSES: ReadonlySet<StateCause> = new Set<StateCause>([
  'stopped',
  'stale-epoch',
  'logged-out',
  'logout',
  'forbidden',
  'connection-replaced',
  'multidevice-mismatch',
]);

// Only a newer challenge may replace the published one: listeners run concurrently, and a late
// write of QR n must not hide QR n+1. The realtime event (without the code) goes out in the
// same script, so a client told about challenge n can always read n or newer.
const PUBLISH_CHALLENGE = new RedisScript(`local current = redis.call('get', KEYS[1])
if current then
  local ok, seq = pcall(function() return cjson.decode(current).sequence end)
  if ok and seq and tonumber(seq) >= tonumber(ARGV[2]) then return 0 end
end
redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[3])
redis.call('xadd', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', ARGV[5], ARGV[6])
return 1`);

/** The sessions of one worker process. */
export class SessionRuntime {
  private readonly options: SessionRuntimeOptions;
  private readonly claimer: SessionClaimer;
  private readonly channels = new Map<string, Channel>();
  /** The last pending state write of each session (see serializeState). */
  private readonly stateWrites = new Map<string, Promise<void>>();
  private readonly detachers = new Map<string, () => Promise<void>>();
  private readonly commandConsumers = new Map<string, SessionCommandConsumer>();
  /** The last state change of each open channel (whether it will reconnect by itself). */
  private readonly lastChanges = new Map<Channel, StateChange>();
  /** The pending connect retry of each session. */
  private readonly retries = new Map<string, ReturnType<typeof setTimeout>>();
  /** Counts a reconnect in `switchboard_sessions_reconnects_total` (when metrics are served). */
  private readonly countReconnect: (channel: ChannelKind, reason: StateCause) => void = () => undefined;

  constructor(options: SessionRuntimeOptions) {
    this.options = options;
    if (options.metrics) {
      const channels = this.channels;
      options.metrics.gauge({
        ...metricDefinitions.sessionsStates,
        collect() {
          const counts = new Map<string, number>();
          for (const channel of channels.values()) {
            const key = `${channel.kind}/${channel.state}`;
            counts.set(key, (counts.get(key) ?? 0) + 1);
          }
          for (const kind of CHANNEL_KINDS)
            for (const state of SESSION_STATES)
              this.set({ channel: kind, state }, counts.get(`${kind}/${state}`) ?? 0);
        },
      });
      const reconnects = options.metrics.counter(metricDefinitions.sessionsReconnectsTotal);
      this.countReconnect = (channel, reason) => reconnects.inc({ channel, reason });
    }
    this.claimer = new SessionClaimer({
      redis: options.redis,
      db: options.db,
      tenantId: options.tenantId,
      keyPrefix: options.keyPrefix,
      workerId: options.workerId,
      maxSessions: options.maxSessions,
      ...(options.leaseTtlMs ? { leaseTtlMs: options.leaseTtlMs } : {}),
      ...(options.replicaWait ? { replicaWait: options.replicaWait } : {}),
      ...(options.metrics ? { metrics: options.metrics } : {}),
      onAcquired: (session) => this.open(session),
      onReleased: (session, reason) => this.close(session, reason),
      onError: (error) => options.onError?.(error, { what: 'claim round' }),
    });
  }

  /** Starts claiming. */
  start(): void {
    this.claimer.start();
  }

  /** Sessions with an open channel on this worker. */
  sessions(): string[] {
    return [...this.channels.keys()];
  }

  /** The channel of a held session (the outbound pipeline sends through it). */
  channel(sessionId: string): Channel | undefined {
    return this.channels.get(sessionId);
  }

  /** SIGTERM: close every channel, record the hand-over, release the leases so others claim at once. */
  async stop(): Promise<void> {
    await this.claimer.stop();
  }

  private async open(session: OwnedSession): Promise<void> {
    const channel = await this.options.createChannel(session);
    this.channels.set(session.sessionId, channel);
    channel.on('state', (change) => {
      this.lastChanges.set(channel, change);
      // A channel that reconnects by itself (Baileys) opens the new connection with the cause of
      // the disconnect; connect() (the first, or a retry below, counted there) says `connect`.
      if (change.state === 'connecting' && change.cause !== 'connect')
        this.countReconnect(channel.kind, change.cause);
      return this.serializeState(session, channel, change);
    });
    channel.on('pairing', (challenge) => this.publishChallenge(challenge));
    if (this.options.attach)
      this.detachers.set(session.sessionId, await this.options.attach(session, channel));
    await channel.connect();
    this.retryConnect(session, channel, 1);
    if (this.options.commands && this.channels.get(session.sessionId) === channel) {
      const consumer = new SessionCommandConsumer({
        tenantId: this.options.tenantId,
        sessionId: session.sessionId,
        channel,
        connection: this.options.commands.connection,
        keyPrefix: this.options.keyPrefix,
        ...(this.options.commands.handOverDelayMs === undefined
          ? {}
          : { handOverDelayMs: this.options.commands.handOverDelayMs }),
        onError: (error, context) =>
          this.options.onError?.(error, { sessionId: session.sessionId, what: context.what }),
      });
      this.commandConsumers.set(session.sessionId, consumer);
      await consumer.start();
    }
  }

  /**
   * Connects `channel` again after a backoff delay when it is held, disconnected, and will not
   * reconnect by itself; attempt `attempt` waits backoffDelay(attempt). A connect that fails
   * schedules the next attempt; one that succeeds (or a release) ends the loop.
   */
  private retryConnect(session: OwnedSession, channel: Channel, attempt: number): void {
    const id = session.sessionId;
    const last = this.lastChanges.get(channel);
    if (session.signal.aborted || this.channels.get(id) !== channel) return;
    if (channel.state !== 'disconnected' || !last || last.willReconnect || FINAL_CAUSES.has(last.cause))
      return;
    const delay = backoffDelay(attempt, this.options.connectRetry ?? DEFAULT_BACKOFF);
    const timer = setTimeout(() => {
      this.retries.delete(id);
      if (session.signal.aborted || this.channels.get(id) !== channel) return;
      this.countReconnect(channel.kind, last.cause);
      void channel
        .connect()
        .catch((error: unknown) => this.options.onError?.(error, { sessionId: id, what: 'connect' }))
        .then(() => this.retryConnect(session, channel, attempt + 1));
    }, delay);
    this.retries.set(id, timer);
  }

  private cancelRetry(sessionId: string): void {
    const timer = this.retries.get(sessionId);
    if (timer) clearTimeout(timer);
    this.retries.delete(sessionId);
  }

  /** Stops what runs with the session's channel (commands first, then the attachment), before it closes. */
  private async detach(sessionId: string): Promise<void> {
    const commands = this.commandConsumers.get(sessionId);
    this.commandConsumers.delete(sessionId);
    await commands
      ?.stop()
      .catch((error: unknown) => this.options.onError?.(error, { sessionId, what: 'stop session commands' }));
    const detach = this.detachers.get(sessionId);
    this.detachers.delete(sessionId);
    if (detach) {
      await detach().catch((error: unknown) => this.options.onError?.(error, { sessionId, what: 'detach' }));
    }
  }

  private async close(session: OwnedSession, reason: ReleaseReason): Promise<void> {
    const channel = this.channels.get(session.sessionId);
    this.channels.delete(session.sessionId);
    this.cancelRetry(session.sessionId);
    await this.detach(session.sessionId);
    if (channel) {
      this.lastChanges.delete(channel);
      await channel
        .disconnect()
        .catch((error: unknown) =>
          this.options.onError?.(error, { sessionId: session.sessionId, what: 'disconnect' }),
        );
    }
    // Recorded under this claim's epoch: refused (and that is right) when a newer owner exists.
    await this.writeState(session.fence, { state: 'disconnected', reason: `handed over: ${reason}` });
  }

  /**
   * State changes of one session are written and announced in the order the channel made them: a
   * slow write of `connecting` must not land after the `pairing` that followed it (the row and the
   * inbox would then show the older state).
   */
  private serializeState(session: OwnedSession, channel: Channel, change: StateChange): Promise<void> {
    const id = session.sessionId;
    const next = (this.stateWrites.get(id) ?? Promise.resolve())
      .then(() => this.persistState(session, channel, change))
      .catch((error: unknown) => this.options.onError?.(error, { sessionId: id, what: 'persist state' }));
    this.stateWrites.set(id, next);
    void next.finally(() => {
      if (this.stateWrites.get(id) === next) this.stateWrites.delete(id);
    });
    return next;
  }

  private async persistState(session: OwnedSession, channel: Channel, change: StateChange): Promise<void> {
    if (session.signal.aborted) return;
    const reason = [change.cause, change.detail].filter(Boolean).join(': ') || null;
    const written = await this.writeState(session.fence, {
      state: change.state,
      reason,
      ...(change.phoneNumber ? { phoneNumber: change.phoneNumber } : {}),
    });
    if (!written && this.channels.get(session.sessionId) === channel) {
      // A newer owner: this socket must not stay open a moment longer than needed.
      this.channels.delete(session.sessionId);
      this.cancelRetry(session.sessionId);
      this.lastChanges.delete(channel);
      await this.detach(session.sessionId);
      await channel.disconnect().catch(() => undefined);
    }
    await publishRealtimeEvent(this.options.redis, this.options.keyPrefix, {
      type: 'session.state',
      at: change.at.toISOString(),
      data: {
        sessionId: session.sessionId,
        state: change.state,
        ...(reason === null ? {} : { reason }),
        ...(change.phoneNumber ? { phoneNumber: change.phoneNumber } : {}),
      },
    }).catch((error: unknown) =>
      this.options.onError?.(error, { sessionId: session.sessionId, what: 'publish state' }),
    );
  }

  private async publishChallenge(challenge: PairingChallenge): Promise<void> {
    const expiresAt = challenge.expiresAt.toISOString();
    const record: PairingRecord = {
      sessionId: challenge.sessionId,
      kind: challenge.kind,
      code: challenge.code,
      ...(challenge.phoneNumber ? { phoneNumber: challenge.phoneNumber } : {}),
      expiresAt,
      sequence: challenge.sequence,
    };
    const event = realtimeEventSchema.parse({
      type: 'session.pairing',
      at: challenge.issuedAt.toISOString(),
      data: { sessionId: challenge.sessionId, kind: challenge.kind, sequence: challenge.sequence, expiresAt },
    } satisfies RealtimeEvent);
    await PUBLISH_CHALLENGE.run(
      this.options.redis,
      [pairingKey(this.options.keyPrefix, challenge.sessionId), realtimeStreamKey(this.options.keyPrefix)],
      [
        JSON.stringify(pairingRecordSchema.parse(record)),
        String(challenge.sequence),
        String(Math.max(1, challenge.expiresAt.getTime() - Date.now())),
        String(REALTIME_STREAM_MAX_LEN),
        REALTIME_EVENT_FIELD,
        JSON.stringify(event),
      ],
    );
  }

  /** False when the write was refused as stale. */
  private async writeState(
    fence: SessionFence,
    update: Parameters<typeof updateSessionState>[2],
  ): Promise<boolean> {
    try {
      const outboxIds: string[] = [];
      await updateSessionState(this.options.db, fence, update, async (tx) =>
        outboxIds.push(...(await recordSessionStateEvent(tx, fence, update))),
      );
      if (outboxIds.length > 0)
        void this.options.relay
          ?.kick(outboxIds)
          .catch((error: unknown) =>
            this.options.onError?.(error, { sessionId: fence.sessionId, what: 'kick outbox' }),
          );
      return true;
    } catch (error) {
      if ((error as { code?: string }).code === 'STALE_EPOCH') return false;
      this.options.onError?.(error, { sessionId: fence.sessionId, what: `record state ${update.state}` });
      return true;
    }
  }
}
