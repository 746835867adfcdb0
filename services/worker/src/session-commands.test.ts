// Session commands (logout, pairing code) consumed by the worker holding the session, with real
// Redis, BullMQ and Postgres and Baileys' own event machinery on stand-in sockets.
import {
  type BaileysStandIn,
  seedPairedSession,
  standInChannelFactory,
} from '@switchboard/channels/baileys/testing';
import { type Db, withTenant } from '@switchboard/db';
import {
  pairingKey,
  QUEUE_NAMES,
  queuePrefix,
  type RealtimeEvent,
  realtimeEventSchema,
  realtimeStreamKey,
  type SessionCommand,
  sessionCommandJobId,
} from '@switchboard/messaging';
import { createTestDatabase, redisOptions, type TestDatabase, uniquePrefix } from '@switchboard/testing';
import { Queue } from 'bullmq';
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
let workerRedis: Redis;
let runtime: SessionRuntime;
const runtimes: SessionRuntime[] = [];
const keyPrefix = `${uniquePrefix('commands')}:`;
const standIns = new Map<string, BaileysStandIn>();
const queues = new Map<string, Queue>();
const errors: string[] = [];

function queueOf(sessionId: string): Queue {
  let queue = queues.get(sessionId);
  if (!queue) {
    queue = new Queue(QUEUE_NAMES.sessionCommands(sessionId), {
      connection: redis,
      prefix: queuePrefix(keyPrefix),
    });
    queues.set(sessionId, queue);
  }
  return queue;
}

/** Adds a command as the API does (jobId from the contract), keeping failed jobs to inspect. */
async function send(command: SessionCommand) {
  return await queueOf(command.sessionId).add(command.type, command, {
    jobId: sessionCommandJobId(command),
    attempts: 3,
    removeOnFail: false,
  });
}

async function events(sessionId: string): Promise<RealtimeEvent[]> {
  return (await redis.xrange(realtimeStreamKey(keyPrefix), '-', '+'))
    .map(([, fields]) => realtimeEventSchema.parse(JSON.parse(fields[1]!)))
    .filter((event) => 'sessionId' in event.data && event.data.sessionId === sessionId);
}

async function sessionRow(id: string) {
  return await withTenant(db, tenantId, (tx) => tx.session.findUniqueOrThrow({ where: { id } }));
}

/** A worker's session runtime whose channels run on stand-in sockets (the newest per session in standIns). */
function startRuntime(workerId: string): SessionRuntime {
  const created = new SessionRuntime({
    redis,
    db,
    tenantId,
    keyPrefix,
    workerId,
    maxSessions: 10,
    leaseTtlMs: 3000,
    commands: { connection: workerRedis, handOverDelayMs: 200 },
    onError: (error, context) => errors.push(`${context.what}: ${String(error)}`),
    createChannel: standInChannelFactory({
      redis,
      keyPrefix,
      onStandIn: (sessionId, standIn) => standIns.set(sessionId, standIn),
    }),
  });
  runtimes.push(created);
  created.start();
  return created;
}

beforeAll(async () => {
  database = await createTestDatabase({ label: 'worker-commands' });
  ({ db, tenantId, sessionIds } = await seedTenant(database, 3));
  redis = new Redis(redisOptions());
  workerRedis = new Redis({ ...redisOptions(), maxRetriesPerRequest: null });
  // Session 0 was linked before: its socket logs in with saved creds.
  await seedPairedSession({
    redis,
    keyPrefix,
    sessionId: sessionIds[0]!,
    epoch: 0,
    phoneNumber: '5511977770001',
    lid: '400000000000101',
  });
  // Commands sent while no worker holds the sessions: they must wait for the first holder.
  await send({
    type: 'pairing-code',
    tenantId,
    sessionId: sessionIds[1]!,
    phoneNumber: '5511977770002',
    requestedBy: 'user:test',
  });
  await queueOf(sessionIds[2]!).add(
    'logout',
    { type: 'logout', tenantId, sessionId: 'not-a-uuid', requestedBy: 'user:test' },
    { jobId: 'bad-command', attempts: 3, removeOnFail: false },
  );
  runtime = startRuntime('cmd-worker');
  await eventually('every session open', () => runtime.sessions().length === 3, 10_000);
});

afterAll(async () => {
  for (const r of runtimes) await r.stop().catch(() => undefined);
  for (const queue of queues.values()) await queue.close();
  redis?.disconnect();
  workerRedis?.disconnect();
  await db?.$disconnect();
  await database?.drop();
});

