import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { inject } from 'vitest';
import './provided-context.ts';
import { deleteKeysWithPrefix } from './redis-keys.ts';

export { deleteKeysWithPrefix };

/**
 * A key prefix no other test uses, so test files share one Redis without seeing each other's
 * keys. Only letters, digits and dashes: BullMQ rejects ':' in queue names and uses the prefix
 * as a key segment.
 */
export function uniquePrefix(label = 'test'): string {
  const safe = label
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .slice(0, 24);
  return `sbt-${safe}-${randomBytes(5).toString('hex')}`;
}

/** Connection options for the run's standalone Redis (from the global setup). */
export function redisOptions(): { host: string; port: number } {
  const { host, port } = inject('redis');
  return { host, port };
}

/** Connection options for the run's Sentinel group, for ioredis' `sentinels` + `name`. */
export function sentinelOptions(): { sentinels: { host: string; port: number }[]; name: string } {
  const { sentinels, name } = inject('sentinel');
  return { sentinels, name };
}

/** A Redis key prefix for one test plus a cleanup that removes whatever the test left under it. */
export interface RedisNamespace {
  prefix: string;
  cleanup(): Promise<void>;
}

/** Makes a unique prefix on the run's standalone Redis; call `cleanup()` in afterEach/afterAll. */
export function redisNamespace(label?: string): RedisNamespace {
  const prefix = uniquePrefix(label);
  return {
    prefix,
    async cleanup() {
      const client = new Redis({ ...redisOptions(), lazyConnect: true });
      try {
        await client.connect();
        await deleteKeysWithPrefix(client, prefix);
      } finally {
        client.disconnect();
      }
    },
  };
}
