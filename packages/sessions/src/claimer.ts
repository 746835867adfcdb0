import { type Db, withTenant } from '@switchboard/db';
import { type MetricsRegistry, metricDefinitions } from '@switchboard/telemetry';
import type { Redis } from 'ioredis';
import { SessionsError } from './errors.ts';
import { claimEpoch, raiseFence, type SessionFence } from './fence.ts';
import { sessionKeys } from './keys.ts';
import { acquireLease, ownerToken, releaseLease, renewLeases } from './lease.ts';
import { fairShare, heartbeat, leave, liveWorkers } from './membership.ts';
import { type ReplicaWaitPolicy, waitForReplicas } from './replication.ts';

/**
 * Balanced claiming: every worker heartbeats, counts the live workers, and holds up to its
 * fair share of the tenant's sessions (ceil(sessions / workers), capped by its maximum).
 * A new worker therefore gets sessions as the others shed their extras; a crashed worker's
 * sessions are claimed by the others once its leases expire; a worker stopped with SIGTERM
 * closes its sockets and releases at once.
 *
 * Ordering is what makes two live sockets impossible for longer than a lease TTL:
 * - acquire: lease (SET NX) first, then the new epoch, then the fence, and only then the socket;
 * - release: the socket is closed (onReleased resolves) before the lease is deleted;
 * - a worker that has not renewed a lease by its deadline (TTL minus a safety margin, measured
 *   from when the renewal was sent) closes that socket itself, even if Redis is unreachable,
 *   so by the time the lease expires and someone else claims, this worker is already off.
 *
 * With `replicaWait` (a Sentinel group), claims and renewals are followed by WAIT
 * (replication.ts), because a failover can lose a fence or a lease the primary accepted:
 * - a claim whose lease and fence no replica acknowledged in time is abandoned before its socket
 *   opens (lease released, `NOT_REPLICATED` to onError, retried next round), since after a
 *   failover an older owner could write under a fence that went back;
 * - renewals no replica acknowledged do not extend the deadlines (`NOT_REPLICATED` to onError):
 *   the sessions stay held on the last acknowledged renewal, and are closed at its deadline if
 *   replication does not catch up first.
 */

// Claims in flight at once in one round.
const CLAIM_CONCURRENCY = 8;

/** Why a worker stopped holding a session. */
export type ReleaseReason = 'rebalanced' | 'shutdown' | 'lost' | 'deadline' | 'gone';

/** A session this worker holds. */
export interface OwnedSession {
  sessionId: string;
  /** The claim's epoch; every write for the session carries it. */
  fence: SessionFence;
  /** Aborted when the session is released for any reason: stop everything done for it. */
  signal: AbortSignal;
}

/** A clock the claimer schedules with (tests may pass one that they control). */
export interface ClaimerClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): { cancel(): void };
}

const systemClock: ClaimerClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const timer = setTimeout(fn, ms);
    timer.unref?.();
    return { cancel: () => clearTimeout(timer) };
  },
};

/** Options for SessionClaimer. */
export interface SessionClaimerOptions {
  /** A command connection (not a blocking BullMQ one). */
  redis: Redis;
  db: Db;
  tenantId: string;
  /** The tenant's Redis key prefix, e.g. `sb:acme:`. */
  keyPrefix: string;
  /** This worker's stable id (the pod name). */
  workerId: string;
  /** Lease TTL; renewals every third of it. Default 15 s. */
  leaseTtlMs?: number;
  /** The most sessions this worker holds (spec.workers.maxSessionsPerWorker). */
  maxSessions: number;
  /** The tenant's sessions that should be held by some worker; default every session not logged out. */
  listSessions?: () => Promise<string[]>;
  /** Start the socket. Throwing releases the lease again (counted, retried next round). */
  onAcquired: (session: OwnedSession) => Promise<void> | void;
  /** Close the socket. The lease is deleted only after this resolves (when it was still held). */
  onReleased: (session: OwnedSession, reason: ReleaseReason) => Promise<void> | void;
  metrics?: MetricsRegistry;
  /** Errors of one round (Redis or Postgres unreachable); the next round retries. */
  onError?: (error: unknown) => void;
  /** WAIT for replicas after claims and renewals (see above); none on a standalone Redis. */
  replicaWait?: ReplicaWaitPolicy;
  clock?: ClaimerClock;
}

interface Held {
  session: OwnedSession;
  token: string;
  abort: AbortController;
  deadline: { cancel(): void } | undefined;
}

/** Claims, renews and hands over one worker's share of a tenant's sessions. */
export class SessionClaimer {
  private readonly options: SessionClaimerOptions;
  private readonly ttlMs: number;
  private readonly clock: ClaimerClock;
  private readonly held = new Map<string, Held>();
  private readonly metrics;
  private timer: { cancel(): void } | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private joined = false;

