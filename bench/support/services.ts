// What the benchmarks share to start and to report: the test suite's own Postgres and Redis
// servers on loopback (packages/testing), a fresh migrated tenant database, Ctrl-C handling,
// argument checks and the median / percentile their tables print.
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { migrate, provisionTenantDatabase, type TenantDatabaseUrls } from '@switchboard/db';
import { postgresUrl, startPostgres } from '../../packages/testing/src/postgres-server.ts';
import { killAllSync } from '../../packages/testing/src/processes.ts';
import { startRedis } from '../../packages/testing/src/redis-server.ts';

export { startPostgres, startRedis };

/** A started Postgres server. */
export type PostgresServer = Awaited<ReturnType<typeof startPostgres>>;
/** A started Redis server. */
export type RedisServer = Awaited<ReturnType<typeof startRedis>>;

/** Ctrl-C kills the servers the benchmark started (their processes), then exits 130. */
export function killServersOnSigint(): void {
  process.once('SIGINT', () => {
    killAllSync();
    process.exit(130);
  });
}

/**
 * A fresh tenant database `bench_<random>` on `postgres`, with its owner and application roles,
 * migrated: the two URLs (the owner's for seeding, the application role's, under RLS, for the
 * code measured).
 */
export async function createBenchDatabase(postgres: PostgresServer): Promise<TenantDatabaseUrls> {
  const admin = postgresUrl(postgres, postgres.user, postgres.password, 'postgres');
  const name = `bench_${randomBytes(3).toString('hex')}`;
  const urls = await provisionTenantDatabase(admin, {
    database: name,
    ownerRole: `${name}_owner`,
    appRole: `${name}_app`,
    passwords: { owner: randomBytes(12).toString('hex'), app: randomBytes(12).toString('hex') },
  });
  await migrate({ databaseUrl: urls.ownerUrl, direction: 'up', appRole: `${name}_app` });
  return urls;
}

/**
 * The command line's `--name N` options, each a positive integer with the given default; an
 * unknown option or a value that is not a positive integer throws, naming it.
 */
export function integerOptions<K extends string>(defaults: Record<K, number>): Record<K, number> {
  const names = Object.keys(defaults) as K[];
  const { values } = parseArgs({
    options: Object.fromEntries(
      names.map((name) => [name, { type: 'string', default: String(defaults[name]) }]),
    ),
  }) as unknown as { values: Record<K, string> };
  const parsed = {} as Record<K, number>;
  for (const name of names) {
    const value = Number(values[name]);
    if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
    parsed[name] = value;
  }
  return parsed;
}

/**
 * Takes `--only a,b` (or `--only=a,b`) out of argv (so the rest is integerOptions'): the named
 * parts of a benchmark, each one of `parts`; all of them when absent.
 */
export function onlyOption<P extends string>(parts: readonly P[]): Set<P> {
  const at = process.argv.findIndex((arg) => arg === '--only' || arg.startsWith('--only='));
  if (at === -1) return new Set(parts);
  const arg = process.argv[at]!;
  const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : process.argv[at + 1];
  process.argv.splice(at, arg.includes('=') ? 1 : 2);
  const names = (value ?? '').split(',').filter((name) => name !== '');
  const unknown = names.filter((name) => !(parts as readonly string[]).includes(name));
  if (names.length === 0 || unknown.length > 0)
    throw new Error(`--only takes a comma-separated list of ${parts.join(', ')} (got "${value ?? ''}")`);
  return new Set(names as P[]);
}

/** The median (the mean of the two middle values for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** The nearest-rank percentile: the smallest value with at least p % of the values at or below it. */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}
