// The outbox with real Postgres, Redis and BullMQ: effects written in the inbound transaction,
// performed after the commit by a relay, recovered after a crash, and kept through a Redis outage.
import { createServer, type Server, Socket } from 'node:net';
import { type Db, withTenant } from '@switchboard/db';
import { createTestDatabase, redisNamespace, redisOptions, type TestDatabase } from '@switchboard/testing';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_NAMES, queuePrefix, REALTIME_EVENT_FIELD, realtimeStreamKey } from '../contracts.ts';
import { storeInbound } from '../inbound/messages.ts';
import { InboundPipeline } from '../inbound/pipeline.ts';
import { applyReceipt } from '../inbound/receipts.ts';
import { eventually, inboundMessage, seedTenant } from '../testing/fixtures.ts';
import { OutboxRelay, REALTIME_OUTBOX_ID_FIELD } from './relay.ts';

let database: TestDatabase;
let db: Db;
let tenantId: string;
let sessionId: string;
let redis: Redis;
const namespaces = [redisNamespace('outbox')];
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  database = await createTestDatabase({ label: 'messaging-outbox' });
  const seeded = await seedTenant(database, 1);
  db = seeded.db;
  tenantId = seeded.tenantId;
  sessionId = seeded.sessionIds[0]!;
  redis = new Redis({ ...redisOptions(), maxRetriesPerRequest: null });
  await withTenant(db, tenantId, (tx) =>
    tx.webhookSubscription.create({
      data: { tenantId, url: 'http://127.0.0.1:1/hook', events: ['*'], secretRef: 'a' },
    }),
  );
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  redis.disconnect();
  for (const namespace of namespaces) await namespace.cleanup();
  await db.$disconnect();
  await database.drop();
});

/** A key prefix of the test's own: each test reads only its own stream and queues. */
function keyPrefixFor(label: string): string {
  const namespace = redisNamespace(label);
  namespaces.push(namespace);
  return `${namespace.prefix}:`;
}

function relay(
  keyPrefix: string,
  connection: Redis = redis,
  extra: Partial<ConstructorParameters<typeof OutboxRelay>[0]> = {},
) {
  const r = new OutboxRelay({ db, redis: connection, tenantId, keyPrefix, ...extra });
  cleanups.push(() => r.close());
  return r;
}

async function stream(keyPrefix: string, client: Redis = redis) {
  const entries = await client.xrange(realtimeStreamKey(keyPrefix), '-', '+');
  return entries.map(([, fields]) => ({
    event: JSON.parse(fields[fields.indexOf(REALTIME_EVENT_FIELD) + 1]!) as {
      type: string;
      data: { messageId: string; status?: string };
    },
    outboxId: fields[fields.indexOf(REALTIME_OUTBOX_ID_FIELD) + 1],
  }));
}

async function jobs(keyPrefix: string, name: string, client: Redis = redis) {
  const queue = new Queue(name, { connection: client, prefix: queuePrefix(keyPrefix) });
  try {
    return await queue.getJobs(['waiting', 'delayed', 'active', 'prioritized', 'completed', 'failed']);
  } finally {
    await queue.close();
  }
}

async function outboxRows() {
  return await withTenant(db, tenantId, (tx) => tx.outboxEntry.findMany({ orderBy: { createdAt: 'asc' } }));
}

const media = {
  type: 'image' as const,
  media: { mimetype: 'image/jpeg', size: 10, download: { provider: 'baileys' as const, data: 'ref' } },
};