  constructor(options: SessionClaimerOptions) {
    if (options.maxSessions < 1) throw new SessionsError('INVALID_OPTIONS', 'maxSessions must be at least 1');
    this.options = options;
    this.ttlMs = options.leaseTtlMs ?? 15_000;
    if (this.ttlMs < 300) throw new SessionsError('INVALID_OPTIONS', 'leaseTtlMs must be at least 300 ms');
    this.clock = options.clock ?? systemClock;
    const registry = options.metrics;
    this.metrics = registry
      ? {
          owned: registry.gauge(metricDefinitions.sessionsOwned),
          claims: registry.counter(metricDefinitions.sessionsClaimsTotal),
          releases: registry.counter(metricDefinitions.sessionsReleasesTotal),
          handovers: registry.counter(metricDefinitions.sessionsHandoversTotal),
          lost: registry.counter(metricDefinitions.sessionsLostLeasesTotal),
          renewal: registry.histogram({
            ...metricDefinitions.sessionsLeaseRenewal,
            buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
          }),
        }
      : undefined;
  }

  /** Renewal interval: a third of the TTL, so two renewals can fail before the lease is at risk. */
  get renewIntervalMs(): number {
    return Math.floor(this.ttlMs / 3);
  }

  /** Sessions held right now. */
  owned(): OwnedSession[] {
    return [...this.held.values()].map((h) => h.session);
  }

  /** Starts the rounds: the first at once, then every renewal interval. */
  start(): void {
    if (this.timer || this.stopped) return;
    const loop = () => {
      this.running = this.round()
        .catch((error: unknown) => this.options.onError?.(error))
        .finally(() => {
          this.running = undefined;
          if (!this.stopped) this.timer = this.clock.setTimeout(loop, this.renewIntervalMs);
        });
    };
    this.timer = this.clock.setTimeout(loop, 0);
  }

  /**
   * One round: heartbeat, renew what is held, then shed extras or claim up to the fair share.
   * Public for tests that drive rounds themselves.
   */
  async round(): Promise<void> {
    const { redis, keyPrefix, workerId } = this.options;
    const startedAt = this.clock.now();
    await heartbeat(redis, keyPrefix, workerId, startedAt);
    await this.renewAll(startedAt);
    // The first round only announces this worker: workers started together (a rollout, a
    // scale-up) then all see each other in their second round and claim their fair shares,
    // instead of the first one up claiming everything and handing most of it back.
    // A lone worker pays one renewal interval for this.
    if (!this.joined) {
      this.joined = true;
      return;
    }

    const sessions = await (this.options.listSessions ?? (() => this.listFromDb()))();
    const wanted = new Set(sessions);
    for (const [id] of this.held) {
      if (!wanted.has(id)) await this.release(id, 'gone');
    }
    // Live workers within 1.5 TTL: a worker that missed one heartbeat is not dropped at once.
    const workers = await liveWorkers(redis, keyPrefix, this.clock.now(), Math.ceil(this.ttlMs * 1.5));
    const share = fairShare(sessions.length, Math.max(1, workers.length), this.options.maxSessions);

    // Shed extras one round at a time, the most recently claimed first (the least settled).
    if (this.held.size > share) {
      const extras = [...this.held.keys()].slice(share);
      for (const id of extras) await this.release(id, 'rebalanced');
    }
    if (this.held.size < share && !this.stopped) {
      const candidates = sessions.filter((id) => !this.held.has(id));
      // Random order: workers starting together do not all race for the same first session.
      for (let i = candidates.length - 1; i > 0; i--) {
        const j = Math.floor(Math.random() * (i + 1));
        [candidates[i], candidates[j]] = [candidates[j]!, candidates[i]!];
      }
      // A few claims at a time: each is a lease, an epoch and a fence round trip, and a cold
      // start of hundreds of sessions should not take hundreds of sequential round trips.
      while (candidates.length > 0 && this.held.size < share && !this.stopped) {
        const batch = candidates.splice(0, Math.min(CLAIM_CONCURRENCY, share - this.held.size));
        await Promise.all(batch.map((id) => this.tryClaim(id)));
      }
    }
    this.metrics?.owned.set(this.held.size);
  }

  /** Stops claiming, closes every socket and releases every lease, then leaves the worker set. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.running;
    for (const id of [...this.held.keys()]) await this.release(id, 'shutdown');
    await leave(this.options.redis, this.options.keyPrefix, this.options.workerId).catch((error: unknown) =>
      this.options.onError?.(error),
    );
    this.metrics?.owned.set(0);
  }

  /**
   * Stops without releasing anything (tests: a worker that froze). Sockets are not closed and
   * leases expire on their own.
   */
  abandon(): void {
    this.stopped = true;
    this.timer?.cancel();
    for (const held of this.held.values()) held.deadline?.cancel();
  }

