// kill -9 of a worker process in the middle of an outbound burst, then a restart: every message
// ends `sent`, and what reached the provider is each message once (by provider id).
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type Db, withTenant } from '@switchboard/db';
import { createTestDatabase, redisNamespace, redisOptions, type TestDatabase } from '@switchboard/testing';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type OutboundJob,
  outboundJobOptions,
  providerMessageIdFor,
  QUEUE_NAMES,
  queuePrefix,
} from '../contracts.ts';
import { eventually, queueOutboundText, seedTenant } from '../testing/fixtures.ts';

const script = fileURLToPath(new URL('../testing/outbound-worker.ts', import.meta.url));
let database: TestDatabase;
let db: Db;
let tenantId: string;
let sessionId: string;
let redis: Redis;
const namespace = redisNamespace('outbound-proc');
const keyPrefix = `${namespace.prefix}:`;
const sendsKey = `${keyPrefix}test:sends`;
const children: ChildProcess[] = [];

beforeAll(async () => {
  database = await createTestDatabase({ label: 'messaging-outbound-proc' });
  const seeded = await seedTenant(database, 1);
  db = seeded.db;
  tenantId = seeded.tenantId;
  sessionId = seeded.sessionIds[0]!;
  redis = new Redis({ ...redisOptions(), maxRetriesPerRequest: null });
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  redis.disconnect();
  await namespace.cleanup();
  await db.$disconnect();
  await database.drop();
});

async function startWorker(epoch: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [script], {
    env: {
      ...process.env,
      OUTBOUND_WORKER: JSON.stringify({
        redis: redisOptions(),
        databaseUrl: database.appUrl,
        tenantId,
        sessionId,
        keyPrefix,
        sendsKey,
        epoch: String(epoch),
      }),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`outbound worker exited (${code}): ${stderr}`)));
  });
  return child;
}

describe('outbound across a worker crash', () => {
  it('sends every message exactly once after kill -9 and restart', { timeout: 60_000 }, async () => {
    const total = 40;
    const ids: string[] = [];
    for (let i = 0; i < total; i++)
      ids.push(
        await queueOutboundText(
          db,
          tenantId,
          sessionId,
          `49160000${String(i % 4).padStart(4, '0')}`,
          `m${i}`,
        ),
      );
    const queue = new Queue(QUEUE_NAMES.outbound(sessionId), {
      connection: redis,
      prefix: queuePrefix(keyPrefix),
    });
    // The API enqueues half; the worker's start re-enqueues the rest.
    for (const messageId of ids.slice(0, total / 2)) {
      const job: OutboundJob = { kind: 'send', tenantId, messageId };
      await queue.add('send', job, outboundJobOptions(job));
    }

    const first = await startWorker(1);
    await eventually(async () => (await redis.llen(sendsKey)) >= 10, 2);
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    const sentBeforeCrash = await redis.llen(sendsKey);
    expect(sentBeforeCrash).toBeLessThan(total);

    const second = await startWorker(2);
    const statuses = async () =>
      await withTenant(db, tenantId, (tx) =>
        tx.message.findMany({ where: { id: { in: ids } }, include: { statusEvents: true } }),
      );
    await eventually(async () => (await statuses()).every((m) => m.status === 'sent'), 100);
    second.kill('SIGTERM');
    await new Promise((resolve) => second.once('exit', resolve));

    const sends = (await redis.lrange(sendsKey, 0, -1)).map(
      (s) => JSON.parse(s) as { id: string; pid: number },
    );
    const distinct = new Set(sends.map((s) => s.id));
    // Each message reached the provider under its own id...
    expect(distinct).toEqual(new Set(ids.map(providerMessageIdFor)));
    // ...and at most the one in flight at the kill (concurrency 1) was transmitted twice, under
    // the same id, which the recipient de-duplicates.
    expect(sends.length - distinct.size).toBeLessThanOrEqual(1);
    expect(new Set(sends.map((s) => s.pid)).size).toBe(2);
    for (const message of await statuses()) {
      expect(message.providerMessageId).toBe(providerMessageIdFor(message.id));
      expect(message.statusEvents.map((e) => e.status)).toEqual(['sent']);
    }
    expect(await queue.getFailedCount()).toBe(0);
    await queue.close();
  });
});
