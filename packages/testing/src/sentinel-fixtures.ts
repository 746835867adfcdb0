import { inject } from 'vitest';
import { forceFailover as failoverOf, type HostPort, currentPrimary as primaryOf } from './redis-server.ts';

/**
 * Forces a failover of the run's Sentinel group and resolves with the old and new primary once
 * every sentinel agrees on a new writable primary.
 */
export async function forceSentinelFailover(timeoutMs?: number): Promise<{ from: HostPort; to: HostPort }> {
  return await failoverOf(inject('sentinel'), timeoutMs);
}

/** The primary of the run's Sentinel group, once the sentinels agree on it. */
export async function currentSentinelPrimary(): Promise<HostPort> {
  return await primaryOf(inject('sentinel'));
}