describe('the outbox', () => {
  it('writes the effects in the inbound transaction and performs them after a crash, each once', async () => {
    const keyPrefix = keyPrefixFor('crash');
    // storeInbound alone commits the message and its outbox rows and performs nothing: what a
    // worker killed right after the commit leaves behind.
    const stored = [];
    for (let i = 0; i < 6; i++)
      stored.push(
        await storeInbound(
          db,
          tenantId,
          inboundMessage(sessionId, `CRASH-${i}`, { pn: `4916000000${i}` }, i % 2 === 0 ? media : undefined),
        ),
      );
    const messageIds = stored.map((s) => (s.outcome === 'created' ? s.messageId : ''));
    const receipt = await applyReceipt(db, tenantId, {
      sessionId,
      providerMessageId: 'CRASH-0',
      chat: 'x',
      status: 'read',
      fromMe: false,
    });
    expect(receipt.applied).toBe(true);
    // Per message: the realtime event and the webhook jobs, plus a media download for three of
    // them; the receipt's message.updated and its message.status webhook job.
    const rows = await outboxRows();
    expect(rows.map((r) => r.kind).sort()).toEqual(
      [
        ...Array(6).fill('realtime.event'),
        ...Array(6).fill('webhook.enqueue'),
        ...Array(3).fill('media.download'),
        'realtime.event',
        'webhook.enqueue',
      ].sort(),
    );
    expect(await stream(keyPrefix)).toEqual([]);

    // Two relays start at once (two workers restarting): SKIP LOCKED gives each row to one.
    const [a, b] = [relay(keyPrefix), relay(keyPrefix)];
    const results = await Promise.all([a.drain(), b.drain()]);
    expect(results[0]!.performed + results[1]!.performed).toBe(rows.length);
    expect(results.every((r) => r.failed === 0)).toBe(true);
    expect(await outboxRows()).toEqual([]);

    const events = await stream(keyPrefix);
    const created = events.filter((e) => e.event.type === 'message.created');
    expect(created.map((e) => e.event.data.messageId).sort()).toEqual([...messageIds].sort());
    expect(events.filter((e) => e.event.type === 'message.updated').map((e) => e.event.data.status)).toEqual([
      'read',
    ]);
    // Each entry names the outbox row it came from, so a reader can tell a repeat.
    expect(new Set(events.map((e) => e.outboxId)).size).toBe(7);
    const deliveries = await withTenant(db, tenantId, (tx) =>
      tx.webhookDelivery.findMany({
        where: { payload: { path: ['data', 'providerMessageId'], string_starts_with: 'CRASH-' } },
      }),
    );
    // The six messages' and the receipt's (message.status names the message's provider id too).
    expect(deliveries).toHaveLength(7);
    expect(deliveries.filter((d) => d.eventType === 'message.status')).toHaveLength(1);
    const webhookJobs = await jobs(keyPrefix, QUEUE_NAMES.webhookDeliveries);
    expect(webhookJobs.map((j) => j.data.deliveryId).sort()).toEqual(deliveries.map((d) => d.id).sort());
    const mediaJobs = await jobs(keyPrefix, QUEUE_NAMES.mediaDownloads);
    expect(mediaJobs.map((j) => j.data.messageId).sort()).toEqual(
      [messageIds[0], messageIds[2], messageIds[4]].sort(),
    );

    // A relay that died after the effects and before its delete: the same rows come back and are
    // performed again, and nothing appears twice at the destinations.
    await withTenant(db, tenantId, (tx) =>
      tx.outboxEntry.createMany({
        data: rows.map((r) => ({ id: r.id, tenantId, kind: r.kind, payload: r.payload as object })),
      }),
    );
    expect((await relay(keyPrefix).drain()).performed).toBe(rows.length);
    expect(await stream(keyPrefix)).toHaveLength(7);
    expect(await jobs(keyPrefix, QUEUE_NAMES.webhookDeliveries)).toHaveLength(7);
    expect(await jobs(keyPrefix, QUEUE_NAMES.mediaDownloads)).toHaveLength(3);
  });

  it('keeps a row through a Redis outage (attempts, last error) and performs it once Redis is back', async () => {
    const keyPrefix = keyPrefixFor('outage');
    const proxy = await startProxy(redisOptions());
    cleanups.push(() => proxy.close());
    // A command-role-like client: queues commands while reconnecting, for a bounded time.
    const client = new Redis({
      host: '127.0.0.1',
      port: proxy.port,
      maxRetriesPerRequest: 2,
      retryStrategy: () => 100,
    });
    client.on('error', () => {});
    cleanups.push(() => client.disconnect());
    const errors: string[] = [];
    const shared = relay(keyPrefix, client, {
      effectTimeoutMs: 500,
      sweepIntervalMs: 100,
      sweepGraceMs: 0,
      retry: { baseMs: 100, maxMs: 400 },
      onError: (error, context) => errors.push(`${context.what}: ${String(error)}`),
    });
    const pipeline = new InboundPipeline({ db, redis: client, tenantId, keyPrefix, relay: shared });
    cleanups.push(() => pipeline.close());

    proxy.down();
    const result = await pipeline.handleMessage(
      inboundMessage(sessionId, 'OUTAGE-1', { pn: '4916100000001' }),
    );
    expect(result.outcome).toBe('created');
    // Stored, but its effects could not happen: the rows stay with the attempt recorded.
    const kept = await outboxRows();
    expect(kept.map((r) => r.kind).sort()).toEqual(['realtime.event', 'webhook.enqueue']);
    expect(kept.every((r) => r.attempts >= 1 && (r.lastError ?? '').length > 0)).toBe(true);
    expect(errors.length).toBeGreaterThan(0);

    shared.start();
    await new Promise((resolve) => setTimeout(resolve, 300));
    proxy.up();
    await eventually(async () => (await outboxRows()).length === 0);
    const events = (await stream(keyPrefix)).filter((e) => e.event.type === 'message.created');
    expect(events).toHaveLength(1);
    expect(events[0]!.event.data.messageId).toBe(result.outcome === 'created' ? result.messageId : '');
    expect(await jobs(keyPrefix, QUEUE_NAMES.webhookDeliveries)).toHaveLength(1);
  });
});

/** A TCP proxy in front of Redis that a test can cut (every connection dropped, nothing accepted) and restore. */
async function startProxy(target: { host: string; port: number }) {
  const sockets = new Set<Socket>();
  let server: Server;
  let port = 0;
  const listen = async () => {
    server = createServer((client) => {
      const upstream = new Socket();
      upstream.connect(target.port, target.host);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('error', () => s.destroy());
        s.on('close', () => sockets.delete(s));
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  };
  await listen();
  return {
    get port() {
      return port;
    },
    down() {
      server.close();
      for (const s of sockets) s.destroy();
    },
    up() {
      void listen();
    },
    async close() {
      server.close();
      for (const s of sockets) s.destroy();
    },
  };
}
