import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { Db } from '@switchboard/db';
import {
  createTestDatabase,
  type RedisNamespace,
  redisOptions,
  type TestDatabase,
} from '@switchboard/testing';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { QUEUE_NAMES, queuePrefix } from '../contracts.ts';
import { WebhookDeliveryWorker, type WebhookDeliveryWorkerOptions } from '../webhooks/delivery-worker.ts';
import type { WebhookRetryPolicy } from '../webhooks/schedule.ts';
import { seedTenant } from './fixtures.ts';

/** Test-only: what a tenant's webhook receiver got. */
export interface ReceivedWebhook {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Test-only: a tenant's webhook receiver on loopback. */
export interface WebhookReceiver {
  server: Server;
  /** The requests it answered 200, in order. */
  received: ReceivedWebhook[];
  close(): Promise<void>;
}

/** Test-only: a receiver on 127.0.0.1:`port` that answers `status(path)` and records its 200s. */
export async function startWebhookReceiver(
  port: number,
  status: (path: string) => number = () => 200,
): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString('utf8');
    });
    request.on('end', () => {
      const code = status(request.url ?? '');
      if (code === 200) received.push({ path: request.url ?? '', headers: request.headers, body });
      response.writeHead(code).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    server,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Test-only: the delivery side of a webhook test, made by {@link startWebhookDeliveries}. */
export interface WebhookDeliveries {
  database: TestDatabase;
  db: Db;
  tenantId: string;
  /** The worker's connection (BullMQ's settings), for further queues and workers of the test. */
  redis: Redis;
  /** The tenant's webhook-deliveries queue, under the namespace's prefix. */
  queue: Queue;
  /** Not started: the test starts it when its subscriptions are in place. */
  worker: WebhookDeliveryWorker;
  /** Closes the worker, the queue and the connection, removes the namespace's keys and the database. */
  stop(): Promise<void>;
}

/**
 * Test-only: a migrated test database with a seeded tenant (`sessions` sessions), a Redis
 * connection, the tenant's webhook-deliveries queue under `namespace` and a WebhookDeliveryWorker
 * on it that delivers to loopback receivers, with `retry` and `resolveSecret`.
 */
export async function startWebhookDeliveries(options: {
  label: string;
  sessions: number;
  namespace: RedisNamespace;
  retry: WebhookRetryPolicy;
  resolveSecret: WebhookDeliveryWorkerOptions['resolveSecret'];
}): Promise<WebhookDeliveries> {
  const keyPrefix = `${options.namespace.prefix}:`;
  const database = await createTestDatabase({ label: options.label });
  const { db, tenantId } = await seedTenant(database, options.sessions);
  const redis = new Redis({ ...redisOptions(), maxRetriesPerRequest: null });
  const queue = new Queue(QUEUE_NAMES.webhookDeliveries, {
    connection: redis,
    prefix: queuePrefix(keyPrefix),
  });
  const worker = new WebhookDeliveryWorker({
    db,
    connection: redis,
    keyPrefix,
    retry: options.retry,
    timeoutMs: 2_000,
    // The test's receivers listen on loopback: allowed explicitly, as a tenant's internal receiver would be.
    allowedHosts: ['127.0.0.1'],
    resolveSecret: options.resolveSecret,
  });
  return {
    database,
    db,
    tenantId,
    redis,
    queue,
    worker,
    async stop() {
      await worker.close();
      await queue.close();
      redis.disconnect();
      await options.namespace.cleanup();
      await db.$disconnect();
      await database.drop();
    },
  };
}
