import type { RedisConnectionOptions, RedisTarget } from './connection.ts';

/**
 * The Redis settings every service reads (packages/config's redisConfigSchema, already
 * validated: the variables a mode requires are present), turned into connection options.
 * Structural, so this package needs no dependency on the config package.
 */
export interface RedisSettings {
  REDIS_MODE: 'standalone' | 'sentinel' | 'cluster';
  REDIS_URL?: string | undefined;
  REDIS_SENTINELS?: readonly { host: string; port: number }[] | undefined;
  REDIS_SENTINEL_NAME?: string | undefined;
  REDIS_USERNAME?: string | undefined;
  REDIS_PASSWORD?: string | undefined;
  REDIS_CLUSTER_NODES?: readonly { host: string; port: number }[] | undefined;
}

/** Connection options (target, credentials, TLS) for `settings`; add `role` and `connectionName`. */
export function redisConnectionFromSettings(
  settings: RedisSettings,
): Omit<RedisConnectionOptions, 'role' | 'connectionName' | 'lazyConnect'> {
  const password = settings.REDIS_PASSWORD;
  const user = settings.REDIS_USERNAME;
  switch (settings.REDIS_MODE) {
    case 'standalone': {
      const url = new URL(required(settings.REDIS_URL, 'REDIS_URL', settings.REDIS_MODE));
      const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0;
      if (!Number.isInteger(db) || db < 0)
        throw new Error(`REDIS_URL database must be a number, got ${url.pathname}`);
      const target: RedisTarget = {
        mode: 'standalone',
        host: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port === '' ? 6379 : Number(url.port),
        db,
      };
      const urlPassword = url.password === '' ? undefined : decodeURIComponent(url.password);
      const username = user ?? (url.username === '' ? undefined : decodeURIComponent(url.username));
      const secret = password ?? urlPassword;
      return {
        target,
        ...(username === undefined ? {} : { username }),
        ...(secret === undefined ? {} : { password: secret }),
        ...(url.protocol === 'rediss:' ? { tls: true } : {}),
      };
    }
    case 'sentinel': {
      const sentinels = required(settings.REDIS_SENTINELS, 'REDIS_SENTINELS', settings.REDIS_MODE);
      const name = required(settings.REDIS_SENTINEL_NAME, 'REDIS_SENTINEL_NAME', settings.REDIS_MODE);
      // The operator's Sentinels know each service by the same ACL user and password as the
      // data nodes do (packages/redis's acl.ts, operator/src/specs/redis-scripts.ts).
      return {
        target: {
          mode: 'sentinel',
          sentinels: sentinels.map(({ host, port }) => ({ host, port })),
          name,
          ...(user === undefined ? {} : { sentinelUsername: user }),
          ...(password === undefined ? {} : { sentinelPassword: password }),
        },
        ...(user === undefined ? {} : { username: user }),
        ...(password === undefined ? {} : { password }),
      };
    }
    case 'cluster': {
      const nodes = required(settings.REDIS_CLUSTER_NODES, 'REDIS_CLUSTER_NODES', settings.REDIS_MODE);
      return {
        target: { mode: 'cluster', nodes: nodes.map(({ host, port }) => ({ host, port })) },
        ...(user === undefined ? {} : { username: user }),
        ...(password === undefined ? {} : { password }),
      };
    }
  }
}

function required<T>(value: T | undefined, name: string, mode: string): T {
  if (value === undefined) throw new Error(`${name} is required when REDIS_MODE=${mode}`);
  return value;
}
