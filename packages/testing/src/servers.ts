/**
 * The real servers without the test runner: what benchmarks and `make demo` start. Importing the
 * package root pulls in vitest's `inject` (for the run's shared servers); this entry does not.
 */
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
