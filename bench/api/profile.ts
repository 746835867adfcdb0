// Where the API's CPU goes per request: /livez, /v1/auth/me and the first conversation page, each
// called `--requests` times (4 at a time) through app.inject against a seeded tenant, with the
// CPU time per request and a V8 CPU profile of just that loop (the format `node --cpu-prof`
// writes; open it in Chrome DevTools' Performance panel or speedscope for a flame graph).
//
//   node bench/api/profile.ts [--requests 400] [--conversations 2000] [--messages 20000]
//
// Starts its own Postgres and Redis on loopback and stops them at the end; the profiles go to a
// fresh directory under the system's temp directory, named on stdout.
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDb, ensureTenant, withTenant } from '@switchboard/db';
import { hashPassword } from '@switchboard/passwords';
import { createLogger } from '@switchboard/telemetry';
import { Redis } from 'ioredis';
import { buildApp } from '../../services/api/src/app.ts';
import {
  createBenchDatabase,
  integerOptions,
  killServersOnSigint,
  type RedisServer,
  startPostgres,
  startRedis,
} from '../support/services.ts';
import { seedConversations } from './seed.ts';

const { requests, conversations, messages } = integerOptions({
  requests: 400,
  conversations: 2_000,
  messages: 20_000,
});
const print = (line: string) => process.stdout.write(`${line}\n`);

/** The parts of a V8 CPU profile (`.cpuprofile`) the summary reads. */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string } }[];
  samples: number[];
  timeDeltas: number[];
}

/**
 * Where the profile's samples were, by package (node_modules/<name>) or project folder
 * (services/api, packages/db, ...), V8's own entries ((garbage collector), (program), (idle)) by
 * name: the top 8 as shares of the sampled time.
 */
function selfTimeByPlace(profile: CpuProfile): string {
  const place = new Map<number, string>();
  for (const node of profile.nodes) {
    const { url, functionName } = node.callFrame;
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
    const own = /\/((?:services|packages)\/[^/]+)\//.exec(url)?.[1];
    place.set(
      node.id,
      pkg ??
        own ??
        (url.startsWith('node:') ? 'node internals' : url === '' ? functionName || '(native)' : url),
    );
  }
  const totals = new Map<string, number>();
  let all = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    const key = place.get(id) ?? '(unknown)';
    totals.set(key, (totals.get(key) ?? 0) + delta);
    all += delta;
  });
  return [...totals.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8)
    .map(([key, time]) => `${key} ${((time / all) * 100).toFixed(0)}%`)
    .join(', ');
}

killServersOnSigint();
const postgres = await startPostgres();
let redisServer: RedisServer | undefined;
try {
  redisServer = await startRedis();
  const urls = await createBenchDatabase(postgres);
  const db = createDb({
    databaseUrl: urls.appUrl,
    maxConnections: 10,
    statementTimeoutMs: 5_000,
    poolTimeoutMs: 2_000,
    applicationName: 'bench-api-profile',
  });
  const owner = createDb({ databaseUrl: urls.ownerUrl, maxConnections: 1 });
  const slug = 'bench';
  const tenantId = await ensureTenant(db, { slug, displayName: 'Bench' });
  const email = 'agent@bench.test';
  const password = randomBytes(12).toString('hex');
  const passwordHash = await hashPassword(password);
  const sessionId = await withTenant(db, tenantId, async (tx) => {
    const user = await tx.user.create({ data: { tenantId, email, displayName: 'Agent', passwordHash } });
    await tx.membership.create({ data: { tenantId, userId: user.id, role: 'agent' } });
    return (await tx.session.create({ data: { tenantId, name: 'bench', channel: 'baileys' } })).id;
  });
  await seedConversations(owner, { tenantId, sessionId, conversations, messages });
  const redis = new Redis({ host: redisServer.host, port: redisServer.port, maxRetriesPerRequest: 1 });
  const app = await buildApp({
    db,
    redis,
    tenant: { slug, displayName: 'Bench' },
    jwtSigningKey: randomBytes(32).toString('hex'),
    rateLimitPerMinute: 1_000_000,
    inboxDir: null,
    logger: createLogger({ name: 'bench-api-profile', level: 'error', destination: process.stderr }),
  });
  const login = await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email, password } });
  if (login.statusCode !== 200) throw new Error(`login failed: ${login.body}`);
  const headers = { authorization: `Bearer ${login.json().accessToken}` };
  const dir = await mkdtemp(join(tmpdir(), 'switchboard-api-profile-'));
  print(`${requests} requests each, 4 at a time; profiles in ${dir}`);
  for (const url of [
    '/livez',
    '/v1/auth/me',
    '/v1/conversations',
    '/v1/conversations?search=number%2015007',
  ]) {
    const call = async () => {
      const res = await app.inject({ method: 'GET', url, headers });
      if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body.slice(0, 200)}`);
    };
    for (let i = 0; i < 50; i++) await call();
    const session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
    const cpu = process.cpuUsage();
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let i = 0; i < requests / 4; i++) await call();
      }),
    );
    const used = process.cpuUsage(cpu);
    const wall = performance.now() - started;
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    const file = join(dir, `${url.slice(1).replaceAll('/', '_')}.cpuprofile`);
    await writeFile(file, JSON.stringify(profile));
    print(
      `  ${url.padEnd(20)} ${((used.user + used.system) / 1000 / requests).toFixed(2)} ms CPU, ${(wall / requests).toFixed(2)} ms wall per request  ${file}`,
    );
    print(`    self time by where the code lives: ${selfTimeByPlace(profile as CpuProfile)}`);
  }
  await app.close();
  redis.disconnect();
  await db.$disconnect();
  await owner.$disconnect();
} finally {
  await Promise.allSettled([postgres.stop(), redisServer?.stop()]);
}