  private async listFromDb(): Promise<string[]> {
    return await withTenant(this.options.db, this.options.tenantId, async (tx) =>
      (
        await tx.session.findMany({
          where: { state: { not: 'logged_out' } },
          select: { id: true },
          orderBy: { createdAt: 'asc' },
        })
      ).map((s) => s.id),
    );
  }

  private async renewAll(sentAt: number): Promise<void> {
    const entries = [...this.held.entries()];
    if (entries.length === 0) return;
    const keys = entries.map(([id, held]) => ({
      key: sessionKeys(this.options.keyPrefix, id).lease,
      token: held.token,
    }));
    let results: boolean[];
    try {
      results = await renewLeases(this.options.redis, keys, this.ttlMs);
    } catch (error) {
      // Redis unreachable: keep the sockets until each one's deadline, which the timers enforce.
      this.options.onError?.(error);
      return;
    }
    this.metrics?.renewal.observe((this.clock.now() - sentAt) / 1000);
    let replicated = true;
    if (this.options.replicaWait && results.some(Boolean)) {
      try {
        replicated =
          (await waitForReplicas(this.options.redis, this.options.replicaWait)) !== 'unacknowledged';
      } catch (error) {
        this.options.onError?.(error);
        replicated = false;
      }
      if (!replicated)
        this.options.onError?.(
          new SessionsError(
            'NOT_REPLICATED',
            `lease renewals not acknowledged by a replica within ${this.options.replicaWait.timeoutMs} ms: deadlines not extended`,
            true,
          ),
        );
    }
    for (const [i, [id, held]] of entries.entries()) {
      if (!results[i]) await this.release(id, 'lost');
      else if (replicated) this.armDeadline(id, held, sentAt);
    }
  }

  // The deadline counts from when the renewal was *sent*: the lease may have been extended
  // at any instant after that, so only sentAt + TTL is a safe lower bound of its expiry. A
  // tenth of the TTL is kept as margin for clock drift between this process and Redis.
  private armDeadline(id: string, held: Held, sentAt: number): void {
    held.deadline?.cancel();
    const remaining = sentAt + this.ttlMs - Math.ceil(this.ttlMs / 10) - this.clock.now();
    held.deadline = this.clock.setTimeout(
      () => {
        void this.release(id, 'deadline').catch((error: unknown) => this.options.onError?.(error));
      },
      Math.max(0, remaining),
    );
  }

  private async tryClaim(sessionId: string): Promise<void> {
    const { redis, keyPrefix, workerId, db, tenantId } = this.options;
    const keys = sessionKeys(keyPrefix, sessionId);
    const token = ownerToken(workerId);
    const sentAt = this.clock.now();
    if (!(await acquireLease(redis, keys.lease, token, this.ttlMs))) return;
    let epoch: bigint;
    try {
      epoch = await claimEpoch(db, tenantId, sessionId, workerId);
      await raiseFence(redis, keys.fence, epoch);
      const policy = this.options.replicaWait;
      if (policy && (await waitForReplicas(redis, policy)) === 'unacknowledged')
        throw new SessionsError(
          'NOT_REPLICATED',
          `claim of session ${sessionId} (epoch ${epoch}) not acknowledged by a replica within ${policy.timeoutMs} ms: abandoned`,
          true,
        );
    } catch (error) {
      await releaseLease(redis, keys.lease, token).catch(() => undefined);
      this.options.onError?.(error);
      return;
    }
    const abort = new AbortController();
    const held: Held = {
      session: { sessionId, fence: { tenantId, sessionId, epoch }, signal: abort.signal },
      token,
      abort,
      deadline: undefined,
    };
    this.held.set(sessionId, held);
    this.armDeadline(sessionId, held, sentAt);
    this.metrics?.claims.inc();
    try {
      await this.options.onAcquired(held.session);
    } catch (error) {
      this.options.onError?.(error);
      await this.release(sessionId, 'gone');
    }
  }

  private async release(sessionId: string, reason: ReleaseReason): Promise<void> {
    const held = this.held.get(sessionId);
    if (!held) return;
    this.held.delete(sessionId);
    held.deadline?.cancel();
    held.abort.abort(reason);
    this.metrics?.releases.inc({ reason });
    if (reason === 'lost' || reason === 'deadline') this.metrics?.lost.inc({ reason });
    if (reason === 'rebalanced' || reason === 'shutdown') this.metrics?.handovers.inc({ reason });
    try {
      await this.options.onReleased(held.session, reason);
    } finally {
      // Only after the socket is closed may someone else claim. A lost lease is not ours to
      // delete; past the deadline it may still be (Redis was unreachable): compare-and-delete.
      if (reason !== 'lost') {
        await releaseLease(
          this.options.redis,
          sessionKeys(this.options.keyPrefix, sessionId).lease,
          held.token,
        ).catch((error: unknown) => this.options.onError?.(error));
      }
      this.metrics?.owned.set(this.held.size);
    }
  }
}
