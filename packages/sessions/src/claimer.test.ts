// One process, several claimers, real Redis and Postgres: the rules of a round, and the
// renewal deadline when Redis goes away.
import type { Db } from '@switchboard/db';
import { createRedis } from '@switchboard/redis';
import { createMetricsRegistry } from '@switchboard/telemetry';
import {
  createTestDatabase,
  forceSentinelFailover,
  redisOptions,
  sentinelOptions,
  startRedis,
  type TestDatabase,
  uniquePrefix,
} from '@switchboard/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OwnedSession, type ReleaseReason, SessionClaimer } from './claimer.ts';
import { sessionKeys } from './keys.ts';
import { seedTenant } from './testing/tenant-fixture.ts';
import { eventually } from './testing/worker-fleet.ts';

let database: TestDatabase;
let db: Db;
let tenantId: string;
let sessionIds: string[];
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  database = await createTestDatabase({ label: 'claimer' });
  ({ db, tenantId, sessionIds } = await seedTenant(database, 12));
});
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await db?.$disconnect();
  await database?.drop();
});

function claimer(
  redis: Redis,
  keyPrefix: string,
  workerId: string,
  log: string[],
  ttlMs = 1200,
  maxSessions = 50,
) {
  const c = new SessionClaimer({
    redis,
    db,
    tenantId,
    keyPrefix,
    workerId,
    leaseTtlMs: ttlMs,
    maxSessions,
    onAcquired: (s: OwnedSession) => void log.push(`+${s.sessionId}`),
    onReleased: (s: OwnedSession, reason: ReleaseReason) => void log.push(`-${s.sessionId}:${reason}`),
  });
  cleanups.push(() => c.stop());
  return c;
}

describe('SessionClaimer', () => {
  it('holds no more than maxSessions, and claims with a fresh epoch and a raised fence', async () => {
    const redis = new Redis(redisOptions());
    cleanups.push(() => redis.disconnect());
    const keyPrefix = `${uniquePrefix('cap')}:`;
    const log: string[] = [];
    const capped = claimer(redis, keyPrefix, 'capped', log, 1200, 5);
    await capped.round(); // announces
    await capped.round(); // claims
    expect(capped.owned()).toHaveLength(5);
    for (const s of capped.owned()) {
      expect(await redis.get(sessionKeys(keyPrefix, s.sessionId).fence)).toBe(String(s.fence.epoch));
      expect((await redis.get(sessionKeys(keyPrefix, s.sessionId).lease))?.startsWith('capped:')).toBe(true);
    }
    await capped.stop();
    expect(log.filter((l) => l.endsWith(':shutdown'))).toHaveLength(5);
    expect(
      await redis.exists(...capped.owned().map((s) => sessionKeys(keyPrefix, s.sessionId).lease), 'none'),
    ).toBe(0);
  });

  it('closes its sockets by itself when it cannot renew before the deadline (Redis gone)', async () => {
    const server = await startRedis();
    cleanups.push(() => server.stop());
    const redis = new Redis({
      host: server.host,
      port: server.port,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
    });
    redis.on('error', () => {});
    cleanups.push(() => redis.disconnect());
    await new Promise((resolve) => redis.once('ready', resolve));
    const log: string[] = [];
    const metrics = createMetricsRegistry({ service: 'test', collectDefaultMetrics: false });
    const c = new SessionClaimer({
      redis,
      db,
      tenantId,
      keyPrefix: 'deadline:',
      workerId: 'lonely',
      leaseTtlMs: 1200,
      maxSessions: 3,
      metrics,
      onAcquired: (s) => void log.push(`+${s.sessionId}`),
      onReleased: (s, reason) => void log.push(`-${s.sessionId}:${reason}`),
      onError: () => {},
    });
    cleanups.push(() => c.abandon());
    await c.round();
    await c.round();
    expect(c.owned()).toHaveLength(3);
    const signals = c.owned().map((s) => s.signal);
    const stoppedAt = Date.now();
    await server.stop();
    c.start();
    await eventually('every socket closed', () => c.owned().length === 0, 5_000);
    // Before the lease could have expired in Redis (TTL 1200 ms from the last renewal).
    expect(Date.now() - stoppedAt).toBeLessThan(1200);
    expect(log.filter((l) => l.endsWith(':deadline'))).toHaveLength(3);
    expect(signals.every((s) => s.aborted)).toBe(true);
    expect(await metrics.metrics()).toMatch(
      /switchboard_sessions_lost_leases_total\{[^}]*reason="deadline"[^}]*\} 3/,
    );
  });

  it('keeps or re-acquires every session through a Sentinel failover, never with two owners at the end', async () => {
    const keyPrefix = `${uniquePrefix('failover')}:`;
    const logs: Record<string, string[]> = { x: [], y: [] };
    const claimers = (['x', 'y'] as const).map((id) => {
      const redis = createRedis({
        target: { mode: 'sentinel', ...sentinelOptions() },
        role: 'command',
      }) as Redis;
      cleanups.push(() => redis.disconnect());
      const c = claimer(redis, keyPrefix, id, logs[id]!, 1500);
      c.start();
      return c;
    });
    const allOwned = () => claimers.reduce((n, c) => n + c.owned().length, 0) === sessionIds.length;
    await eventually('both to hold all sessions', allOwned, 15_000);
    await forceSentinelFailover();
    // A few rounds after the switch, the ownership has settled again.
    await new Promise((r) => setTimeout(r, 2500));
    await eventually('all sessions held again', allOwned, 15_000);
    const [x, y] = claimers.map((c) => new Set(c.owned().map((s) => s.sessionId)));
    expect([...x!].filter((id) => y!.has(id))).toEqual([]);
    expect(new Set([...x!, ...y!])).toEqual(new Set(sessionIds));
  });
});
