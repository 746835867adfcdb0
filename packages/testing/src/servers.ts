/**
 * The real servers without the test runner: what benchmarks and `make demo` start. Importing the
 * package root pulls in vitest's `inject` (for the run's shared servers); this entry does not.
 */

export { ensureJaegerBinary, JAEGER_VERSION } from './jaeger-binary.ts';
export { type RunningJaeger, startJaeger } from './jaeger-server.ts';
/** moto (AWS APIs, Secrets Manager seeding helpers) and a Vault dev server built from its Go module. */
export { type RunningMoto, startMoto } from './moto-server.ts';
export { freePort, waitForPort } from './ports.ts';
export {
  type PostgresServerInfo,
  postgresUrl,
  type RunningPostgres,
  startPostgres,
} from './postgres-server.ts';
export { killAllSync, type ServiceProcess, type StartProcessOptions, startProcess } from './processes.ts';
export { deleteKeysWithPrefix } from './redis-keys.ts';
export { type RunningRedis, startRedis } from './redis-server.ts';
export {
  type EnsureVaultBinaryOptions,
  ensureVaultBinary,
  VAULT_VERSION,
  type VaultBinary,
  vaultCachePaths,
} from './vault-binary.ts';
export { type RunningVault, type StartVaultOptions, startVault, type VaultResponse } from './vault-server.ts';
