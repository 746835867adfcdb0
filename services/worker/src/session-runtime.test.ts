// The worker's session runtime with real Redis and Postgres and Baileys' own event machinery on
// stand-in sockets (packages/channels): claim -> socket -> QR published with its TTL -> paired
// and connected recorded under the claim's epoch -> hand-over to a second worker. Then worker
// processes whose providers cannot be reached when they claim: a Cloud API session connects
// once Graph answers; a Baileys session backs off quietly and the worker stays Ready.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BaileysStandIn, standInChannelFactory } from '@switchboard/channels/baileys/testing';
import { createCloudApiEmulator } from '@switchboard/cloud-api-emulator';
import { type Db, tenantIdForSlug, withTenant } from '@switchboard/db';
import { pairingKey, realtimeEventSchema, realtimeStreamKey, tenantKeyPrefix } from '@switchboard/messaging';
import { createMetricsRegistry, type MetricsRegistry } from '@switchboard/telemetry';
import {
  createTestDatabase,
  deleteKeysWithPrefix,
  freePort,
  redisOptions,
  type TestDatabase,
  uniquePrefix,
} from '@switchboard/testing';
import { DisconnectReason } from '@whiskeysockets/baileys';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedTenant } from '../../../packages/sessions/src/testing/tenant-fixture.ts';
import { eventually } from '../../../packages/sessions/src/testing/worker-fleet.ts';
import { SessionRuntime } from './session-runtime.ts';
import { probe, startWorkerProcess, type WorkerProcess, workerProcessEnv } from './testing/worker-process.ts';

let database: TestDatabase;
let db: Db;
let tenantId: string;
let sessionIds: string[];
let redis: Redis;
const keyPrefix = `${uniquePrefix('runtime')}:`;
// One stand-in per session and worker: what WhatsApp's servers would be for each socket.
const standIns = new Map<string, BaileysStandIn>();
const runtimes: SessionRuntime[] = [];
// Each runtime's own registry (the session metrics are registered once per registry).
const registries = new Map<string, MetricsRegistry>();
const errors: string[] = [];

/** One sample of a scrape, matched by name and labels; 0 when absent. */
function sampleOf(text: string, name: string, labels: Record<string, string>): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
      return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

function runtime(workerId: string): SessionRuntime {
  const metrics = createMetricsRegistry({ service: 'worker-test', collectDefaultMetrics: false });
  registries.set(workerId, metrics);
  const r = new SessionRuntime({
    metrics,
    redis,
    db,
    tenantId,
    keyPrefix,
    workerId,
    maxSessions: 10,
    leaseTtlMs: 1500,
    onError: (error, context) => errors.push(`${context.what}: ${String(error)}`),
    createChannel: standInChannelFactory({
      redis,
      keyPrefix,
      onStandIn: (sessionId, standIn) => standIns.set(`${workerId}/${sessionId}`, standIn),
    }),
  });
  runtimes.push(r);
  return r;
}

async function sessionRow(id: string) {
  return await withTenant(db, tenantId, (tx) => tx.session.findUniqueOrThrow({ where: { id } }));
}

beforeAll(async () => {
  database = await createTestDatabase({ label: 'worker-runtime' });
  ({ db, tenantId, sessionIds } = await seedTenant(database, 2));
  redis = new Redis(redisOptions());
});
const processes: WorkerProcess[] = [];
const slugs: string[] = [];
const cleanups: (() => Promise<void>)[] = [];
let dir: string | undefined;

afterAll(async () => {
  for (const worker of processes) if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
  for (const cleanup of cleanups) await cleanup().catch(() => undefined);
  for (const slug of slugs) await deleteKeysWithPrefix(redis, tenantKeyPrefix(slug));
  if (dir) await rm(dir, { recursive: true, force: true });
  for (const r of runtimes) await r.stop().catch(() => undefined);
  redis?.disconnect();
  await db?.$disconnect();
  await database?.drop();
});

