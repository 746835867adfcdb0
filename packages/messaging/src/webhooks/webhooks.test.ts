import { type Db, withTenant } from '@switchboard/db';
import { freePort, redisNamespace } from '@switchboard/testing';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_NAMES, queuePrefix } from '../contracts.ts';
import { eventually } from '../testing/fixtures.ts';
import { startWebhookDeliveries, startWebhookReceiver, type WebhookDeliveries } from '../testing/webhooks.ts';
import { WebhookDeliveryWorker } from './delivery-worker.ts';
import { enqueueWebhookEvent } from './enqueue.ts';
import { DEFAULT_WEBHOOK_RETRY, minimumRetrySpanMs, type WebhookRetryPolicy } from './schedule.ts';
import { signWebhook, verifyWebhookSignature, WEBHOOK_HEADERS } from './signature.ts';

const SECRETS: Record<string, string> = { main: 'whsec_main_0123456789', other: 'whsec_other_abcdef' };
const fast: WebhookRetryPolicy = { attempts: 40, baseDelayMs: 20, maxDelayMs: 150, jitter: 0.2 };

let testbed: WebhookDeliveries;
let db: Db;
let tenantId: string;
let redis: Redis;
const namespace = redisNamespace('webhooks');
const keyPrefix = `${namespace.prefix}:`;
let queue: Queue;
let worker: WebhookDeliveryWorker;

async function deliveries() {
  return await withTenant(db, tenantId, (tx) =>
    tx.webhookDelivery.findMany({ include: { subscription: true } }),
  );
}

let port: number;

beforeAll(async () => {
  testbed = await startWebhookDeliveries({
    label: 'messaging-webhooks',
    sessions: 1,
    namespace,
    retry: fast,
    resolveSecret: async (subscription) => SECRETS[subscription.secretRef ?? '']!,
  });
  ({ db, tenantId, redis, queue, worker } = testbed);
  port = await freePort();
});

afterAll(async () => {
  await testbed?.stop();
});

describe('verifyWebhookSignature', () => {
  const body = '{"id":"1"}';
  const now = 1_800_000_000_000;
  const timestamp = String(now / 1000);
  const signature = signWebhook('s3cret', timestamp, body);

  it('accepts the signature of the exact body and timestamp', () => {
    expect(verifyWebhookSignature({ secret: 's3cret', timestamp, signature, rawBody: body, now })).toEqual({
      ok: true,
    });
    expect(
      verifyWebhookSignature({
        secret: 's3cret',
        timestamp,
        signature: `v1=00, ${signature}`,
        rawBody: body,
        now,
      }).ok,
    ).toBe(true);
  });

  it('refuses a changed body, a wrong secret, a stale timestamp and missing headers', () => {
    expect(
      verifyWebhookSignature({ secret: 's3cret', timestamp, signature, rawBody: '{"id":"2"}', now }),
    ).toEqual({
      ok: false,
      reason: 'mismatch',
    });
    expect(verifyWebhookSignature({ secret: 'other', timestamp, signature, rawBody: body, now }).ok).toBe(
      false,
    );
    expect(
      verifyWebhookSignature({ secret: 's3cret', timestamp, signature, rawBody: body, now: now + 301_000 }),
    ).toEqual({
      ok: false,
      reason: 'outside-tolerance',
    });
    expect(
      verifyWebhookSignature({ secret: 's3cret', timestamp: undefined, signature, rawBody: body, now }).ok,
    ).toBe(false);
    expect(
      verifyWebhookSignature({ secret: 's3cret', timestamp: '12a', signature, rawBody: body, now }),
    ).toEqual({
      ok: false,
      reason: 'bad-timestamp',
    });
  });

  it('retries for more than an hour at the defaults', () => {
    expect(minimumRetrySpanMs(DEFAULT_WEBHOOK_RETRY)).toBeGreaterThan(3_600_000);
  });
});

