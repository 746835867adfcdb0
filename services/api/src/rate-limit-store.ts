// The rate limit's counters in Redis (a store for @fastify/rate-limit) that degrade open: when
// Redis cannot answer, the request is let through rather than failed, a warning is logged at
// most once per `logIntervalMs`, and `switchboard_api_rate_limit_unavailable_total` counts every
// request that went unlimited. A Redis outage must not turn every answer into a 500 (nor the
// liveness probe into a restart loop); the limit returns as soon as Redis does.
import { RedisScript } from '@switchboard/redis';
import type { Logger, MetricsRegistry } from '@switchboard/telemetry';
import type { Redis } from 'ioredis';

// INCR with the window as the expiry of a new counter; the remaining time of an existing one.
const INCREMENT = new RedisScript(`
local current = redis.call('INCR', KEYS[1])
if current == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  return {current, tonumber(ARGV[1])}
end
return {current, redis.call('PTTL', KEYS[1])}
`);

type Callback = (error: Error | null, result?: { current: number; ttl: number }) => void;

export interface DegradingStoreOptions {
  redis: Redis;
  /** Prefix of every counter key. */
  nameSpace: string;
  logger?: Logger | undefined;
  metrics?: MetricsRegistry | undefined;
  /** At most one warning per this many milliseconds while Redis is unavailable (default 60 s). */
  logIntervalMs?: number;
}

/** A store class for @fastify/rate-limit's `store` option (it constructs the store itself). */
export function degradingRedisStore(options: DegradingStoreOptions) {
  const unavailable = options.metrics?.counter({
    name: 'switchboard_api_rate_limit_unavailable_total',
    help: 'Requests let through without a rate limit because Redis could not answer.',
  });
  const interval = options.logIntervalMs ?? 60_000;
  let lastLogged = Number.NEGATIVE_INFINITY;
  return class DegradingRedisStore {
    incr(key: string, callback: Callback, timeWindow: number): void {
      INCREMENT.run(options.redis, [`${options.nameSpace}${key}`], [timeWindow]).then(
        (result) => {
          const [current, ttl] = result as [number, number];
          callback(null, { current, ttl: Math.max(ttl, 0) });
        },
        (error: unknown) => {
          unavailable?.inc();
          if (Date.now() - lastLogged >= interval) {
            lastLogged = Date.now();
            options.logger?.warn(
              { err: error },
              'rate limit unavailable (Redis did not answer); requests are let through unlimited',
            );
          }
          // No count: the request is under the limit.
          callback(null, { current: 0, ttl: 0 });
        },
      );
    }

    /** Routes with their own limit share these counters (none is configured today). */
    child(): this {
      return this;
    }
  };
}
