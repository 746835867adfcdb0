import { randomBytes } from 'node:crypto';
import { RedisScript } from '@switchboard/redis';
import type { Redis } from 'ioredis';

/**
 * Session leases in Redis: `SET key token NX PX ttl` to acquire, compare-and-renew and
 * compare-and-delete scripts to renew and release, so a worker only ever extends or drops a
 * lease it still holds. A lease is the efficient half of "one live socket per number"; the
 * Postgres epoch (fence.ts) is the correct half, because a Sentinel failover can lose a lease
 * that was written to the old primary and not yet replicated.
 */

const RENEW = new RedisScript(
  `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0`,
);
const RELEASE = new RedisScript(
  `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0`,
);

/** A unique owner token for one claim: the worker id plus randomness, so a restarted worker with the same id does not inherit leases. */
export function ownerToken(workerId: string): string {
  return `${workerId}:${randomBytes(8).toString('hex')}`;
}

/** Takes the lease if nobody holds it; true when this token now holds it. */
export async function acquireLease(
  redis: Redis,
  key: string,
  token: string,
  ttlMs: number,
): Promise<boolean> {
  return (await redis.set(key, token, 'PX', ttlMs, 'NX')) === 'OK';
}

/** Extends the lease if this token still holds it; false when it was lost (expired, taken over). */
export async function renewLease(redis: Redis, key: string, token: string, ttlMs: number): Promise<boolean> {
  return Number(await RENEW.run(redis, [key], [token, ttlMs])) === 1;
}

/** Renews many leases in one round trip; the result is, per key, whether it is still held. */
export async function renewLeases(
  redis: Redis,
  leases: readonly { key: string; token: string }[],
  ttlMs: number,
): Promise<boolean[]> {
  if (leases.length === 0) return [];
  const pipeline = redis.pipeline();
  // A pipeline cannot retry one command on NOSCRIPT, so each carries the script's text.
  for (const { key, token } of leases) pipeline.eval(RENEW.lua, 1, key, token, String(ttlMs));
  const results = (await pipeline.exec()) ?? [];
  return results.map(([error, value]) => !error && Number(value) === 1);
}

/** Drops the lease if this token holds it, so another worker can claim at once. */
export async function releaseLease(redis: Redis, key: string, token: string): Promise<boolean> {
  return Number(await RELEASE.run(redis, [key], [token])) === 1;
}

/** The token holding the lease, if any. */
export async function leaseHolder(redis: Redis, key: string): Promise<string | null> {
  return await redis.get(key);
}
