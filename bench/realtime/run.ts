// Realtime fan-out: N open SSE streams on one API process, measured against a raw Redis reader
// in the same run:
//
// - memory: the API process's RSS and heap (after a full GC) idle and with N streams open;
// - Redis connections: clients of the Redis server before and after the N streams opened, and
//   the API's tenant readers (named `switchboard-api-realtime:<stream key>`);
// - delivery latency: events published at a steady rate (--rate per second) with XADD; for each,
//   the time until every one of the N streams received it (each stream's own latency, and the
//   last of the N), against a raw single XREAD BLOCK reader on the same stream in this process.
//   Measured with one stream open, then with N, --repeats times each (medians reported).
//
//   node bench/realtime/run.ts [--streams 1000] [--events 200] [--rate 20] [--repeats 3]
//
// Starts its own Postgres and Redis on loopback, the API in a child process (api-process.ts, so
// its memory is apart from the clients'), and stops them all at the end.
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { fileURLToPath } from 'node:url';
import { createDb, ensureTenant, withTenant } from '@switchboard/db';
import { REALTIME_EVENT_FIELD, realtimeStreamKey } from '@switchboard/messaging';
import { Redis } from 'ioredis';
import { signAccessToken } from '../../services/api/src/plugins/auth.ts';
import {
  createBenchDatabase,
  integerOptions,
  killServersOnSigint,
  median,
  percentile,
  startPostgres,
  startRedis,
} from '../support/services.ts';

const {
  streams: N,
  events: EVENTS,
  rate: RATE,
  repeats: REPEATS,
} = integerOptions({ streams: 1000, events: 200, rate: 20, repeats: 3 });
// Streams per member: under the default cap of 16 per principal.
const STREAMS_PER_MEMBER = 10;
const OPEN_WIDTH = 10;

/** Arrival times (performance.now()) per published event, by its conversation id. */
interface Published {
  sentAt: number;
  arrivals: number[];
  raw: number | undefined;
}
const published = new Map<string, Published>();
const ID = /"conversationId":"([0-9a-f-]{36})"/g;

function record(text: string, now: number, raw: boolean): void {
  for (const match of text.matchAll(ID)) {
    const entry = published.get(match[1]!);
    if (!entry) continue;
    if (raw) entry.raw = now;
    else entry.arrivals.push(now);
  }
}

/** One SSE client on a socket of its own (no agent pooling), as a browser tab is. */
function openClient(port: number, token: string): Promise<{ close(): void }> {
  return new Promise((resolve, reject) => {
    const req = get(
      {
        host: '127.0.0.1',
        port,
        path: '/v1/realtime',
        headers: { authorization: `Bearer ${token}` },
        agent: false,
      },
      (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`stream answered ${res.statusCode}`));
          res.resume();
          return;
        }
        res.setEncoding('utf8');
        let buffer = '';
        let connected = false;
        res.on('data', (chunk: string) => {
          const now = performance.now();
          buffer += chunk;
          const end = buffer.lastIndexOf('\n\n');
          if (end < 0) return;
          const complete = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (!connected && complete.includes(': connected')) {
            connected = true;
            resolve({ close: () => req.destroy() });
          }
          record(complete, now, false);
        });
      },
    );
    req.on('error', reject);
  });
}

function request<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve) => {
    const onMessage = (message: { type: string }) => {
      if (message.type !== type) return;
      child.off('message', onMessage);
      resolve(message as T);
    };
    child.on('message', onMessage);
    child.send({ type });
  });
}

