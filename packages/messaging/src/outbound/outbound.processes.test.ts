// kill -9 of a worker process in the middle of an outbound burst, then a restart: every message
// ends `sent`, and what reached the provider is each message once (by provider id). And the Cloud
// API case (the provider picks the ids): a kill between Meta's 200 and the `sent` record.
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseCloudApiWebhook } from '@switchboard/channels';
import { type CloudApiEmulator, createCloudApiEmulator } from '@switchboard/cloud-api-emulator';
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
import { applyReceipt } from '../inbound/receipts.ts';
import { eventually, queueOutboundText, seedTenant } from '../testing/fixtures.ts';

const script = fileURLToPath(new URL('../testing/outbound-worker.ts', import.meta.url));
const cloudScript = fileURLToPath(new URL('../testing/cloud-api-outbound-worker.ts', import.meta.url));
let database: TestDatabase;
let db: Db;
let tenantId: string;
let sessionId: string;
let cloudSessionId: string;
let redis: Redis;
const namespace = redisNamespace('outbound-proc');
const keyPrefix = `${namespace.prefix}:`;
const sendsKey = `${keyPrefix}test:sends`;
const children: ChildProcess[] = [];

beforeAll(async () => {
  database = await createTestDatabase({ label: 'messaging-outbound-proc' });
  const seeded = await seedTenant(database, 2);
  db = seeded.db;
  tenantId = seeded.tenantId;
  sessionId = seeded.sessionIds[0]!;
  cloudSessionId = seeded.sessionIds[1]!;
  redis = new Redis({ ...redisOptions(), maxRetriesPerRequest: null });
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  redis.disconnect();
  await namespace.cleanup();
  await db.$disconnect();
  await database.drop();
});

async function startWorker(
  epoch: number,
  options: {
    sessionId?: string;
    sendsKey?: string;
    concurrency?: number;
    holdBatch?: number;
    heldKey?: string;
  } = {},
): Promise<ChildProcess> {
  return await spawnWorker(script, {
    OUTBOUND_WORKER: JSON.stringify({
      redis: redisOptions(),
      databaseUrl: database.appUrl,
      tenantId,
      sessionId,
      keyPrefix,
      sendsKey,
      epoch: String(epoch),
      ...options,
    }),
  });
}

