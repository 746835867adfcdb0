export {
  createRedis,
  MAX_RECONNECT_DELAY_MS,
  type RedisConnectionOptions,
  type RedisRole,
  type RedisTarget,
  reconnectDelay,
  reconnectOnReadonly,
  redisOptionsFor,
} from './connection.ts';
/** The services' Redis settings (REDIS_MODE, REDIS_URL, ...) as connection options. */
export { type RedisSettings, redisConnectionFromSettings } from './from-config.ts';
/** A Lua script run by its SHA (EVALSHA), its text sent only when the server lacks it. */
export { RedisScript } from './script.ts';