describe('SessionRuntime', () => {
  it('opens a socket per held session, publishes its QR with the TTL, and records pairing and connection', async () => {
    const first = runtime('w1');
    first.start();
    await eventually('both sessions open', () => first.sessions().length === 2, 20_000);
    const id = sessionIds[0]!;
    const socket = await standIns.get(`w1/${id}`)!.socket(1);

    const qr = socket.showQr();
    await eventually(
      'the QR in Redis',
      async () => JSON.parse((await redis.get(pairingKey(keyPrefix, id))) ?? '{}').code === qr,
      15_000,
    );
    const published = JSON.parse((await redis.get(pairingKey(keyPrefix, id)))!);
    expect(published).toMatchObject({ kind: 'qr', sequence: 1 });
    const ttl = await redis.pttl(pairingKey(keyPrefix, id));
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    await eventually('pairing recorded', async () => (await sessionRow(id)).state === 'pairing', 15_000);

    socket.completePairing({ phoneNumber: '5511988880001', lid: '400000000000001' });
    // creds.update is saved asynchronously; the 515 restart logs in with what was saved.
    await eventually(
      'the linked creds saved',
      async () =>
        ((await redis.hget(`${keyPrefix}session:${id}:auth`, 'creds')) ?? '').includes('5511988880001'),
      15_000,
    );
    await socket.close(DisconnectReason.restartRequired);
    const restarted = await standIns.get(`w1/${id}`)!.socket(2);
    restarted.open();
    await eventually('connected recorded', async () => (await sessionRow(id)).state === 'connected', 15_000);
    const row = await sessionRow(id);
    expect(row.state).toBe('connected');
    expect(row.phoneNumber).toBe('5511988880001');
    expect(row.lastConnectedAt).not.toBeNull();
    expect(row.owner).toBe('w1');

    // The tenant's realtime stream got the pairing (without its code: the stream is readable
    // by every user, the code only through the API) and each state, in order.
    const events = (await redis.xrange(realtimeStreamKey(keyPrefix), '-', '+'))
      .map(([, fields]) => realtimeEventSchema.parse(JSON.parse(fields[1]!)))
      .filter((event) => 'sessionId' in event.data && event.data.sessionId === id);
    const pairingEvent = events.find((event) => event.type === 'session.pairing');
    expect(pairingEvent?.data).toMatchObject({ kind: 'qr', sequence: 1 });
    expect(JSON.stringify(pairingEvent)).not.toContain(qr);
    const states = events.flatMap((event) => (event.type === 'session.state' ? [event.data.state] : []));
    expect(states).toContain('pairing');
    expect(states.at(-1)).toBe('connected');
    expect(events.at(-1)?.data).toMatchObject({ phoneNumber: '5511988880001' });

    // The metrics: the 515 restart after pairing was a reconnect, counted with its cause; the
    // states are read when scraped: this session connected, the other one still linking.
    const scrape = await registries.get('w1')!.metrics();
    const reconnects = (reason: string) =>
      sampleOf(scrape, 'switchboard_sessions_reconnects_total', { channel: 'baileys', reason });
    expect(reconnects('restart-required')).toBe(1);
    expect(reconnects('connection-lost')).toBe(0);
    const state = (channel: string, s: string) =>
      sampleOf(scrape, 'switchboard_sessions_state_sessions', { channel, state: s });
    expect(state('baileys', 'connected')).toBe(1);
    const all = ['unpaired', 'pairing', 'connecting', 'connected', 'disconnected', 'logged_out'];
    expect(all.reduce((n, s) => n + state('baileys', s), 0)).toBe(2);
    expect(all.reduce((n, s) => n + state('cloud-api', s), 0)).toBe(0);
    // Every series is there, at 0 when no session is in that state.
    expect(scrape).toMatch(
      /^switchboard_sessions_state_sessions\{channel="cloud-api",state="logged_out".*\} 0$/m,
    );

    // The connection drops: Baileys reconnects by itself, one more reconnect with that cause.
    await restarted.close(DisconnectReason.connectionLost);
    await eventually(
      'the connection-lost reconnect counted',
      async () =>
        sampleOf(await registries.get('w1')!.metrics(), 'switchboard_sessions_reconnects_total', {
          channel: 'baileys',
          reason: 'connection-lost',
        }) === 1,
      15_000,
    );
    const again = await standIns.get(`w1/${id}`)!.socket(3, 15_000);
    again.open();
    await eventually(
      'connected again',
      async () =>
        sampleOf(await registries.get('w1')!.metrics(), 'switchboard_sessions_state_sessions', {
          channel: 'baileys',
          state: 'connected',
        }) === 1,
      15_000,
    );
    expect(errors).toEqual([]);
  });

  it('hands a session to a new worker, whose channel logs in with the auth state the first one saved', async () => {
    const second = runtime('w2');
    second.start();
    const [first] = runtimes;
    await eventually(
      'one session each',
      () => first!.sessions().length === 1 && second.sessions().length === 1,
      20_000,
    );
    const moved = second.sessions()[0]!;
    const socket = await standIns.get(`w2/${moved}`)!.socket(1);
    if (moved === sessionIds[0]) {
      // The paired session moved: the new socket starts from the saved creds, no QR needed.
      expect(socket.config.auth.creds.me?.id).toBe('5511988880001:7@s.whatsapp.net');
    }
    const row = await sessionRow(moved);
    expect(row.owner).toBe('w2');
    await second.stop();
    await eventually('w1 holds both again', () => first!.sessions().length === 2, 20_000);
    const handedBack = await withTenant(db, tenantId, (tx) =>
      tx.session.findMany({ where: { owner: 'w1' } }),
    );
    expect(handedBack).toHaveLength(2);
  });
});

const PHONE_NUMBER_ID = '106540352242922';
const TOKEN = 'EAAtest-retry-token';

async function workerProcess(slug: string, sessions: unknown[], extra: Record<string, string>) {
  dir ??= await mkdtemp(join(tmpdir(), 'worker-runtime-'));
  slugs.push(slug);
  const env = await workerProcessEnv({ dir, slug, sessions, databaseUrl: database.appUrl });
  const worker = startWorkerProcess({ ...env, ...extra });
  processes.push(worker);
  return { env, worker, tenantId: tenantIdForSlug(slug) };
}