async function spawnWorker(path: string, env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, [path], {
    env: { ...process.env, ...env },
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

describe('outbound across a crash between the sends and their batched record', () => {
  it('resends each under its own id at most once more and records each once', {
    timeout: 60_000,
  }, async () => {
    // A session of its own (the other test's queue and sends stay apart).
    const batchSession = await withTenant(db, tenantId, (tx) =>
      tx.session.create({ data: { tenantId, name: 'batch-crash', channel: 'baileys' } }),
    );
    const batchSends = `${keyPrefix}test:batch-sends`;
    const heldKey = `${keyPrefix}test:held`;
    const total = 4;
    const ids: string[] = [];
    for (let i = 0; i < total; i++)
      ids.push(await queueOutboundText(db, tenantId, batchSession.id, `49161000${i}`, `b${i}`));
    const messages = async () =>
      await withTenant(db, tenantId, (tx) =>
        tx.message.findMany({ where: { id: { in: ids } }, include: { statusEvents: true } }),
      );

    // The provider accepts all four, answered together: their four records are one statement,
    // which the process is held before (its ids pushed to heldKey). Then kill -9.
    const first = await startWorker(1, {
      sessionId: batchSession.id,
      sendsKey: batchSends,
      concurrency: total,
      holdBatch: total,
      heldKey,
    });
    await eventually(async () => (await redis.llen(heldKey)) === 1);
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    const [heldBatch] = await redis.lrange(heldKey, 0, -1);
    expect(new Set(JSON.parse(heldBatch!) as string[])).toEqual(new Set(ids));
    expect(await redis.llen(batchSends)).toBe(total);
    // Sent, not recorded: each still queued under its intent, with no status event.
    for (const message of await messages()) {
      expect([message.status, message.providerMessageId]).toEqual([
        'queued',
        providerMessageIdFor(message.id),
      ]);
      expect(message.statusEvents).toEqual([]);
    }

    const second = await startWorker(2, { sessionId: batchSession.id, sendsKey: batchSends });
    await eventually(async () => (await messages()).every((m) => m.status === 'sent'), 100);
    second.kill('SIGTERM');
    await new Promise((resolve) => second.once('exit', resolve));

    const sends = (await redis.lrange(batchSends, 0, -1)).map(
      (s) => JSON.parse(s) as { id: string; pid: number },
    );
    // Each message went out under its own id, once per process: the one re-transmission a crash
    // allows, under the same id (which the recipient de-duplicates); never under another id.
    for (const id of ids)
      expect(sends.filter((s) => s.id === providerMessageIdFor(id)).map((s) => s.pid)).toEqual([
        first.pid,
        second.pid,
      ]);
    expect(sends).toHaveLength(2 * total);
    for (const message of await messages()) {
      expect(message.providerMessageId).toBe(providerMessageIdFor(message.id));
      expect(message.epoch).toBe(2n);
      expect(message.statusEvents.map((e) => e.status)).toEqual(['sent']);
    }
    const queue = new Queue(QUEUE_NAMES.outbound(batchSession.id), {
      connection: redis,
      prefix: queuePrefix(keyPrefix),
    });
    expect(await queue.getFailedCount()).toBe(0);
    await queue.close();
  });
});

describe("Cloud API outbound across a worker crash between Meta's answer and the record", () => {
  const accessToken = 'cloud-proc-token';
  const phoneNumberId = '106540352242999';
  const acceptedKey = `${keyPrefix}test:accepted`;
  let emulator: CloudApiEmulator;
  let receiver: Server;

  beforeAll(async () => {
    // The webhook receiver: the inbound path of receipts (parse, then applyReceipt).
    receiver = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      request.on('end', () => {
        void (async () => {
          const parsed = parseCloudApiWebhook(JSON.parse(body), {
            sessionsByPhoneNumberId: { [phoneNumberId]: cloudSessionId },
          });
          for (const event of parsed.events)
            if (event.event === 'receipt') await applyReceipt(db, tenantId, event.payload);
          response.writeHead(200).end();
        })().catch(() => response.writeHead(500).end());
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    emulator = await createCloudApiEmulator({
      accessToken,
      appSecret: 'cloud-proc-secret',
      webhookUrl: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`,
      phoneNumbers: [{ id: phoneNumberId, displayPhoneNumber: '15551239999' }],
      statuses: { mode: 'manual' },
    });
  });

  afterAll(async () => {
    await emulator?.close();
    await new Promise((resolve) => receiver?.close(resolve));
  });

  function startCloudWorker(epoch: number, hold: boolean): Promise<ChildProcess> {
    return spawnWorker(cloudScript, {
      CLOUD_API_OUTBOUND_WORKER: JSON.stringify({
        redis: redisOptions(),
        databaseUrl: database.appUrl,
        tenantId,
        sessionId: cloudSessionId,
        keyPrefix,
        epoch: String(epoch),
        graphUrl: emulator.url,
        accessToken,
        phoneNumberId,
        acceptedKey,
        hold,
        unknownOutcomeTimeoutMs: 3_600_000,
      }),
    });
  }

  it("ends sent then delivered under Meta's id, sent to Meta once", { timeout: 60_000 }, async () => {
    const id = await queueOutboundText(db, tenantId, cloudSessionId, '491600009999', 'exactly once');
    const queue = new Queue(QUEUE_NAMES.outbound(cloudSessionId), {
      connection: redis,
      prefix: queuePrefix(keyPrefix),
    });
    const job: OutboundJob = { kind: 'send', tenantId, messageId: id };
    await queue.add('send', job, outboundJobOptions(job));
    const message = async () =>
      await withTenant(db, tenantId, (tx) =>
        tx.message.findUniqueOrThrow({ where: { id }, include: { statusEvents: true } }),
      );

    // The first worker is held after Meta accepted the send, before it records `sent`: kill -9.
    const first = await startCloudWorker(1, true);
    await eventually(async () => (await redis.llen(acceptedKey)) === 1);
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    const [wamid] = await redis.lrange(acceptedKey, 0, -1);
    const crashed = await message();
    expect([crashed.status, crashed.providerMessageId]).toEqual(['queued', providerMessageIdFor(id)]);

    // The next owner never resends: the outcome is unknown, waiting for a status.
    const second = await startCloudWorker(2, false);
    await eventually(async () => (await message()).failureReason?.startsWith('OUTCOME_UNKNOWN') === true);
    await eventually(async () => (await queue.getJob(`send-${id}`).then((j) => j?.getState())) === 'delayed');

    // Meta's statuses carry our message id as callback data: the row adopts Meta's id and moves on.
    for (const status of ['sent', 'delivered']) {
      const response = await fetch(
        `${emulator.url}/_emulator/messages/${encodeURIComponent(wamid!)}/status`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ status }),
        },
      );
      expect(response.status).toBe(200);
      await eventually(async () => (await message()).status === status);
    }
    second.kill('SIGTERM');
    await new Promise((resolve) => second.once('exit', resolve));

    const final = await message();
    expect([final.status, final.providerMessageId, final.failureReason]).toEqual(['delivered', wamid, null]);
    expect(final.statusEvents.map((e) => e.status)).toEqual(['sent', 'delivered']);
    const sent = (await (await fetch(`${emulator.url}/_emulator/sent`)).json()) as {
      messages: { id: string; request: { biz_opaque_callback_data?: string } }[];
    };
    expect(sent.messages.map((m) => [m.id, m.request.biz_opaque_callback_data])).toEqual([[wamid, id]]);
    await queue.close();
  });
});
