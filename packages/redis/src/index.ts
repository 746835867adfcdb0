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
