export {
  adminDatabaseUrl,
  type CreateTestDatabaseOptions,
  createTestDatabase,
  type TestDatabase,
} from './database-fixtures.ts';
export { freePort, waitForPort } from './ports.ts';
export { type PostgresServerInfo, postgresUrl } from './postgres-server.ts';
export {
  deleteKeysWithPrefix,
  type RedisNamespace,
  redisNamespace,
  redisOptions,
  sentinelOptions,
  uniquePrefix,
} from './redis-fixtures.ts';
/** A Redis server of a test's own (to stop it mid-test), and the shapes of the run's servers. */
export { type HostPort, type RunningRedis, type SentinelGroupInfo, startRedis } from './redis-server.ts';
export { currentSentinelPrimary, forceSentinelFailover, settledSentinelGroup } from './sentinel-fixtures.ts';
