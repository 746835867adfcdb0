import type { Redis } from 'ioredis';
import { workersKey } from './keys.ts';

/**
 * Which workers are alive: each one's heartbeat is its score in one sorted set, so the live
 * set is one ZRANGEBYSCORE and a crashed worker drops out by itself once its heartbeat is older
 * than the liveness window (no cleanup needed from anyone).
 */

/** Records that `workerId` is alive now. */
export async function heartbeat(
  redis: Redis,
  keyPrefix: string,
  workerId: string,
  nowMs: number,
): Promise<void> {
  await redis.zadd(workersKey(keyPrefix), nowMs, workerId);
}

/** Workers whose heartbeat is within `windowMs` of now; stale entries are pruned on the way. */
export async function liveWorkers(
  redis: Redis,
  keyPrefix: string,
  nowMs: number,
  windowMs: number,
): Promise<string[]> {
  const key = workersKey(keyPrefix);
  const [, live] = (await redis
    .multi()
    .zremrangebyscore(key, '-inf', `(${nowMs - windowMs}`)
    .zrangebyscore(key, nowMs - windowMs, '+inf')
    .exec()) as [[Error | null, number], [Error | null, string[]]];
  return live[1];
}

/** Removes `workerId` at once (clean shutdown), so the others' fair share grows now. */
export async function leave(redis: Redis, keyPrefix: string, workerId: string): Promise<void> {
  await redis.zrem(workersKey(keyPrefix), workerId);
}

/** This worker's fair share: ceil(sessions / live workers), capped by its maximum. */
export function fairShare(sessions: number, liveWorkerCount: number, maxPerWorker: number): number {
  if (sessions === 0) return 0;
  return Math.min(maxPerWorker, Math.ceil(sessions / Math.max(1, liveWorkerCount)));
}
