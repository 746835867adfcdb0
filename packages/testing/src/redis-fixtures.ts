import { randomBytes } from 'node:crypto';
import { redisAclRules, sentinelAclRules } from '@switchboard/redis/acl';
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

/** An ACL user of a service role, on the run's Redis servers; see {@link createRedisRoleUser}. */
export interface RedisRoleUser {
  username: string;
  password: string;
  /** Deletes the user everywhere it was created. */
  remove(): Promise<void>;
}

async function onEach<T>(
  servers: readonly { host: string; port: number }[],
  fn: (client: Redis) => Promise<T>,
): Promise<void> {
  await Promise.all(
    servers.map(async (server) => {
      const client = new Redis({ ...server, lazyConnect: true, maxRetriesPerRequest: 0 });
      try {
        await client.connect();
        await fn(client);
      } finally {
        client.disconnect();
      }
    }),
  );
}

/**
 * The rules of `role` for one or more tenant prefixes: the role's commands and the key patterns
 * of every prefix (a test app serving two tenants reaches both).
 */
function roleRules(role: 'api' | 'worker', keyPrefixes: readonly string[]): string[] {
  const isKeyRule = (rule: string) => rule.includes('~');
  const [first, ...rest] = keyPrefixes.map((keyPrefix) => redisAclRules(role, { keyPrefix }));
  return [...first!, ...rest.flatMap((rules) => rules.filter(isKeyRule))];
}

/**
 * Creates the ACL user of `role` (`api` or `worker`) for the tenant key prefix `keyPrefix` (or
 * several),
 * with the rules the operator gives a tenant's (packages/redis's acl.ts), on the run's standalone
 * Redis, on every data node of the Sentinel group (ACL users are not replicated, so each node
 * gets it, as the operator's redis.conf does) and on every Sentinel. A test connects with these
 * credentials to run as that service would. The user's name is unique to the call.
 */
export async function createRedisRoleUser(
  role: 'api' | 'worker',
  keyPrefix: string | readonly string[],
): Promise<RedisRoleUser> {
  const prefixes = typeof keyPrefix === 'string' ? [keyPrefix] : keyPrefix;
  if (prefixes.length === 0) throw new Error('createRedisRoleUser needs at least one key prefix');
  const username = `${role}-${randomBytes(5).toString('hex')}`;
  const password = randomBytes(18).toString('base64url');
  const group = inject('sentinel');
  const dataNodes = [inject('redis'), ...group.nodes];
  const user = (rules: string[]) => ['SETUSER', username, 'reset', 'on', `>${password}`, ...rules];
  await onEach(dataNodes, (client) => client.call('ACL', ...user(roleRules(role, prefixes))));
  await onEach(group.sentinels, (client) => client.call('ACL', ...user(sentinelAclRules(role))));
  return {
    username,
    password,
    async remove() {
      await onEach([...dataNodes, ...group.sentinels], (client) => client.call('ACL', 'DELUSER', username));
    },
  };
}