describe('session commands', () => {
  it('consumes a pairing-code request sent before any worker held the session, publishing a code challenge', async () => {
    const id = sessionIds[1]!;
    const socket = await standIns.get(id)!.socket(1);
    // The code is asked for once the socket is past its handshake (its first QR).
    socket.showQr();
    await eventually(
      'the code published',
      async () => JSON.parse((await redis.get(pairingKey(keyPrefix, id))) ?? '{}').kind === 'code',
      10_000,
    );
    const record = JSON.parse((await redis.get(pairingKey(keyPrefix, id)))!);
    expect(record).toMatchObject({ kind: 'code', phoneNumber: '5511977770002' });
    expect(record.code).toMatch(/^[A-Z0-9]{8}$/);
    expect(socket.pairingCodeRequests).toEqual(['5511977770002']);
    const pairing = (await events(id)).filter((e) => e.type === 'session.pairing');
    expect(pairing.map((e) => e.data)).toContainEqual(expect.objectContaining({ kind: 'code' }));
    const job = await queueOf(id).getJob(
      sessionCommandJobId({
        type: 'pairing-code',
        tenantId,
        sessionId: id,
        phoneNumber: '5511977770002',
        requestedBy: 'user:test',
      }),
    );
    await eventually('the job completed', async () => (await job?.getState()) === 'completed', 5_000);
  });

  it('logs a connected session out: the device is unlinked and the session ends logged_out', async () => {
    const id = sessionIds[0]!;
    const socket = await standIns.get(id)!.socket(1);
    socket.open();
    await eventually('connected', async () => (await sessionRow(id)).state === 'connected', 5_000);
    await send({ type: 'logout', tenantId, sessionId: id, requestedBy: 'user:test' });
    await eventually('logged out', async () => (await sessionRow(id)).state === 'logged_out', 10_000);
    expect(socket.logoutCalls).toBe(1);
    // The credentials are gone: the next link needs a new pairing.
    expect(await redis.hget(`${keyPrefix}session:${id}:auth`, 'creds')).toBeNull();
    const states = (await events(id)).flatMap((e) => (e.type === 'session.state' ? [e.data.state] : []));
    expect(states.at(-1)).toBe('logged_out');
  });

  it('fails an invalid command at once with the schema message', async () => {
    const job = await queueOf(sessionIds[2]!).getJob('bad-command');
    await eventually('the job failed', async () => (await job!.getState()) === 'failed', 10_000);
    const failed = await queueOf(sessionIds[2]!).getJob('bad-command');
    expect(failed!.failedReason).toContain('sessionId: must be a uuid');
    // Unrecoverable: one attempt of the three allowed.
    expect(failed!.attemptsMade).toBe(1);
    // The session itself was left alone.
    expect((await sessionRow(sessionIds[2]!)).state).not.toBe('logged_out');
    expect(errors).toEqual([]);
  });

  it('hands a command in progress to the next holder when the session moves', async () => {
    const id = sessionIds[2]!;
    const command: SessionCommand = {
      type: 'pairing-code',
      tenantId,
      sessionId: id,
      phoneNumber: '5511977770003',
      requestedBy: 'user:test',
    };
    const job = await send(command);
    // The request waits for the socket's first QR, which this socket never shows.
    await eventually('the command active', async () => (await job.getState()) === 'active', 10_000);
    const firstSocket = await standIns.get(id)!.socket(1);
    await runtime.stop();
    // Not failed, not an attempt spent: waiting for the next holder.
    expect(await job.getState()).toBe('delayed');
    expect(firstSocket.pairingCodeRequests).toEqual([]);

    const next = startRuntime('cmd-worker-2');
    await eventually('the session claimed again', () => next.sessions().includes(id), 10_000);
    const socket = await standIns.get(id)!.socket(1);
    socket.showQr();
    await eventually(
      'the code published by the new holder',
      async () =>
        JSON.parse((await redis.get(pairingKey(keyPrefix, id))) ?? '{}').phoneNumber === '5511977770003',
      10_000,
    );
    expect(socket.pairingCodeRequests).toEqual(['5511977770003']);
    await eventually('the job completed', async () => (await job.getState()) === 'completed', 5_000);
    expect((await queueOf(id).getJob(job.id!))!.attemptsMade).toBe(1);
  });
});