interface ApiStats {
  /** The API's delivery lag histogram: cumulative counts by bucket upper bound (seconds). */
  lag: [number, number][];
  /** CPU time the API process used so far (user + system), microseconds, before this request's GC. */
  cpuMicros: number;
  /** The same after this request's GC. */
  cpuAfterGcMicros: number;
  rss: number;
  heapUsed: number;
  external: number;
  streams: number;
  readers: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

killServersOnSigint();
const [postgres, redisServer] = await Promise.all([startPostgres(), startRedis()]);
let child: ChildProcess | undefined;
try {
  const urls = await createBenchDatabase(postgres);
  const db = createDb({ databaseUrl: urls.appUrl, maxConnections: 2 });
  const slug = 'bench';
  const tenantId = await ensureTenant(db, { slug, displayName: 'Bench' });
  const jwtKey = randomBytes(32).toString('hex');
  const members = Math.ceil(N / STREAMS_PER_MEMBER);
  // Set-based, so the seed's transaction stays short on a loaded machine.
  const userIds = await withTenant(db, tenantId, async (tx) => {
    const users = await tx.user.createManyAndReturn({
      data: Array.from({ length: members }, (_, i) => ({
        tenantId,
        email: `viewer-${i}@bench.test`,
        displayName: `Viewer ${i}`,
        passwordHash: 'none',
      })),
      select: { id: true },
    });
    await tx.membership.createMany({
      data: users.map((u) => ({ tenantId, userId: u.id, role: 'viewer' as const })),
    });
    // Each member's signed-in session: an access token names one (its id is the token's sid).
    await tx.authSession.createMany({
      data: users.map((u) => ({
        id: u.id,
        tenantId,
        userId: u.id,
        browser: 'bench',
        os: 'bench',
        ip: '127.0.0.1',
      })),
    });
    return users.map((u) => u.id);
  });
  const key = new TextEncoder().encode(jwtKey);
  const tokens = await Promise.all(
    userIds.map((userId) =>
      signAccessToken(key, { userId, tenantId, slug, sessionId: userId }, 6 * 3_600_000),
    ),
  );

  const api = fork(
    fileURLToPath(new URL('./api-process.ts', import.meta.url)),
    [urls.appUrl, redisServer.host, String(redisServer.port), slug, jwtKey],
    { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  child = api;
  const { port } = await new Promise<{ port: number }>((resolve, reject) => {
    api.once('message', (m: { type: string; port: number }) => resolve(m));
    api.once('exit', (code) => reject(new Error(`the API process exited (${code})`)));
  });

  const redis = new Redis({ host: redisServer.host, port: redisServer.port });
  const streamKey = realtimeStreamKey(`sb:${slug}:`);
  const clients = async () =>
    String(await redis.call('CLIENT', 'LIST'))
      .trim()
      .split('\n');
  const readerNames = async () =>
    (await clients()).filter((line) => line.includes('name=switchboard-api-realtime:')).length;

  // The raw baseline: one XREAD BLOCK reader in this process, from the stream's current end.
  const raw = redis.duplicate();
  let rawLast = (await redis.xrevrange(streamKey, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0';
  let rawRunning = true;
  const rawLoop = (async () => {
    while (rawRunning) {
      const result = (await raw.xread('BLOCK', 1000, 'STREAMS', streamKey, rawLast)) as
        | [string, [string, string[]][]][]
        | null;
      const now = performance.now();
      for (const [, entries] of result ?? []) {
        for (const [id, fields] of entries) {
          rawLast = id;
          record(fields[1] ?? '', now, true);
        }
      }
    }
  })();

  /**
   * The bucket upper bound (ms) under which `p` % of the API's delivery lags between two stats
   * fell: the API's own side of the latency (append -> written to every stream), apart from the
   * clients' process.
   */
  function lagQuantile(before: ApiStats, after: ApiStats, p: number): number {
    const counts = after.lag.map(([le, n], i) => [le, n - (before.lag[i]?.[1] ?? 0)] as const);
    const total = counts.at(-1)?.[1] ?? 0;
    const bound = counts.find(([, n]) => n >= (p / 100) * total)?.[0] ?? Number.NaN;
    return bound * 1000;
  }

  /** EVENTS events at RATE/s; each one's latencies once every open stream and the raw reader have it. */
  async function measure(open: number) {
    const statsBefore = await request<ApiStats>(api, 'stats');
    const ids: string[] = [];
    const start = performance.now();
    for (let i = 0; i < EVENTS; i++) {
      const due = start + (i * 1000) / RATE;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const conversationId = randomUUID();
      ids.push(conversationId);
      published.set(conversationId, { sentAt: performance.now(), arrivals: [], raw: undefined });
      const event = { type: 'conversation.updated', at: new Date().toISOString(), data: { conversationId } };
      await redis.xadd(streamKey, 'MAXLEN', '~', 10_000, '*', REALTIME_EVENT_FIELD, JSON.stringify(event));
    }
    const complete = () =>
      ids.every((id) => {
        const p = published.get(id)!;
        return p.raw !== undefined && p.arrivals.length >= open;
      });
    const deadline = performance.now() + 30_000;
    while (!complete() && performance.now() < deadline) await sleep(20);
    const each: number[] = [];
    const lastOfAll: number[] = [];
    const rawLatency: number[] = [];
    let missing = 0;
    for (const id of ids) {
      const p = published.get(id)!;
      missing += open - p.arrivals.length + (p.raw === undefined ? 1 : 0);
      for (const at of p.arrivals) each.push(at - p.sentAt);
      if (p.arrivals.length) lastOfAll.push(Math.max(...p.arrivals) - p.sentAt);
      if (p.raw !== undefined) rawLatency.push(p.raw - p.sentAt);
      published.delete(id);
    }
    const statsAfter = await request<ApiStats>(api, 'stats');
    return {
      // The API's CPU per event per open stream: what the fan-out costs, whatever the load.
      apiCpuMicrosPerDelivery: (statsAfter.cpuMicros - statsBefore.cpuAfterGcMicros) / EVENTS / open,
      apiLagP50: lagQuantile(statsBefore, statsAfter, 50),
      apiLagP95: lagQuantile(statsBefore, statsAfter, 95),
      streamP50: percentile(each, 50),
      streamP95: percentile(each, 95),
      streamP99: percentile(each, 99),
      lastP50: percentile(lastOfAll, 50),
      lastP95: percentile(lastOfAll, 95),
      rawP50: percentile(rawLatency, 50),
      rawP95: percentile(rawLatency, 95),
      rawP99: percentile(rawLatency, 99),
      missing,
    };
  }
  type Run = Awaited<ReturnType<typeof measure>>;
  const medianOf = (runs: Run[]) =>
    Object.fromEntries(
      Object.keys(runs[0]!).map((k) => [k, median(runs.map((r) => r[k as keyof Run]))]),
    ) as Run;

  // Warm-up: one stream opened and closed (route, hub and reader code paths loaded), then idle.
  const warm = await openClient(port, tokens[0]!);
  warm.close();
  while ((await request<ApiStats>(api, 'stats')).streams > 0) await sleep(50);
  const idle = await request<ApiStats>(api, 'stats');
  const clientsIdle = (await clients()).length;

  process.stderr.write('one stream...\n');
  const one = await openClient(port, tokens[0]!);
  const oneRuns: Run[] = [];
  for (let r = 0; r < REPEATS; r++) oneRuns.push(await measure(1));
  one.close();
  while ((await request<ApiStats>(api, 'stats')).streams > 0) await sleep(50);

  process.stderr.write(`opening ${N} streams...\n`);
  const openStarted = performance.now();
  const open: { close(): void }[] = [];
  // Memory at a quarter, half and all of N (0, 500, 1,000, 2,000 for --streams 2000): flat means
  // each step costs the same per stream.
  const checkpoints = [...new Set([Math.floor(N / 4), Math.floor(N / 2), N])].filter((c) => c > 0);
  const steps: { streams: number; rss: number; heapUsed: number; external: number }[] = [
    { streams: 0, rss: idle.rss, heapUsed: idle.heapUsed, external: idle.external },
  ];
  // OPEN_WIDTH at a time: each open is authenticated in a transaction on a pool of 10, whose
  // 2 s wait for a connection a wider burst can pass on a loaded machine (a 500 from the auth).
  for (let i = 0; i < N; i += OPEN_WIDTH) {
    const batch = Array.from({ length: Math.min(OPEN_WIDTH, N - i) }, (_, j) =>
      openClient(port, tokens[Math.floor((i + j) / STREAMS_PER_MEMBER)]!),
    );
    open.push(...(await Promise.all(batch)));
    if (checkpoints.includes(open.length) && open.length < N) {
      const at = await request<ApiStats>(api, 'stats');
      steps.push({ streams: at.streams, rss: at.rss, heapUsed: at.heapUsed, external: at.external });
    }
  }
  const openMs = performance.now() - openStarted;
  const loaded = await request<ApiStats>(api, 'stats');
  steps.push({
    streams: loaded.streams,
    rss: loaded.rss,
    heapUsed: loaded.heapUsed,
    external: loaded.external,
  });
  const clientsLoaded = (await clients()).length;
  const readers = await readerNames();

  process.stderr.write(`${N} streams: measuring...\n`);
  const manyRuns: Run[] = [];
  for (let r = 0; r < REPEATS; r++) manyRuns.push(await measure(N));
  const after = await request<ApiStats>(api, 'stats');
  for (const c of open) c.close();

  const oneStream = medianOf(oneRuns);
  const many = medianOf(manyRuns);
  const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
  const kb = (bytes: number) => (bytes / 1024).toFixed(1);
  const ms = (x: number) => x.toFixed(1);
  const rows: [string, string][] = [
    ['streams open (members x streams each)', `${loaded.streams} (${members} x ${STREAMS_PER_MEMBER})`],
    [`time to open them all (${OPEN_WIDTH} at a time)`, `${ms(openMs)} ms`],
    [
      'API RSS: idle / N open / after the events',
      `${mb(idle.rss)} / ${mb(loaded.rss)} / ${mb(after.rss)} MB`,
    ],
    [
      'API heap used: idle / N open / after the events',
      `${mb(idle.heapUsed)} / ${mb(loaded.heapUsed)} / ${mb(after.heapUsed)} MB`,
    ],
    [
      'per open stream: RSS / heap',
      `${kb((loaded.rss - idle.rss) / N)} / ${kb((loaded.heapUsed - idle.heapUsed) / N)} KB`,
    ],
    [
      'API memory by streams open: RSS / heap (per stream since the previous step)',
      steps
        .map((s, i) => {
          const prev = steps[i - 1];
          const per = prev
            ? ` (${kb((s.rss - prev.rss) / (s.streams - prev.streams))} / ${kb((s.heapUsed - prev.heapUsed) / (s.streams - prev.streams))} KB)`
            : '';
          return `${s.streams}: ${mb(s.rss)} / ${mb(s.heapUsed)} MB${per}`;
        })
        .join('; '),
    ],
    [
      'Redis clients: before / with N open (delta)',
      `${clientsIdle} / ${clientsLoaded} (+${clientsLoaded - clientsIdle})`,
    ],
    ['API tenant readers (hub) / named reader connections in Redis', `${loaded.readers} / ${readers}`],
    [
      '1 stream: latency p50 / p95 / p99',
      `${ms(oneStream.streamP50)} / ${ms(oneStream.streamP95)} / ${ms(oneStream.streamP99)} ms`,
    ],
    ['1 stream: API side, p50 / p95 at most', `${oneStream.apiLagP50} / ${oneStream.apiLagP95} ms`],
    ['1 stream: API CPU per event', `${oneStream.apiCpuMicrosPerDelivery.toFixed(0)} µs`],
    [
      '  raw reader, same run: p50 / p95 / p99',
      `${ms(oneStream.rawP50)} / ${ms(oneStream.rawP95)} / ${ms(oneStream.rawP99)} ms`,
    ],
    [
      `${N} streams: each stream's latency p50 / p95 / p99`,
      `${ms(many.streamP50)} / ${ms(many.streamP95)} / ${ms(many.streamP99)} ms`,
    ],
    [`${N} streams: last of the ${N} p50 / p95`, `${ms(many.lastP50)} / ${ms(many.lastP95)} ms`],
    [
      `${N} streams: API CPU per event per stream (per event)`,
      `${many.apiCpuMicrosPerDelivery.toFixed(1)} µs (${((many.apiCpuMicrosPerDelivery * N) / 1000).toFixed(1)} ms)`,
    ],
    [
      `${N} streams: API side (append -> written to all), p50 / p95 at most`,
      `${many.apiLagP50} / ${many.apiLagP95} ms`,
    ],
    [
      '  raw reader, same run: p50 / p95 / p99',
      `${ms(many.rawP50)} / ${ms(many.rawP95)} / ${ms(many.rawP99)} ms`,
    ],
    [
      'p95 ratio, each stream / raw (1 stream; N streams)',
      `${(oneStream.streamP95 / oneStream.rawP95).toFixed(2)}x; ${(many.streamP95 / many.rawP95).toFixed(2)}x`,
    ],
    ['events not delivered (must be 0)', `${oneStream.missing + many.missing}`],
  ];
  process.stdout.write(
    `\nrealtime: ${N} streams, ${EVENTS} events at ${RATE}/s, median of ${REPEATS}\n\n| figure | value |\n|---|---|\n${rows.map(([a, b]) => `| ${a} | ${b} |`).join('\n')}\n`,
  );
  await writeFile(
    new URL('./results.json', import.meta.url),
    `${JSON.stringify({ N, EVENTS, RATE, REPEATS, members, openMs, idle, loaded, after, steps, clientsIdle, clientsLoaded, readers, oneRuns, manyRuns }, null, 2)}\n`,
  );
  rawRunning = false;
  await rawLoop;
  raw.disconnect();
  redis.disconnect();
  const exited = new Promise((resolve) => api.once('exit', resolve));
  api.send({ type: 'stop' });
  await Promise.race([exited, sleep(10_000)]);
  await db.$disconnect();
} finally {
  child?.kill('SIGKILL');
  await Promise.all([postgres.stop(), redisServer.stop()]);
}
