// The tenant API under load with a realistic tenant database (100k conversations, 1M messages),
// against a bare Fastify serving a static JSON response, in the same run:
//
// - GET /v1/auth/me: the credential check and the caller's user row, nothing else;
// - GET /v1/conversations, the first page, a search matching one of the 1M messages, and a deep
//   page (a cursor 50,000 conversations in);
// - POST /v1/messages (store the message, enqueue the outbound job), each request with its own
//   Idempotency-Key, spread over 1,000 conversations;
// - GET /livez through the whole app (helmet, CORS, the Redis rate limit, no database);
// - baseline: GET /static on a bare Fastify answering the first page's bytes, pre-serialized.
//
//   node bench/api/run.ts [--seconds 8] [--connections 10] [--repeats 3]
//                         [--conversations 100000] [--messages 1000000]   (smaller: a smoke run)
//                         [--only auth,list,send,search]
//
// --only measures the named parts (comma-separated; default all): auth (/livez, /v1/auth/me,
// /v1/sessions by an API key and by a member's token), list (the two pages), send (the POST),
// search (the three search cases); the baseline is measured in every round.
//
// Starts its own Postgres and Redis on loopback and stops them at the end. Each figure is the
// median over the repeats; the load generator (autocannon) runs in this process, on the same
// 2 cores as the servers, which is why only the ratios against the baseline mean much.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import {
  databaseConfigSchema,
  databasePoolConfigSchema,
  databasePoolSettings,
  defineConfig,
  loadConfig,
} from '@switchboard/config';
import { createDb, ensureTenant, Prisma, withTenant } from '@switchboard/db';
import { hashPassword } from '@switchboard/passwords';
import { createLogger } from '@switchboard/telemetry';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { buildApp } from '../../services/api/src/app.ts';
import { conversationListQuery } from '../../services/api/src/services/conversations.ts';
import {
  createBenchDatabase,
  integerOptions,
  killServersOnSigint,
  median,
  onlyOption,
  type RedisServer,
  startPostgres,
  startRedis,
} from '../support/services.ts';
import { seedConversations } from './seed.ts';

const PARTS = ['auth', 'list', 'send', 'search'] as const;
const ONLY = onlyOption(PARTS);
const {
  seconds: SECONDS,
  connections: CONNECTIONS,
  repeats: REPEATS,
  conversations: CONVERSATIONS,
  messages: MESSAGES,
} = integerOptions({ seconds: 8, connections: 10, repeats: 3, conversations: 100_000, messages: 1_000_000 });
if (CONVERSATIONS < 200) throw new Error('conversations must be at least 200');
const DEEP = Math.min(50_000, Math.floor(CONVERSATIONS / 2));
const SEND_TARGETS = Math.min(1_000, CONVERSATIONS);
// Matches exactly one message body ('message number <n>' with n over a tenth of the messages, so
// no longer number starts with it) and no contact.
const SEARCH = `number ${Math.floor(MESSAGES * 0.77) + 7}`;
// The same message by its digits alone: every trigram of it is rare, where every message has
// those of 'number ' (a trigram index reads each trigram's whole list of rows).
const SEARCH_DIGITS = `${Math.floor(MESSAGES * 0.77) + 7}`;

const log = (line: string) => process.stderr.write(`${line}\n`);

killServersOnSigint();