describe('WebhookDeliveryWorker', () => {
  it('delivers everything signed once a receiver that was down comes up', { timeout: 60_000 }, async () => {
    const [main, other] = await withTenant(db, tenantId, (tx) =>
      Promise.all([
        tx.webhookSubscription.create({
          data: {
            tenantId,
            url: `http://127.0.0.1:${port}/main`,
            events: ['message.received'],
            secretRef: 'main',
          },
        }),
        tx.webhookSubscription.create({
          data: { tenantId, url: `http://127.0.0.1:${port}/other`, events: ['*'], secretRef: 'other' },
        }),
      ]),
    );
    const eventIds = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const ids = await enqueueWebhookEvent(
        db,
        queue,
        tenantId,
        { type: 'message.received', data: { n: i }, at: new Date() },
        fast,
      );
      expect(ids).toHaveLength(2);
    }
    await worker.start();
    // Nothing listens on the port: every delivery fails a few times first.
    await eventually(async () => (await deliveries()).every((d) => d.attempts >= 2));
    const pending = await deliveries();
    expect(
      pending.every(
        (d) =>
          d.status === 'pending' && d.nextAttemptAt !== null && d.lastError?.startsWith('request failed'),
      ),
    ).toBe(true);

    const { server, received } = await startWebhookReceiver(port, () => 200);
    try {
      await eventually(async () => (await deliveries()).every((d) => d.status === 'succeeded'));
      expect(received).toHaveLength(10);
      for (const request of received) {
        const subscription = request.path === '/main' ? main : other;
        const verification = verifyWebhookSignature({
          secret: SECRETS[subscription.secretRef!]!,
          timestamp: request.headers[WEBHOOK_HEADERS.timestamp.toLowerCase()] as string,
          signature: request.headers[WEBHOOK_HEADERS.signature.toLowerCase()] as string,
          rawBody: request.body,
        });
        expect(verification).toEqual({ ok: true });
        const payload = JSON.parse(request.body);
        expect(request.headers[WEBHOOK_HEADERS.eventId.toLowerCase()]).toBe(payload.id);
        eventIds.add(`${request.path}:${payload.id}`);
      }
      expect(eventIds.size).toBe(10);
      for (const d of await deliveries()) {
        expect(d.responseCode).toBe(200);
        expect(d.attempts).toBeGreaterThanOrEqual(3);
        expect(d.deliveredAt).not.toBeNull();
        expect(d.latencyMs).not.toBeNull();
        expect(d.nextAttemptAt).toBeNull();
      }
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    await withTenant(db, tenantId, (tx) => tx.webhookSubscription.updateMany({ data: { active: false } }));
  });

  it('marks a delivery failed after its last attempt and replays it', { timeout: 30_000 }, async () => {
    const failing = new WebhookDeliveryWorker({
      db,
      connection: redis,
      keyPrefix: `${keyPrefix}f:`,
      retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 20, jitter: 0 },
      allowedHosts: ['127.0.0.1'],
      resolveSecret: async () => SECRETS.main!,
    });
    const failingQueue = new Queue(QUEUE_NAMES.webhookDeliveries, {
      connection: redis,
      prefix: queuePrefix(`${keyPrefix}f:`),
    });
    const freshPort = await freePort();
    let up = false;
    const { server, received } = await startWebhookReceiver(freshPort, () => (up ? 200 : 500));
    try {
      const subscription = await withTenant(db, tenantId, (tx) =>
        tx.webhookSubscription.create({
          data: {
            tenantId,
            url: `http://127.0.0.1:${freshPort}/x`,
            events: ['message.sent'],
            secretRef: 'main',
          },
        }),
      );
      const [id] = await enqueueWebhookEvent(
        db,
        failingQueue,
        tenantId,
        { type: 'message.sent', data: {}, at: new Date() },
        {
          attempts: 3,
          baseDelayMs: 10,
          maxDelayMs: 20,
          jitter: 0,
        },
      );
      await failing.start();
      const row = async () =>
        await withTenant(db, tenantId, (tx) => tx.webhookDelivery.findUniqueOrThrow({ where: { id: id! } }));
      await eventually(async () => (await row()).status === 'failed');
      expect(await row()).toMatchObject({
        attempts: 3,
        responseCode: 500,
        lastError: 'HTTP 500',
        nextAttemptAt: null,
      });
      expect(await failingQueue.getFailedCount()).toBe(1);

      up = true;
      await failing.replay(tenantId, id!);
      await eventually(async () => (await row()).status === 'succeeded');
      expect(await row()).toMatchObject({ attempts: 4, responseCode: 200 });
      expect(received).toHaveLength(1);
      expect(subscription.id).toBe((await row()).subscriptionId);
    } finally {
      await failing.close();
      await failingQueue.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('never connects to an internal receiver that is not allow-listed', { timeout: 30_000 }, async () => {
    const prefix = `${keyPrefix}i:`;
    const strict = new WebhookDeliveryWorker({
      db,
      connection: redis,
      keyPrefix: prefix,
      retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 20, jitter: 0 },
      resolveSecret: async () => SECRETS.main!,
    });
    const strictQueue = new Queue(QUEUE_NAMES.webhookDeliveries, {
      connection: redis,
      prefix: queuePrefix(prefix),
    });
    const freshPort = await freePort();
    const { server, received } = await startWebhookReceiver(freshPort, () => 200);
    let connections = 0;
    server.on('connection', () => {
      connections++;
    });
    try {
      await withTenant(db, tenantId, (tx) => tx.webhookSubscription.updateMany({ data: { active: false } }));
      await withTenant(db, tenantId, (tx) =>
        tx.webhookSubscription.createMany({
          data: [`http://127.0.0.1:${freshPort}/ip`, `http://localhost:${freshPort}/name`].map((url) => ({
            tenantId,
            url,
            events: ['message.received'],
            secretRef: 'main',
          })),
        }),
      );
      const ids = await enqueueWebhookEvent(
        db,
        strictQueue,
        tenantId,
        { type: 'message.received', data: {}, at: new Date() },
        { attempts: 2, baseDelayMs: 10, maxDelayMs: 20, jitter: 0 },
      );
      expect(ids).toHaveLength(2);
      await strict.start();
      const rows = async () =>
        await withTenant(db, tenantId, (tx) => tx.webhookDelivery.findMany({ where: { id: { in: ids } } }));
      await eventually(async () => (await rows()).every((r) => r.status === 'failed'));
      for (const row of await rows()) {
        expect(row.lastError).toMatch(/^request failed: receiver refused: the host .* internal address/);
        expect(row.responseCode).toBeNull();
      }
      expect(received).toHaveLength(0);
      expect(connections).toBe(0);
    } finally {
      await strict.close();
      await strictQueue.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
