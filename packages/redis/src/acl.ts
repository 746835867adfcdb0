/**
 * The Redis ACL users of a tenant's Redis and Sentinels, one per role, instead of one shared
 * password. The rules are data (no I/O, no ioredis), so the operator renders them into the
 * tenant's redis.conf and sentinel.conf (operator/src/specs/redis-scripts.ts), and the test
 * fixtures and the devstack create the same users on their own servers.
 *
 * Who is who:
 * - `api`: the internet-facing API. Only its own keys (rate limits and login counters under
 *   `<prefix>api:`), the tenant's BullMQ queues (`<prefix>bull:`, it is their producer), the
 *   realtime stream (`<prefix>events`), and read-only the sessions' pairing records
 *   (`<prefix>session:*:pairing`). Not the Baileys auth state (`<prefix>session:<id>:auth`),
 *   the session leases or fences, nor any other tenant's keys: a compromised API pod cannot read
 *   the WhatsApp account keys, nor take over a session. A new key the API writes goes under
 *   `<prefix>api:` (or gets its own pattern here); the API's tests run as this user
 *   (services/api/src/testing/api-fixture.ts), so one outside the list fails them with NOPERM.
 * - `worker`: every key under the tenant's prefix (it holds sessions and their auth state).
 * - `replication`: what a replica needs from its primary (PSYNC, REPLCONF, PING).
 * - `sentinel`: what Sentinel needs to monitor and fail over (the command list of Redis's
 *   Sentinel documentation), on the data nodes and between Sentinels; the pods' probes and
 *   start scripts use it too (ROLE, INFO, SENTINEL get-master-addr-by-name).
 * - `admin`: everything, for people debugging with redis-cli; no service pod holds it.
 * The `default` user is off.
 *
 * Commands (api and worker): reads and writes of data, transactions and Lua scripts (EVAL and
 * EVALSHA; the commands a script runs are checked against the same rules, keys included), and
 * the connection housekeeping ioredis and BullMQ do (HELLO, AUTH, SELECT, CLIENT SETNAME/ID/INFO,
 * INFO for BullMQ's version and maxmemory-policy check). Never Redis's `@dangerous` commands
 * (CONFIG, KEYS, FLUSHALL, DEBUG, MONITOR, SHUTDOWN, ACL, ...), nor SCAN or RANDOMKEY (they list
 * key names the rules would not let the user read), FUNCTION (server-side code), pub/sub
 * (no channel is allowed), nor client tracking.
 */

/** The roles that get a Redis user. */
export const REDIS_ACL_ROLES = ['api', 'worker', 'replication', 'sentinel', 'admin'] as const;

/** One of {@link REDIS_ACL_ROLES}; also the user's name. */
export type RedisAclRole = (typeof REDIS_ACL_ROLES)[number];

/** Options for {@link redisAclRules}. */
export interface RedisAclOptions {
  /** The tenant's key prefix (`sb:<slug>:`, messaging's tenantKeyPrefix); every key pattern starts with it. */
  keyPrefix: string;
}

/** `text` with Redis glob characters escaped, so a prefix matches only itself. */
export function escapeRedisGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

// The data commands the services use, and the housekeeping their clients do; see the module comment.
const SERVICE_COMMANDS = [
  '-@all',
  '+@read',
  '+@write',
  '+@transaction',
  '+eval',
  '+evalsha',
  '+eval_ro',
  '+evalsha_ro',
  '+script|load',
  '+script|exists',
  '+hello',
  '+auth',
  '+ping',
  '+echo',
  '+select',
  '+quit',
  '+reset',
  '+time',
  '+client|setname',
  '+client|getname',
  '+client|id',
  '+client|info',
  // After the categories above: removes KEYS, SORT, FLUSHDB, FLUSHALL, MIGRATE, RESTORE, INFO...
  '-@dangerous',
  // ...and gives INFO back (BullMQ reads the version and maxmemory-policy from it).
  '+info',
  '-scan',
  '-randomkey',
  '-function',
];

// Redis's Sentinel documentation lists these as what a Sentinel runs on the data nodes.
const SENTINEL_ON_DATA_NODES = [
  '-@all',
  '+multi',
  '+slaveof',
  '+ping',
  '+exec',
  '+subscribe',
  '+config|rewrite',
  '+role',
  '+publish',
  '+info',
  '+client|setname',
  '+client|kill',
  '+script|kill',
  '+auth',
  '+hello',
];

/** ACL rules (without `on` and the password) of `role` on the tenant's Redis data nodes. */
export function redisAclRules(role: RedisAclRole, options: RedisAclOptions): string[] {
  const prefix = escapeRedisGlob(options.keyPrefix);
  switch (role) {
    case 'api':
      return [
        'resetkeys',
        'resetchannels',
        `~${prefix}api:*`,
        `~${prefix}bull:*`,
        `~${prefix}events`,
        `%R~${prefix}session:*:pairing`,
        ...SERVICE_COMMANDS,
      ];
    case 'worker':
      // WAIT: session claims and auth-state writes wait for a replica (REDIS_REPLICA_WAIT).
      return ['resetkeys', 'resetchannels', `~${prefix}*`, ...SERVICE_COMMANDS, '+wait'];
    case 'replication':
      return ['resetkeys', 'resetchannels', '-@all', '+psync', '+replconf', '+ping', '+auth', '+hello'];
    case 'sentinel':
      return ['resetkeys', 'allchannels', ...SENTINEL_ON_DATA_NODES];
    case 'admin':
      return ['allkeys', 'allchannels', '+@all'];
  }
}

/**
 * ACL rules (without `on` and the password) of `role` on the Sentinels. The services ask them
 * where the primary is and follow `+switch-master`; Sentinels talk to each other as `sentinel`.
 */
export function sentinelAclRules(role: RedisAclRole): string[] {
  switch (role) {
    case 'api':
    case 'worker':
      return [
        'resetkeys',
        'resetchannels',
        '&+switch-master',
        '-@all',
        '+sentinel|get-master-addr-by-name',
        '+sentinel|sentinels',
        '+subscribe',
        '+ping',
        '+auth',
        '+hello',
        '+client|setname',
        '+client|getname',
        '+client|id',
        '+info',
      ];
    case 'replication':
      return ['resetkeys', 'resetchannels', '-@all'];
    case 'sentinel':
    case 'admin':
      return ['allkeys', 'allchannels', '+@all'];
  }
}

/** A config-file line (`user <role> on ><password> <rules>`); the password must hold no spaces. */
export function aclUserLine(role: RedisAclRole, password: string, rules: readonly string[]): string {
  if (/\s/.test(password) || password === '')
    throw new Error(`the ${role} password must be non-empty without spaces`);
  return ['user', role, 'on', `>${password}`, ...rules].join(' ');
}
