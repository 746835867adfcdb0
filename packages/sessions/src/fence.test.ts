import type { Db } from '@switchboard/db';
import { createTestDatabase, redisOptions, type TestDatabase, uniquePrefix } from '@switchboard/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StaleEpochError } from './errors.ts';
import { assertFence, claimEpoch, currentFence, raiseFence, updateSessionState } from './fence.ts';
import { sessionKeys } from './keys.ts';
import { acquireLease, releaseLease, renewLease } from './lease.ts';
import { seedTenant } from './testing/tenant-fixture.ts';

let database: TestDatabase;
let db: Db;
let tenantId: string;
let sessionIds: string[];
let redis: Redis;
const keyPrefix = `${uniquePrefix('fence')}:`;

beforeAll(async () => {
  database = await createTestDatabase({ label: 'fence' });
  ({ db, tenantId, sessionIds } = await seedTenant(database, 2));
  redis = new Redis(redisOptions());
});
afterAll(async () => {
  redis?.disconnect();
  await db?.$disconnect();
  await database?.drop();
});

describe('leases', () => {
  it('has one holder; only the holder renews or releases', async () => {
    const key = sessionKeys(keyPrefix, 'lease-1').lease;
    expect(await acquireLease(redis, key, 'a', 5_000)).toBe(true);
    expect(await acquireLease(redis, key, 'b', 5_000)).toBe(false);
    expect(await renewLease(redis, key, 'b', 5_000)).toBe(false);
    expect(await releaseLease(redis, key, 'b')).toBe(false);
    expect(await redis.get(key)).toBe('a');
    expect(await renewLease(redis, key, 'a', 5_000)).toBe(true);
    expect(await releaseLease(redis, key, 'a')).toBe(true);
    expect(await acquireLease(redis, key, 'b', 5_000)).toBe(true);
  });

  it('expires after its TTL unless renewed', async () => {
    const key = sessionKeys(keyPrefix, 'lease-2').lease;
    expect(await acquireLease(redis, key, 'a', 150)).toBe(true);
    await new Promise((r) => setTimeout(r, 250));
    expect(await renewLease(redis, key, 'a', 150)).toBe(false);
    expect(await acquireLease(redis, key, 'b', 5_000)).toBe(true);
  });
});

describe('fencing', () => {
  it('takes a strictly increasing epoch per claim, in Postgres', async () => {
    const first = await claimEpoch(db, tenantId, sessionIds[0]!, 'worker-a');
    const second = await claimEpoch(db, tenantId, sessionIds[0]!, 'worker-b');
    expect(second).toBe(first + 1n);
    const concurrent = await Promise.all(
      Array.from({ length: 10 }, (_, i) => claimEpoch(db, tenantId, sessionIds[0]!, `w${i}`)),
    );
    expect(new Set(concurrent.map(String)).size).toBe(10);
  });

  it('refuses a state write from a superseded claim, and accepts the current one', async () => {
    const sessionId = sessionIds[1]!;
    const old = await claimEpoch(db, tenantId, sessionId, 'paused-worker');
    const current = await claimEpoch(db, tenantId, sessionId, 'new-owner');
    await updateSessionState(db, { tenantId, sessionId, epoch: current }, { state: 'connected' });
    await expect(
      updateSessionState(
        db,
        { tenantId, sessionId, epoch: old },
        { state: 'disconnected', reason: 'late write' },
      ),
    ).rejects.toBeInstanceOf(StaleEpochError);
    const row = await db.$transaction(async (tx) => {
      await tx.$queryRaw`SELECT set_config('switchboard.tenant_id', ${tenantId}, true)`;
      return await tx.session.findUniqueOrThrow({ where: { id: sessionId } });
    });
    expect(row.state).toBe('connected');
    expect(row.owner).toBe('new-owner');
  });

  it('keeps the Redis fence at the highest epoch, whatever order the raises arrive in', async () => {
    const { fence } = sessionKeys(keyPrefix, 'fenced');
    await raiseFence(redis, fence, 5n);
    await raiseFence(redis, fence, 3n);
    expect(await currentFence(redis, fence)).toBe(5n);
    await expect(
      assertFence(redis, fence, { tenantId, sessionId: 'fenced', epoch: 4n }, 'send'),
    ).rejects.toMatchObject({
      code: 'STALE_EPOCH',
    });
    await expect(
      assertFence(redis, fence, { tenantId, sessionId: 'fenced', epoch: 5n }, 'send'),
    ).resolves.toBeUndefined();
  });
});
