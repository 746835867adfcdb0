// WAIT after claims and renewals: against the run's real Sentinel group (acknowledged: the lease
// and fence are on every node when the claim returns), and against a primary whose one replica
// is stopped with SIGSTOP (connected but silent: nothing can acknowledge, deterministically).
import type { Db } from '@switchboard/db';
import { createRedis } from '@switchboard/redis';
import {
  createTestDatabase,
  sentinelOptions,
  startRedis,
  type TestDatabase,
  uniquePrefix,
  withSettledSentinelGroup,
} from '@switchboard/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type OwnedSession, type ReleaseReason, SessionClaimer } from './claimer.ts';
import { SessionsError } from './errors.ts';
import { sessionKeys } from './keys.ts';
import { waitForReplicas } from './replication.ts';
import { seedTenant } from './testing/tenant-fixture.ts';
import { eventually } from './testing/worker-fleet.ts';

let database: TestDatabase;
let db: Db;
let tenantId: string;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  database = await createTestDatabase({ label: 'replication' });
  ({ db, tenantId } = await seedTenant(database, 4));
});
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await db?.$disconnect();
  await database?.drop();
});

function claimerOn(redis: Redis, keyPrefix: string, timeoutMs: number, replicas: number) {
  const log: string[] = [];
  const errors: unknown[] = [];
  const claimer = new SessionClaimer({
    redis,
    db,
    tenantId,
    keyPrefix,
    workerId: 'w',
    leaseTtlMs: 1200,
    maxSessions: 10,
    replicaWait: { replicas, timeoutMs },
    onAcquired: (s: OwnedSession) => void log.push(`+${s.sessionId}`),
    onReleased: (s: OwnedSession, reason: ReleaseReason) => void log.push(`-${s.sessionId}:${reason}`),
    onError: (error) => void errors.push(error),
  });
  cleanups.push(() => claimer.stop());
  return { claimer, log, errors };
}

/** A primary and one replica of it, started for this file; `pause()` SIGSTOPs the replica. */
async function primaryWithReplica() {
  const primary = await startRedis();
  const replica = await startRedis();
  let paused = false;
  cleanups.push(async () => {
    if (paused) process.kill(replica.pid, 'SIGCONT');
    await replica.stop();
    await primary.stop();
  });
  const replicaClient = new Redis({ host: replica.host, port: replica.port });
  await replicaClient.call('REPLICAOF', primary.host, String(primary.port));
  const redis = new Redis({ host: primary.host, port: primary.port });
  cleanups.push(() => redis.disconnect());
  await eventually(
    'the replica in sync',
    async () => /master_link_status:up/.test(await replicaClient.info('replication')),
    10_000,
  );
  replicaClient.disconnect();
  return {
    redis,
    pause: () => {
      process.kill(replica.pid, 'SIGSTOP');
      paused = true;
    },
    resume: () => {
      process.kill(replica.pid, 'SIGCONT');
      paused = false;
    },
  };
}

describe('waitForReplicas', () => {
  it('has nothing to wait for on a Redis without replicas', async () => {
    const server = await startRedis();
    cleanups.push(() => server.stop());
    const redis = new Redis({ host: server.host, port: server.port });
    cleanups.push(() => redis.disconnect());
    await redis.set('x', '1');
    expect(await waitForReplicas(redis, { replicas: 1, timeoutMs: 5_000 })).toBe('no-replicas');
  });
});

describe('SessionClaimer with replicaWait', () => {
  it('on the Sentinel group: every claimed lease and fence is on every node when the claim returns', async () => {
    // The group stays whole (no other file's failover, whose resync empties a replica for a
    // moment) from the claim until every node has been read.
    await withSettledSentinelGroup(async () => {
      const redis = createRedis({
        target: { mode: 'sentinel', ...sentinelOptions() },
        role: 'command',
      }) as Redis;
      cleanups.push(() => redis.disconnect());
      const keyPrefix = `${uniquePrefix('repl-ok')}:`;
      const { claimer, errors } = claimerOn(redis, keyPrefix, 5_000, 2);
      await claimer.round();
      await claimer.round();
      expect(errors).toEqual([]);
      expect(claimer.owned()).toHaveLength(4);
      // Acknowledged by both replicas: each of the three nodes holds every fence now, so a
      // failover to any of them keeps it.
      for (const node of inject('sentinel').nodes) {
        const direct = new Redis({ host: node.host, port: node.port });
        try {
          for (const s of claimer.owned())
            expect(await direct.get(sessionKeys(keyPrefix, s.sessionId).fence)).toBe(String(s.fence.epoch));
        } finally {
          direct.disconnect();
        }
      }
    });
  });

  it('abandons a claim no replica acknowledged, and claims once replication is back', async () => {
    const { redis, pause, resume } = await primaryWithReplica();
    const keyPrefix = `${uniquePrefix('repl-claim')}:`;
    const { claimer, log, errors } = claimerOn(redis, keyPrefix, 200, 1);
    await claimer.round(); // announces
    pause();
    await claimer.round();
    expect(claimer.owned()).toEqual([]);
    expect(log.filter((l) => l.startsWith('+'))).toEqual([]);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => e instanceof SessionsError && e.code === 'NOT_REPLICATED')).toBe(true);
    // Each abandoned claim released its lease: another worker may claim at once.
    expect(await redis.keys(`${keyPrefix}session:*:lease`)).toEqual([]);
    resume();
    await claimer.round();
    expect(claimer.owned()).toHaveLength(4);
  });

  it('does not extend deadlines on renewals no replica acknowledged: the sessions close at the last deadline', async () => {
    const { redis, pause } = await primaryWithReplica();
    const keyPrefix = `${uniquePrefix('repl-renew')}:`;
    const { claimer, log, errors } = claimerOn(redis, keyPrefix, 200, 1);
    await claimer.round();
    await claimer.round();
    expect(claimer.owned()).toHaveLength(4);
    pause();
    claimer.start();
    await eventually('every session closed at its deadline', () => claimer.owned().length === 0, 10_000);
    expect(log.filter((l) => l.endsWith(':deadline'))).toHaveLength(4);
    expect(errors.some((e) => e instanceof SessionsError && e.code === 'NOT_REPLICATED')).toBe(true);
  });
});
