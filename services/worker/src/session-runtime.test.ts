// The worker's session runtime with real Redis and Postgres and Baileys' own event machinery on
// stand-in sockets (packages/channels): claim -> socket -> QR published with its TTL -> paired
// and connected recorded under the claim's epoch -> hand-over to a second worker.
import { type BaileysStandIn, standInChannelFactory } from '@switchboard/channels/baileys/testing';
import { type Db, withTenant } from '@switchboard/db';
import { pairingKey, realtimeEventSchema, realtimeStreamKey } from '@switchboard/messaging';
import { createTestDatabase, redisOptions, type TestDatabase, uniquePrefix } from '@switchboard/testing';
import { DisconnectReason } from '@whiskeysockets/baileys';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedTenant } from '../../../packages/sessions/src/testing/tenant-fixture.ts';
import { eventually } from '../../../packages/sessions/src/testing/worker-fleet.ts';
import { SessionRuntime } from './session-runtime.ts';

let database: TestDatabase;
let db: Db;
let tenantId: string;
let sessionIds: string[];
let redis: Redis;
const keyPrefix = `${uniquePrefix('runtime')}:`;
// One stand-in per session and worker: what WhatsApp's servers would be for each socket.
const standIns = new Map<string, BaileysStandIn>();
const runtimes: SessionRuntime[] = [];
const errors: string[] = [];

function runtime(workerId: string): SessionRuntime {
  const r = new SessionRuntime({
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
afterAll(async () => {
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