const postgres = await startPostgres();
// Redis starts after the seed (minutes): nothing needs it before, and a long-idle test server is
// one more thing to lose on a shared machine.
let redisServer: RedisServer | undefined;
try {
  const urls = await createBenchDatabase(postgres);
  // The pool as the API configures it by default (DATABASE_POOL_SIZE 10, DATABASE_POOL_TIMEOUT 2s,
  // DATABASE_STATEMENT_TIMEOUT 5s, DATABASE_SEARCH_CONCURRENCY 5).
  const { searchConcurrency, ...pool } = databasePoolSettings(
    await loadConfig(defineConfig(databaseConfigSchema, databasePoolConfigSchema), {
      env: { DATABASE_URL: urls.appUrl },
    }),
  );
  const db = createDb({ databaseUrl: urls.appUrl, applicationName: 'bench-api', ...pool });
  const owner = createDb({ databaseUrl: urls.ownerUrl, maxConnections: 1 });
  const slug = 'bench';
  const tenantId = await ensureTenant(db, { slug, displayName: 'Bench' });
  const email = 'agent@bench.test';
  const password = randomBytes(12).toString('hex');
  const passwordHash = await hashPassword(password);
  const { userId, sessionId } = await withTenant(db, tenantId, async (tx) => {
    const user = await tx.user.create({ data: { tenantId, email, displayName: 'Agent', passwordHash } });
    await tx.membership.create({ data: { tenantId, userId: user.id, role: 'agent' } });
    // An admin only to create the API key the `auth` part's key case uses.
    const admin = await tx.user.create({
      data: { tenantId, email: 'admin@bench.test', displayName: 'Admin', passwordHash },
    });
    await tx.membership.create({ data: { tenantId, userId: admin.id, role: 'admin' } });
    const session = await tx.session.create({ data: { tenantId, name: 'bench', channel: 'baileys' } });
    return { userId: user.id, sessionId: session.id };
  });

  const started = performance.now();
  await seedConversations(owner, { tenantId, sessionId, conversations: CONVERSATIONS, messages: MESSAGES });
  redisServer = await startRedis();
  const redis = new Redis({ host: redisServer.host, port: redisServer.port, maxRetriesPerRequest: 1 });
  log(
    `seeded ${CONVERSATIONS} conversations and ${MESSAGES} messages in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );

  const app = await buildApp({
    db,
    redis,
    tenant: { slug, displayName: 'Bench' },
    jwtSigningKey: randomBytes(32).toString('hex'),
    accessTokenTtlMs: 6 * 3_600_000,
    // Real Redis round trip per request, but a limit no bench connection reaches.
    rateLimitPerMinute: 1_000_000,
    inboxDir: null,
    search: { concurrency: searchConcurrency, waitMs: pool.poolTimeoutMs },
    // Errors only (to stderr): a 5xx during the run says why.
    logger: createLogger({ name: 'bench-api', level: 'error', destination: process.stderr }),
  });
  const login = await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email, password } });
  if (login.statusCode !== 200) throw new Error(`login failed: ${login.body}`);
  const authorization = `Bearer ${login.json().accessToken}`;
  const adminLogin = await app.inject({
    method: 'POST',
    url: '/v1/auth/login',
    payload: { email: 'admin@bench.test', password },
  });
  const createdKey = await app.inject({
    method: 'POST',
    url: '/v1/api-keys',
    headers: { authorization: `Bearer ${adminLogin.json().accessToken}` },
    payload: { name: 'bench', scopes: ['read'] },
  });
  if (createdKey.statusCode !== 201) throw new Error(`API key: ${createdKey.body}`);
  const apiKey = createdKey.json().key as string;
  await app.listen({ host: '127.0.0.1', port: 0 });
  const apiUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

  const firstPage = await app.inject({ method: 'GET', url: '/v1/conversations', headers: { authorization } });
  if (firstPage.statusCode !== 200 || firstPage.json().items.length !== 50)
    throw new Error(`first page: ${firstPage.statusCode} ${firstPage.body.slice(0, 200)}`);
  const deep = await withTenant(db, tenantId, (tx) =>
    tx.conversation.findMany({
      orderBy: [{ lastMessageAt: 'desc' }, { id: 'desc' }],
      skip: DEEP - 1,
      take: 1,
      select: { id: true, lastMessageAt: true },
    }),
  );
  // The API's cursor format (services/api/src/schemas.ts encodeCursor).
  const deepCursor = Buffer.from(
    JSON.stringify({ at: deep[0]!.lastMessageAt.toISOString(), id: deep[0]!.id }),
  ).toString('base64url');
  const deepPage = await app.inject({
    method: 'GET',
    url: `/v1/conversations?cursor=${deepCursor}`,
    headers: { authorization },
  });
  if (deepPage.statusCode !== 200 || deepPage.json().items.length !== 50)
    throw new Error(`deep page: ${deepPage.statusCode} ${deepPage.body.slice(0, 200)}`);
  const searched = await app.inject({
    method: 'GET',
    url: `/v1/conversations?search=${encodeURIComponent(SEARCH)}`,
    headers: { authorization },
  });
  if (searched.statusCode !== 200 || searched.json().items.length !== 1)
    throw new Error(`search: ${searched.statusCode} ${searched.body.slice(0, 200)}`);
  // The list's statements as the API runs them for this member (row-level security on), planned
  // and run once each: their plans go to stderr and results.json.
  const principal = { kind: 'user', tenantId, slug, userId, role: 'agent' } as const;
  const plans: Record<string, string> = {};
  for (const [label, filter] of [
    ['first page', { limit: 50 }],
    [`page at ${DEEP}`, { limit: 50, cursor: deepCursor }],
    ['search', { limit: 50, search: SEARCH }],
  ] as const) {
    const rows = await withTenant(db, tenantId, (tx) =>
      tx.$queryRaw<{ 'QUERY PLAN': string }[]>(
        Prisma.sql`EXPLAIN (ANALYZE, BUFFERS) ${conversationListQuery(principal, filter)}`,
      ),
    );
    plans[label] = rows.map((r) => r['QUERY PLAN']).join('\n');
    log(`EXPLAIN ANALYZE, conversations ${label}:\n${plans[label]}`);
  }
  // Inside the search: the message part of search_conversation_ids() (migration 0008), as the
  // function runs it (as the owner, the tenant bound and filtered explicitly).
  const inner = await withTenant(
    owner,
    tenantId,
    (tx) =>
      tx.$queryRaw<{ 'QUERY PLAN': string }[]>`EXPLAIN (ANALYZE, BUFFERS)
      SELECT e.conversation_id FROM switchboard.search_entries e
       WHERE e.tenant_id = ${tenantId}::uuid AND e.text ILIKE ${`%${SEARCH}%`} AND e.kind = 'message'`,
  );
  plans['search: inside search_conversation_ids()'] = inner.map((r) => r['QUERY PLAN']).join('\n');
  log(
    `EXPLAIN ANALYZE, inside search_conversation_ids():\n${plans['search: inside search_conversation_ids()']}`,
  );
  const targets = (
    await withTenant(db, tenantId, (tx) =>
      tx.conversation.findMany({ select: { id: true }, take: SEND_TARGETS, orderBy: { id: 'asc' } }),
    )
  ).map((c) => c.id);

  const staticBody = firstPage.body;
  const baseline = Fastify({ logger: false });
  baseline.get('/static', (_request, reply) =>
    reply.type('application/json; charset=utf-8').send(staticBody),
  );
  await baseline.listen({ host: '127.0.0.1', port: 0 });
  const baselineUrl = `http://127.0.0.1:${(baseline.server.address() as AddressInfo).port}`;

  let sent = 0;
  const runTag = randomBytes(4).toString('hex');
  // Each case with the part it belongs to (--only); the baseline's part is always measured.
  const cases: Record<string, [part: (typeof PARTS)[number] | 'baseline', () => autocannon.Options]> = {
    'baseline: static JSON': ['baseline', () => ({ url: `${baselineUrl}/static` })],
    'GET /livez (whole app, no db)': ['auth', () => ({ url: `${apiUrl}/livez` })],
    // Where a list's time goes: the credential check and one tenant-scoped transaction alone.
    'GET /v1/auth/me (auth + one transaction)': [
      'auth',
      () => ({
        url: `${apiUrl}/v1/auth/me`,
        headers: { authorization },
      }),
    ],
    // A tenant's system: the same small read by an API key and by a member's token.
    'GET /v1/sessions (API key)': [
      'auth',
      () => ({ url: `${apiUrl}/v1/sessions`, headers: { 'x-api-key': apiKey } }),
    ],
    'GET /v1/sessions (member token)': [
      'auth',
      () => ({ url: `${apiUrl}/v1/sessions`, headers: { authorization } }),
    ],
    'GET /v1/conversations (first page)': [
      'list',
      () => ({
        url: `${apiUrl}/v1/conversations`,
        headers: { authorization },
      }),
    ],
    [`GET /v1/conversations (page at ${DEEP})`]: [
      'list',
      () => ({
        url: `${apiUrl}/v1/conversations?cursor=${deepCursor}`,
        headers: { authorization },
      }),
    ],
    'POST /v1/messages (enqueue)': [
      'send',
      () => ({
        url: apiUrl,
        requests: [
          {
            method: 'POST',
            path: '/v1/messages',
            setupRequest: (request) => {
              const n = sent++;
              return {
                ...request,
                headers: {
                  ...request.headers,
                  authorization,
                  'content-type': 'application/json',
                  'idempotency-key': `bench-${runTag}-${n}`,
                },
                body: JSON.stringify({
                  conversationId: targets[n % targets.length],
                  text: `bench message ${n}`,
                }),
              };
            },
          },
        ],
      }),
    ],
    [`GET /v1/conversations?search=${SEARCH_DIGITS} (digits only)`]: [
      'search',
      () => ({
        url: `${apiUrl}/v1/conversations?search=${encodeURIComponent(SEARCH_DIGITS)}`,
        headers: { authorization },
      }),
    ],
    // Last: one message's body matches (no contact does), so every message is a candidate; the
    // searches still running when the case ends would otherwise slow the next case.
    [`GET /v1/conversations?search (1 of ${MESSAGES} messages)`]: [
      'search',
      () => ({
        url: `${apiUrl}/v1/conversations?search=${encodeURIComponent(SEARCH)}`,
        headers: { authorization },
      }),
    ],
  };
  const samples: Record<
    string,
    { rps: number[]; p99: number[]; non2xx: number; errors: number; statuses: Record<string, number> }
  > = {};
  const record = (round: number, label: string, result: autocannon.Result) => {
    samples[label] ??= { rps: [], p99: [], non2xx: 0, errors: 0, statuses: {} };
    const s = samples[label];
    s.rps.push(result.requests.average);
    s.p99.push(result.latency.p99);
    s.non2xx += result.non2xx;
    s.errors += result.errors + result.timeouts;
    for (const [status, count] of Object.entries(result.statusCodeStats ?? {}))
      s.statuses[status] = (s.statuses[status] ?? 0) + (count as { count: number }).count;
    log(
      `round ${round + 1}/${REPEATS} ${label}: ${result.requests.average.toFixed(0)} req/s, p99 ${result.latency.p99} ms, statuses ${JSON.stringify(result.statusCodeStats ?? {})}`,
    );
  };
  const searchUrl = `${apiUrl}/v1/conversations?search=${encodeURIComponent(SEARCH)}`;
  for (let round = 0; round < REPEATS; round++) {
    for (const [label, [part, options]] of Object.entries(cases))
      if (part === 'baseline' || ONLY.has(part))
        record(round, label, await autocannon({ ...options(), connections: CONNECTIONS, duration: SECONDS }));
    if (!ONLY.has('search')) continue;
    // 20 searches at once (more than the pool's 10 connections), and beside them a member's
    // cheap route on 2 connections: does it keep answering?
    const [searches, beside] = await Promise.all([
      autocannon({ url: searchUrl, headers: { authorization }, connections: 20, duration: SECONDS }),
      autocannon({
        url: `${apiUrl}/v1/auth/me`,
        headers: { authorization },
        connections: 2,
        duration: SECONDS,
      }),
    ]);
    record(round, 'GET /v1/conversations?search x20 at once', searches);
    record(round, 'GET /v1/auth/me beside those 20 searches', beside);
    // Searches the load generator gave up on still run in the server: let them end (the
    // statement timeout, or Prisma's 5 s transaction timeout before it, bounds them) before the
    // next case or the shutdown.
    await new Promise((resolve) => setTimeout(resolve, 6_000));
  }
  const queued = await withTenant(db, tenantId, (tx) =>
    tx.message.count({ where: { idempotencyKey: { startsWith: `bench-${runTag}-` } } }),
  );

  const base = median(samples['baseline: static JSON']!.rps);
  const baseP99 = median(samples['baseline: static JSON']!.p99);
  const rows = Object.entries(samples).map(([label, s]) => ({
    label,
    rps: median(s.rps),
    p99Ms: median(s.p99),
    rpsRatio: median(s.rps) / base,
    p99Ratio: median(s.p99) / Math.max(baseP99, 1),
    non2xx: s.non2xx,
    errors: s.errors,
    statuses: s.statuses,
  }));
  const print = (line: string) => process.stdout.write(`${line}\n`);
  print(
    `api benchmark: ${CONVERSATIONS} conversations, ${MESSAGES} messages; ${CONNECTIONS} connections, ${SECONDS} s each, median of ${REPEATS}`,
  );
  print(
    `  ${'case'.padEnd(52)} ${'req/s'.padStart(8)} ${'p99 ms'.padStart(7)} ${'vs base'.padStart(8)} ${'non-2xx'.padStart(8)}`,
  );
  for (const r of rows) {
    print(
      `  ${r.label.padEnd(52)} ${r.rps.toFixed(0).padStart(8)} ${r.p99Ms.toFixed(0).padStart(7)} ${`${(r.rpsRatio * 100).toFixed(1)}%`.padStart(8)} ${String(r.non2xx + r.errors).padStart(8)}`,
    );
  }
  print(`  messages stored by the POST runs: ${queued} (one per 2xx answer)`);
  for (const r of rows)
    if (r.non2xx + r.errors > 0)
      print(`  ${r.label}: statuses ${JSON.stringify(r.statuses)}, ${r.errors} errors/timeouts`);
  await writeFile(
    new URL('./results.json', import.meta.url),
    `${JSON.stringify({ date: new Date().toISOString(), conversations: CONVERSATIONS, messages: MESSAGES, connections: CONNECTIONS, seconds: SECONDS, repeats: REPEATS, rows, queued, plans }, null, 2)}\n`,
  );
  await baseline.close();
  await app.close();
  redis.disconnect();
  await db.$disconnect();
  await owner.$disconnect();
} finally {
  await Promise.allSettled([postgres.stop(), redisServer?.stop()]);
}
