// Job options of the wire contract, against real BullMQ, Redis and Postgres.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Db, withTenant } from '@switchboard/db';
import { createTestDatabase, redisNamespace, redisOptions, type TestDatabase } from '@switchboard/testing';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FAILED_WEBHOOK_JOB_RETENTION,
  QUEUE_NAMES,
  queuePrefix,
  webhookDeliveryJobId,
  webhookJobOptions,
} from './contracts.ts';
import { eventually, seedTenant } from './testing/fixtures.ts';
import { WebhookDeliveryWorker } from './webhooks/delivery-worker.ts';
import { createWebhookDeliveries } from './webhooks/enqueue.ts';
import { replayWebhookDelivery } from './webhooks/replay.ts';
import type { WebhookRetryPolicy } from './webhooks/schedule.ts';

const once: WebhookRetryPolicy = { attempts: 1, baseDelayMs: 10, maxDelayMs: 10, jitter: 0 };

let database: TestDatabase;
let db: Db;
let tenantId: string;
let redis: Redis;
const namespace = redisNamespace('contracts');
const keyPrefix = `${namespace.prefix}:`;
let queue: Queue;
let worker: WebhookDeliveryWorker;
let receiver: Server;
let receiverUrl = '';
let receiverUp = false;

beforeAll(async () => {
  database = await createTestDatabase({ label: 'messaging-contracts' });
  const seeded = await seedTenant(database, 1);
  db = seeded.db;
  tenantId = seeded.tenantId;
  redis = new Redis({ ...redisOptions(), maxRetriesPerRequest: null });
  queue = new Queue(QUEUE_NAMES.webhookDeliveries, { connection: redis, prefix: queuePrefix(keyPrefix) });
  receiver = createServer((request, response) => {
    request.resume();
    request.on('end', () => response.writeHead(receiverUp ? 200 : 500).end());
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  worker = new WebhookDeliveryWorker({
    db,
    connection: redis,
    keyPrefix,
    retry: once,
    timeoutMs: 2_000,
    // The receiver listens on loopback: allowed explicitly, as a tenant's internal receiver would be.
    allowedHosts: ['127.0.0.1'],
    resolveSecret: async () => 'whsec_contracts_0123456789',
  });
  await worker.start();
});

afterAll(async () => {
  await worker?.close();
  await queue?.close();
  receiver?.closeAllConnections();
  await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
  redis?.disconnect();
  await namespace.cleanup();
  await db?.$disconnect();
  await database?.drop();
});

describe('failed webhook delivery jobs', () => {
  it('are bounded in BullMQ by age and count by default', () => {
    expect(webhookJobOptions('d').removeOnFail).toEqual({ age: 7 * 24 * 3600, count: 10_000 });
    expect(FAILED_WEBHOOK_JOB_RETENTION).toEqual({ age: 604_800, count: 10_000 });
  });

  it('leave BullMQ past the bound while their dead letters stay in Postgres, and replay from there', async () => {
    const subscription = await withTenant(db, tenantId, (tx) =>
      tx.webhookSubscription.create({
        data: { tenantId, url: receiverUrl, events: ['message.received'], secretRef: 'main' },
      }),
    );
    const deliveryIds: string[] = [];
    for (let i = 0; i < 3; i++) {
      const [deliveryId] = await withTenant(db, tenantId, (tx) =>
        createWebhookDeliveries(tx, tenantId, {
          type: 'message.received',
          data: { n: i },
          at: new Date(),
        }),
      );
      deliveryIds.push(deliveryId!);
      // One at a time, each failing for good before the next: BullMQ trims the failed set to the
      // newest `count` as each job fails, so which ones remain is fixed.
      await queue.add(
        'deliver',
        { tenantId, deliveryId },
        webhookJobOptions(deliveryId!, once, { age: 3600, count: 1 }),
      );
      await eventually(
        async () => (await (await queue.getJob(webhookDeliveryJobId(deliveryId!)))?.getState()) === 'failed',
      );
    }
    expect(await queue.getFailedCount()).toBe(1);
    expect(await queue.getJob(webhookDeliveryJobId(deliveryIds[0]!))).toBeUndefined();
    expect(await queue.getJob(webhookDeliveryJobId(deliveryIds[1]!))).toBeUndefined();
    expect(await queue.getJob(webhookDeliveryJobId(deliveryIds[2]!))).toBeDefined();

    const rows = await withTenant(db, tenantId, (tx) =>
      tx.webhookDelivery.findMany({
        where: { subscriptionId: subscription.id },
        orderBy: { createdAt: 'asc' },
      }),
    );
    expect(rows.map((r) => r.id).sort()).toEqual([...deliveryIds].sort());
    for (const row of rows) expect(row).toMatchObject({ status: 'failed', attempts: 1, responseCode: 500 });

    // The receiver is fixed: the first delivery, whose job is gone, is replayed from its row.
    receiverUp = true;
    await replayWebhookDelivery(db, queue, tenantId, deliveryIds[0]!, once);
    await eventually(async () => {
      const row = await withTenant(db, tenantId, (tx) =>
        tx.webhookDelivery.findUniqueOrThrow({ where: { id: deliveryIds[0]! } }),
      );
      return row.status === 'succeeded';
    });
  }, 60_000);
});
