// The worker as the Deployment runs it: `node services/worker/src/server.ts` with the environment
// the operator sets, against the real Postgres and Redis. Baileys' real sockets are used, pointed
// at a loopback port nobody listens on (WhatsApp's servers cannot be reached here), so every
// session stays in its reconnect loop while it is held.
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDb, type Db, tenantIdForSlug, withTenant } from '@switchboard/db';
import { realtimeStreamKey, tenantKeyPrefix } from '@switchboard/messaging';
import { sessionKeys } from '@switchboard/sessions';
import {
  createTestDatabase,
  deleteKeysWithPrefix,
  redisOptions,
  sentinelOptions,
  type TestDatabase,
  uniquePrefix,
  withSettledSentinelGroup,
} from '@switchboard/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { eventually } from '../../../packages/sessions/src/testing/worker-fleet.ts';
import { probe, startWorkerProcess, workerProcessEnv } from './testing/worker-process.ts';

let database: TestDatabase;
let db: Db;
let redis: Redis;
let dir: string;
const children: ChildProcess[] = [];
const slugs: string[] = [];

beforeAll(async () => {
  database = await createTestDatabase({ label: 'worker-server' });
  db = createDb({ databaseUrl: database.appUrl, maxConnections: 3 });
  redis = new Redis(redisOptions());
  dir = await mkdtemp(join(tmpdir(), 'worker-server-'));
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  for (const slug of slugs) await deleteKeysWithPrefix(redis, tenantKeyPrefix(slug));
  redis?.disconnect();
  await db?.$disconnect();
  await database?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function start(env: Record<string, string>) {
  const worker = startWorkerProcess(env);
  children.push(worker.child);
  return worker;
}

function workerEnv(slug: string, sessions: unknown[]) {
  return workerProcessEnv({ dir, slug, sessions, databaseUrl: database.appUrl });
}

// Each test runs worker processes of their own (Node start-up, claims, connects) with bounded waits
// that add up to more than the default 30 s on a loaded 2-core machine.
describe('the worker process', { timeout: 120_000 }, () => {
  it('creates its tenant and declared sessions, holds them, reports ready, and hands them over on SIGTERM', async () => {
    const slug = uniquePrefix('wsrv').slice(4);
    slugs.push(slug);
    const env = await workerEnv(slug, [
      { name: 'support', channel: 'baileys' },
      { name: 'sales', channel: 'baileys' },
    ]);
    // Sealed auth state, as the operator configures it (current key first, a previous one).
    const worker = start({
      ...env,
      AUTH_STATE_KEYS: `k2:${Buffer.alloc(32, 2).toString('base64')},k1:${Buffer.alloc(32, 1).toString('base64')}`,
    });
    const tenantId = tenantIdForSlug(slug);
    const keyPrefix = tenantKeyPrefix(slug);

    await eventually('ready', async () => (await probe(env.METRICS_PORT!, '/readyz')).status === 200, 20_000);
    const sessions = await withTenant(db, tenantId, (tx) =>
      tx.session.findMany({ orderBy: { name: 'asc' }, include: { tenant: true } }),
    );
    expect(sessions.map((s) => [s.name, s.channel, s.declared])).toEqual([
      ['sales', 'baileys', true],
      ['support', 'baileys', true],
    ]);
    expect(sessions[0]!.tenant).toMatchObject({ slug, displayName: 'Server Test' });

    // Both leases are this pod's, each claim raised the epoch, and the unreachable WhatsApp
    // shows as a disconnect that will be retried, recorded under the claim.
    await eventually(
      'both leases held',
      async () => {
        const holders = await Promise.all(sessions.map((s) => redis.get(sessionKeys(keyPrefix, s.id).lease)));
        return holders.every((holder) => holder?.startsWith(`${env.POD_NAME}:`));
      },
      15_000,
    );
    await eventually(
      'the reconnect loop recorded',
      async () => {
        const rows = await withTenant(db, tenantId, (tx) => tx.session.findMany());
        return rows.every(
          (row) => row.state === 'disconnected' && row.epoch >= 1n && row.owner === env.POD_NAME,
        );
      },
      15_000,
    );
    // The owned-sessions gauge is set at the end of the claim pass that took the leases, which
    // may still be finishing when the leases are seen: wait for the gauge itself.
    await eventually(
      'the owned-sessions gauge at 2',
      async () =>
        /switchboard_sessions_owned_sessions\{[^}]*\} 2/.test(
          (await probe(env.METRICS_PORT!, '/metrics')).text,
        ),
      15_000,
    );
    expect((await probe(env.METRICS_PORT!, '/livez')).status).toBe(200);
    expect(await redis.xlen(realtimeStreamKey(keyPrefix))).toBeGreaterThan(0);

    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    // Released at once, not left to expire: the next worker can claim them now.
    for (const session of sessions)
      expect(await redis.get(sessionKeys(keyPrefix, session.id).lease)).toBeNull();
    const after = await withTenant(db, tenantId, (tx) => tx.session.findMany());
    expect(
      after.every((row) => row.state === 'disconnected' && row.stateReason?.startsWith('handed over')),
    ).toBe(true);
    expect(worker.output()).not.toContain(database.appUrl);
  });

  it('on a Sentinel group, claims with WAIT: the lease and fence are on every node once it holds the session', async () => {
    const slug = uniquePrefix('wsnt').slice(4);
    slugs.push(slug);
    const env = await workerEnv(slug, [{ name: 'support', channel: 'baileys' }]);
    const { name, sentinels } = sentinelOptions();
    const tenantId = tenantIdForSlug(slug);
    const keyPrefix = tenantKeyPrefix(slug);
    // The group stays whole (no other file's failover, whose resync empties a replica for a
    // moment) from before the claim until every node has been read.
    await withSettledSentinelGroup(async () => {
      const worker = start({
        ...env,
        REDIS_MODE: 'sentinel',
        REDIS_URL: '',
        REDIS_SENTINELS: sentinels.map((s) => `${s.host}:${s.port}`).join(','),
        REDIS_SENTINEL_NAME: name,
        REDIS_REPLICA_WAIT: '2',
        REDIS_REPLICA_WAIT_TIMEOUT: '5s',
      });
      await eventually(
        'ready',
        async () => (await probe(env.METRICS_PORT!, '/readyz')).status === 200,
        20_000,
      );
      const [session] = await withTenant(db, tenantId, (tx) => tx.session.findMany());
      // The row's owner is written after the claim's WAIT returned acknowledged by both replicas.
      await eventually(
        'the session claimed',
        async () =>
          (await withTenant(db, tenantId, (tx) => tx.session.findMany()))[0]?.owner === env.POD_NAME,
        15_000,
      );
      for (const node of inject('sentinel').nodes) {
        const direct = new Redis({ host: node.host, port: node.port });
        try {
          expect(await direct.get(sessionKeys(keyPrefix, session!.id).fence)).not.toBeNull();
          expect(
            (await direct.get(sessionKeys(keyPrefix, session!.id).lease))?.startsWith(`${env.POD_NAME}:`),
          ).toBe(true);
        } finally {
          direct.disconnect();
        }
      }
      worker.child.kill('SIGTERM');
      expect(await worker.exited).toBe(0);
    });
    const sentinel = new Redis(sentinelOptions());
    await deleteKeysWithPrefix(sentinel, keyPrefix);
    sentinel.disconnect();
  });

  it('exits 1 naming every bad variable, without printing the values', async () => {
    const env = await workerEnv('x', []);
    const worker = start({
      ...env,
      SWITCHBOARD_TENANT: 'Not_A_Label',
      MAX_SESSIONS_PER_WORKER: 'lots',
      REDIS_MODE: 'sentinel',
      DATABASE_URL: 'mysql://root:hunter2@db/x',
      // 16 bytes, not 32: refused, and the key is not printed.
      AUTH_STATE_KEYS: `k1:${Buffer.from('hunter2-16-bytes').toString('base64')}`,
    });
    expect(await worker.exited).toBe(1);
    const output = worker.output();
    for (const name of [
      'SWITCHBOARD_TENANT',
      'MAX_SESSIONS_PER_WORKER',
      'REDIS_SENTINELS',
      'DATABASE_URL',
      'AUTH_STATE_KEYS',
    ]) {
      expect(output).toContain(name);
    }
    expect(output).not.toContain('hunter2');
    expect(output).not.toContain(Buffer.from('hunter2-16-bytes').toString('base64'));
  });

  it('refuses to start as a role that could escape row-level security', async () => {
    const slug = uniquePrefix('wown').slice(4);
    slugs.push(slug);
    const worker = start({ ...(await workerEnv(slug, [])), DATABASE_URL: database.ownerUrl });
    expect(await worker.exited).toBe(1);
    expect(worker.output()).toContain('worker failed to start');
    expect(await withTenant(db, tenantIdForSlug(slug), (tx) => tx.tenant.count())).toBe(0);
  });

  it('refuses a sessions file it cannot trust, naming the file and the field', async () => {
    const slug = uniquePrefix('wbad').slice(4);
    slugs.push(slug);
    const env = await workerEnv(slug, [{ name: 'Support!', channel: 'telegram' }]);
    const worker = start(env);
    expect(await worker.exited).toBe(1);
    expect(worker.output()).toContain(`the sessions file ${env.SWITCHBOARD_SESSIONS_FILE} is invalid`);
    expect(worker.output()).toContain('[0.name]');
    expect(worker.output()).toContain('[0.channel]');
  });
});
