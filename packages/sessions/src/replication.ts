import type { Redis } from 'ioredis';

/**
 * Sentinel replication is asynchronous: a write acknowledged by the primary can be lost when a
 * replica that had not received it is promoted. Where that matters (a claim's lease and fence,
 * their renewals, the auth state) the writer follows its writes with `WAIT`, which returns once
 * that many replicas acknowledged every write this connection made before it, or at the timeout.
 *
 * Outcomes, and what callers do with them:
 * - `acknowledged`: the writes survive a failover to any acknowledging replica.
 * - `no-replicas`: the primary has no connected replica (a standalone Redis, or every replica
 *   down): nothing can be promoted with older data, so there is nothing to wait for.
 * - `unacknowledged`: a replica is connected but did not acknowledge within the timeout; the
 *   writes are on the primary and may be lost by a failover. The caller decides (the claimer
 *   abandons a claim and does not extend deadlines; the worker logs auth-state writes).
 *
 * WAIT blocks the connection it runs on (Redis serves one client's commands in order), so the
 * timeout bounds how long a lagging replica holds up the other commands of that connection.
 */

/** How many replicas to wait for, and for how long. */
export interface ReplicaWaitPolicy {
  /** Replicas that must acknowledge (capped by those connected); at least 1. */
  replicas: number;
  timeoutMs: number;
}

/** What waiting for replicas gave (see the module comment). */
export type ReplicationOutcome = 'acknowledged' | 'no-replicas' | 'unacknowledged';

/** Waits until the writes made so far on `redis` reached the policy's replicas, or its timeout. */
export async function waitForReplicas(redis: Redis, policy: ReplicaWaitPolicy): Promise<ReplicationOutcome> {
  const info = await redis.info('replication');
  const connected = Number(/^connected_slaves:(\d+)/m.exec(info)?.[1] ?? '0');
  if (connected === 0) return 'no-replicas';
  const wanted = Math.max(1, Math.min(policy.replicas, connected));
  const acknowledged = Number(await redis.call('WAIT', String(wanted), String(policy.timeoutMs)));
  return acknowledged >= wanted ? 'acknowledged' : 'unacknowledged';
}
