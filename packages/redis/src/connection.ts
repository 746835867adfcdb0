import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';

/** Where Redis is: one server, a Sentinel group, or a Cluster. */
export type RedisTarget =
  | { mode: 'standalone'; host: string; port: number; db?: number }
  | {
      mode: 'sentinel';
      sentinels: { host: string; port: number }[];
      name: string;
      db?: number;
      /** The ACL user the Sentinels know the client as (the operator's Sentinels: the same as on Redis). */
      sentinelUsername?: string;
      sentinelPassword?: string;
    }
  | { mode: 'cluster'; nodes: { host: string; port: number }[] };

/**
 * What the connection is for; each role gets the options BullMQ and ioredis document for it.
 *
 * - `worker`: BullMQ Workers and QueueEvents, and anything that blocks. BullMQ requires
 *   `maxRetriesPerRequest: null` so a blocking command is retried across reconnects forever
 *   instead of rejecting and stopping the worker.
 * - `producer`: Queue.add and API-side writes. Fails fast (no offline queue, one retry) so a
 *   request handler answers 503 rather than hanging while Redis is unreachable.
 * - `command`: ordinary commands (leases, rate limits, caches). Queues commands while
 *   reconnecting, for a bounded number of retries.
 */
export type RedisRole = 'worker' | 'producer' | 'command';

/** Options for {@link createRedis}. */
export interface RedisConnectionOptions {
  target: RedisTarget;
  role: RedisRole;
  username?: string;
  password?: string;
  tls?: boolean;
  /** Shown in CLIENT LIST, which is how an SRE finds which pod holds a connection. */
  connectionName?: string;
  /** Connect on first command instead of at construction. */
  lazyConnect?: boolean;
}

/** The longest pause between reconnect attempts, to Redis or to the sentinels. */
export const MAX_RECONNECT_DELAY_MS = 2_000;

/** Exponential-ish backoff capped at MAX_RECONNECT_DELAY_MS; never returns null, so it never gives up. */
export function reconnectDelay(attempt: number): number {
  return Math.min(50 * 2 ** Math.min(attempt, 10), MAX_RECONNECT_DELAY_MS);
}

/**
 * After a failover the old primary may briefly stay reachable as a replica, and a write sent
 * there fails with READONLY. Returning 2 tells ioredis to reconnect (asking Sentinel for the
 * current primary) and re-send the failed command, so callers never see the error.
 */
export function reconnectOnReadonly(error: Error): boolean | 1 | 2 {
  return error.message.startsWith('READONLY') ? 2 : false;
}

function roleOptions(role: RedisRole): RedisOptions {
  switch (role) {
    case 'worker':
      return { maxRetriesPerRequest: null, enableOfflineQueue: true };
    case 'producer':
      return { maxRetriesPerRequest: 1, enableOfflineQueue: false, socketTimeout: 10_000 };
    case 'command':
      return { maxRetriesPerRequest: 20, enableOfflineQueue: true, socketTimeout: 30_000 };
  }
}

function commonOptions(options: RedisConnectionOptions): RedisOptions {
  return {
    ...roleOptions(options.role),
    username: options.username,
    password: options.password,
    connectionName: options.connectionName,
    lazyConnect: options.lazyConnect ?? false,
    // Detects half-open TCP connections (a primary that vanished without a FIN).
    keepAlive: 10_000,
    connectTimeout: 10_000,
    retryStrategy: reconnectDelay,
    reconnectOnError: reconnectOnReadonly,
    ...(options.tls ? { tls: {} } : {}),
  };
}

/** The ioredis options {@link createRedis} uses for a standalone or Sentinel target. */
export function redisOptionsFor(options: RedisConnectionOptions): RedisOptions {
  const common = commonOptions(options);
  const { target } = options;
  switch (target.mode) {
    case 'standalone':
      return { ...common, host: target.host, port: target.port, db: target.db ?? 0 };
    case 'sentinel':
      return {
        ...common,
        sentinels: target.sentinels,
        name: target.name,
        db: target.db ?? 0,
        role: 'master',
        sentinelUsername: target.sentinelUsername,
        sentinelPassword: target.sentinelPassword,
        // Sentinels can all be briefly unreachable (a rolling restart of the Sentinel
        // StatefulSet): keep asking rather than giving up and leaving a dead client behind.
        sentinelRetryStrategy: reconnectDelay,
        // Subscribes to +switch-master so the client moves to the new primary as soon as the
        // sentinels announce it, instead of waiting for its socket to the old one to fail.
        failoverDetector: true,
        enableTLSForSentinelMode: options.tls ?? false,
      };
    case 'cluster':
      throw new Error('cluster targets are created with createRedis, which returns an ioredis Cluster');
  }
}

/** Creates an ioredis client (or Cluster) for the target with the options its role needs. */
export function createRedis(options: RedisConnectionOptions): Redis | Cluster {
  if (options.target.mode === 'cluster') {
    const clusterOptions: ClusterOptions = {
      clusterRetryStrategy: reconnectDelay,
      enableOfflineQueue: options.role !== 'producer',
      redisOptions: commonOptions(options),
    };
    return new Cluster(options.target.nodes, clusterOptions);
  }
  return new Redis(redisOptionsFor(options));
}
