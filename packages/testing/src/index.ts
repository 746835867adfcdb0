export {
  adminDatabaseUrl,
  type CreateTestDatabaseOptions,
  createTestDatabase,
  type TestDatabase,
} from './database-fixtures.ts';
export { ensureJaegerBinary, JAEGER_VERSION } from './jaeger-binary.ts';
export {
  type JaegerSpan,
  type JaegerTrace,
  type RunningJaeger,
  type StartJaegerOptions,
  startJaeger,
} from './jaeger-server.ts';
/** moto (AWS APIs on loopback) and a real Vault dev server, one per test file. */
export { type RunningMoto, startMoto } from './moto-server.ts';
export { freePort, waitForPort } from './ports.ts';
export { type PostgresServerInfo, postgresUrl } from './postgres-server.ts';
export {
  createRedisRoleUser,
  deleteKeysWithPrefix,
  type RedisNamespace,
  type RedisRoleUser,
  redisNamespace,
  redisOptions,
  sentinelOptions,
  uniquePrefix,
} from './redis-fixtures.ts';
/** A Redis server of a test's own (to stop it mid-test), and the shapes of the run's servers. */
export { type HostPort, type RunningRedis, type SentinelGroupInfo, startRedis } from './redis-server.ts';
export {
  currentSentinelPrimary,
  forceSentinelFailover,
  settledSentinelGroup,
  withSettledSentinelGroup,
} from './sentinel-fixtures.ts';
export { ensureVaultBinary, VAULT_VERSION } from './vault-binary.ts';
export { type RunningVault, type StartVaultOptions, startVault } from './vault-server.ts';
