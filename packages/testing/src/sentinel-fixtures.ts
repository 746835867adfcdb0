import { Redis } from 'ioredis';
import { inject } from 'vitest';
import './provided-context.ts';
import { currentPrimary, forceFailover, type HostPort, waitForWholeGroup } from './redis-server.ts';

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
  // Not waiting here for the demoted primary to rejoin: Sentinel converts it to a replica only
  // on its next INFO refresh (about 10 s later), and most tests need only the new primary.
  return await withFailoverLock(() => forceFailover(inject('sentinel'), timeoutMs));
}

/**
 * The primary of the run's Sentinel group once it is whole: every sentinel agrees, and both
 * replicas are online (up to about 15 s after a failover, see waitForWholeGroup). Takes the
 * failover lock, so no other test file's failover starts meanwhile.
 */
export async function settledSentinelGroup(): Promise<HostPort> {
  return await withFailoverLock(() => waitForWholeGroup(inject('sentinel')));
}

/**
 * Runs `fn` with the run's Sentinel group whole and kept so: the failover lock is held until
 * `fn` ends, so no other test file's failover (which makes a replica resynchronise from scratch,
 * empty for a moment) happens while `fn` looks at every node. Keep `fn` well under a minute.
 */
export async function withSettledSentinelGroup<T>(fn: (primary: HostPort) => Promise<T>): Promise<T> {
  return await withFailoverLock(async () => fn(await waitForWholeGroup(inject('sentinel'))));
}

/** The primary of the run's Sentinel group, once the sentinels agree on it. */
export async function currentSentinelPrimary(): Promise<HostPort> {
  return await currentPrimary(inject('sentinel'));
}
