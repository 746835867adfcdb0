import { Redis } from 'ioredis';
import { inject } from 'vitest';
import './provided-context.ts';
import { currentPrimary, forceFailover, type HostPort, waitForSentinelGroup } from './redis-server.ts';

const LOCK_KEY = 'switchboard-test:sentinel-failover-lock';

/**
 * Test files share one Sentinel group and run in parallel: a lock on the run's standalone Redis
 * makes their forced failovers take turns, so each sees a clean switch instead of Sentinel's
 * INPROG answers and a group still settling from someone else's failover.
 */
async function withFailoverLock<T>(fn: () => Promise<T>): Promise<T> {
  const client = new Redis({ ...inject('redis') });
  const token = `${process.pid}-${Math.random()}`;
  try {
    const deadline = Date.now() + 120_000;
    while ((await client.set(LOCK_KEY, token, 'PX', 60_000, 'NX')) !== 'OK') {
      if (Date.now() > deadline) throw new Error("waited 120 s for another test file's sentinel failover");
      await new Promise((r) => setTimeout(r, 100));
    }
    return await fn();
  } finally {
    await client.eval(
      "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0",
      1,
      LOCK_KEY,
      token,
    );
    client.disconnect();
  }
}

/**
 * Forces a failover of the run's Sentinel group and resolves with the old and new primary once
 * every sentinel agrees on a new writable primary.
 */
export async function forceSentinelFailover(timeoutMs?: number): Promise<{ from: HostPort; to: HostPort }> {
  return await withFailoverLock(async () => {
    const result = await forceFailover(inject('sentinel'), timeoutMs);
    // The demoted primary rejoins as a replica a few hundred ms later; hold the lock until it
    // has, so the next file's failover (or settledSentinelGroup) starts from a whole group.
    await waitForSentinelGroup(inject('sentinel'), { timeoutMs: 30_000 });
    return result;
  });
}

/**
 * The primary of the run's Sentinel group once it is whole: every sentinel agrees, and both
 * replicas are online. Waits for any failover another test file is forcing to finish first.
 */
export async function settledSentinelGroup(): Promise<HostPort> {
  return await withFailoverLock(() => waitForSentinelGroup(inject('sentinel'), { timeoutMs: 30_000 }));
}

/** The primary of the run's Sentinel group, once the sentinels agree on it. */
export async function currentSentinelPrimary(): Promise<HostPort> {
  return await currentPrimary(inject('sentinel'));
}
