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
export type { HostPort, SentinelGroupInfo } from './redis-server.ts';
export { currentSentinelPrimary, forceSentinelFailover, settledSentinelGroup } from './sentinel-fixtures.ts';