async function onlySession(tenantId: string) {
  return await withTenant(db, tenantId, (tx) => tx.session.findFirstOrThrow());
}

// Worker processes of their own (Node start-up, claims, connects, a few backoff rounds): their
// bounded waits add up to more than the default 30 s on a loaded 2-core machine.
describe('a worker whose provider cannot be reached when it claims', { timeout: 120_000 }, () => {
  it('connects a Cloud API session once the Graph API answers, retrying with backoff until then', async () => {
    // Nothing listens on Graph's port when the worker claims the session.
    const port = await freePort();
    const { env, worker, tenantId } = await workerProcess(
      uniquePrefix('wretry').slice(4),
      [
        {
          name: 'meta',
          channel: 'cloud-api',
          phoneNumberId: PHONE_NUMBER_ID,
          credentials: {
            accessToken: 'secret://env/META_ACCESS_TOKEN',
            appSecret: 'secret://env/META_APP_SECRET',
            verifyToken: 'secret://env/META_VERIFY_TOKEN',
          },
        },
      ],
      {
        CLOUD_API_BASE_URL: `http://127.0.0.1:${port}`,
        META_ACCESS_TOKEN: TOKEN,
        META_APP_SECRET: 'retry-app-secret',
        META_VERIFY_TOKEN: 'verify',
      },
    );
    // The precondition, forced: the worker claimed the session and its connect failed.
    await eventually(
      'the first connect failed (Graph unreachable)',
      async () => {
        const row = await onlySession(tenantId).catch(() => undefined);
        return (
          row?.state === 'disconnected' &&
          row.owner === env.POD_NAME &&
          !!row.stateReason?.startsWith('socket-error')
        );
      },
      30_000,
    );
    // Graph comes up on that port: the held session connects without any restart or re-claim.
    const emulator = await createCloudApiEmulator({
      port,
      accessToken: TOKEN,
      appSecret: 'retry-app-secret',
      verifyToken: 'verify',
      phoneNumbers: [{ id: PHONE_NUMBER_ID, displayPhoneNumber: '15551230000' }],
    });
    cleanups.push(() => emulator.close());
    await eventually('connected', async () => (await onlySession(tenantId)).state === 'connected', 40_000);
    // Each retry was a reconnect counted with the cause of the failed connect, on /metrics.
    const scrape = (await probe(env.METRICS_PORT!, '/metrics')).text;
    expect(
      sampleOf(scrape, 'switchboard_sessions_reconnects_total', {
        channel: 'cloud-api',
        reason: 'socket-error',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sampleOf(scrape, 'switchboard_sessions_state_sessions', { channel: 'cloud-api', state: 'connected' }),
    ).toBe(1);
    const row = await onlySession(tenantId);
    expect(row.owner).toBe(env.POD_NAME);
    expect(row.phoneNumber).toBe('15551230000');
    expect(worker.child.exitCode).toBeNull();
    expect(worker.output()).not.toContain(TOKEN);
  });

  it('lets a Baileys session whose socket URL leads nowhere back off quietly; the worker stays Ready', async () => {
    // "Nowhere": a TCP server that accepts and closes every connection at once, counting them.
    const attempts: number[] = [];
    const nowhere: Server = createServer((socket) => {
      attempts.push(Date.now());
      socket.destroy();
    });
    await new Promise<void>((resolve) => nowhere.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => nowhere.close(() => resolve())));
    const { port } = nowhere.address() as { port: number };
    const { env, worker, tenantId } = await workerProcess(
      uniquePrefix('wnowhere').slice(4),
      [{ name: 'phone', channel: 'baileys' }],
      { WHATSAPP_WEB_SOCKET_URL: `ws://127.0.0.1:${port}/ws/chat` },
    );
    await eventually('ready', async () => (await probe(env.METRICS_PORT!, '/readyz')).status === 200, 30_000);
    const linesAtStart = worker.output().split('\n').filter(Boolean).length;
    // Five connection attempts reached "nowhere" (backoff 1, 2, 4, 8 s between them).
    await eventually('five connection attempts', () => attempts.length >= 5, 60_000);
    expect(worker.child.exitCode).toBeNull();
    expect((await probe(env.METRICS_PORT!, '/readyz')).status).toBe(200);
    expect((await probe(env.METRICS_PORT!, '/livez')).status).toBe(200);
    // Between attempts the session is disconnected, still held: the fifth attempt's socket was
    // closed at once, and the next attempt is at least 8 s away.
    await eventually(
      'disconnected after the fifth attempt',
      async () => {
        const row = await onlySession(tenantId);
        return row.state === 'disconnected' && row.owner === env.POD_NAME;
      },
      10_000,
    );
    // Backed off, not a tight loop: each delay is at least half its ceiling (1, 2, 4, 8 s), so
    // five attempts span at least 0.5 + 1 + 2 + 4 s.
    expect(attempts[4]! - attempts[0]!).toBeGreaterThanOrEqual(7_000);
    // Quiet: at most one log line per attempt after start-up.
    const lines = worker.output().split('\n').filter(Boolean).length - linesAtStart;
    expect(lines).toBeLessThanOrEqual(attempts.length);
  });
});
