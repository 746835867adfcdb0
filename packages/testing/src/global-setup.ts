import type { TestProject } from 'vitest/node';
import { startPostgres } from './postgres-server.ts';
import './provided-context.ts';
import { ensureJaegerBinary } from './jaeger-binary.ts';
import { killAllSync } from './processes.ts';
import { startRedis, startSentinelGroup } from './redis-server.ts';
import { ensureVaultBinary } from './vault-binary.ts';

/**
 * Vitest global setup: starts Postgres, a standalone Redis and a Sentinel group once per run,
 * on loopback ports picked here, and stops them all when the run ends (pass or fail). If the
 * runner is interrupted, processes.ts kills them on SIGINT/SIGTERM/exit.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // The Vault binary is built here, before any test runs, when the cache lacks it (a fresh
  // machine): a build of minutes beside running tests would starve them of the two cores.
  // With the cache warm this is a stamp check; test files start their own Vault servers. A
  // failed build fails only the tests that need Vault (they ask again and get the error).
  await ensureVaultBinary({ log: (line) => console.warn(`[vault] ${line}`) }).catch((error: unknown) =>
    console.warn(`[vault] no Vault binary for this run: ${(error as Error).message}`),
  );
  // Likewise Jaeger, the OTLP receiver of the tracing tests.
  await ensureJaegerBinary({ log: (line) => console.warn(`[jaeger] ${line}`) }).catch((error: unknown) =>
    console.warn(`[jaeger] no Jaeger binary for this run: ${(error as Error).message}`),
  );
  const started = await Promise.allSettled([startPostgres(), startRedis(), startSentinelGroup()]);
  const stopAll = async () => {
    await Promise.allSettled(started.map((s) => (s.status === 'fulfilled' ? s.value.stop() : undefined)));
  };
  const failed = started.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed.length > 0) {
    await stopAll();
    killAllSync();
    throw new AggregateError(
      failed.map((f) => f.reason),
      'test services did not start',
    );
  }
  const [postgres, redis, sentinel] = started.map((s) => (s as PromiseFulfilledResult<unknown>).value) as [
    Awaited<ReturnType<typeof startPostgres>>,
    Awaited<ReturnType<typeof startRedis>>,
    Awaited<ReturnType<typeof startSentinelGroup>>,
  ];
  project.provide('postgres', {
    host: postgres.host,
    port: postgres.port,
    user: postgres.user,
    password: postgres.password,
  });
  project.provide('redis', { host: redis.host, port: redis.port });
  project.provide('sentinel', { name: sentinel.name, sentinels: sentinel.sentinels, nodes: sentinel.nodes });
  return async () => {
    await stopAll();
    killAllSync();
  };
}
