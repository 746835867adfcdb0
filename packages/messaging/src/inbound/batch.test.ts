// Inbound group commit (batch.ts, pipeline.ts): what a batch stores is what one-by-one storing
// stores, in arrival order, and a batch that cannot commit is stored one message at a time.
import { type Db, withTenant } from '@switchboard/db';
import { createTestDatabase, redisNamespace, redisOptions, type TestDatabase } from '@switchboard/testing';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  QUEUE_NAMES,
  queuePrefix,
  REALTIME_EVENT_FIELD,
  REALTIME_MESSAGE_MAX_BODY_BYTES,
  type RealtimeEvent,
  realtimeEventSchema,
  realtimeStreamKey,
} from '../contracts.ts';
import { eventually, inboundMessage, seedTenant } from '../testing/fixtures.ts';
import { storeInbound } from './messages.ts';
import { InboundPipeline, type InboundPipelineOptions } from './pipeline.ts';
import { lock } from './transaction.ts';

let database: TestDatabase;
let db: Db;
let tenantId: string;
let sessionId: string;
let redis: Redis;
const namespace = redisNamespace('inbound-batch');
const keyPrefix = `${namespace.prefix}:`;
const batches: Parameters<NonNullable<InboundPipelineOptions['onBatch']>>[0][] = [];
let pipeline: InboundPipeline;

beforeAll(async () => {
  database = await createTestDatabase({ label: 'messaging-inbound-batch' });
  const seeded = await seedTenant(database, 1);
  db = seeded.db;
  tenantId = seeded.tenantId;
  sessionId = seeded.sessionIds[0]!;
  redis = new Redis({ ...redisOptions(), maxRetriesPerRequest: null });
  pipeline = new InboundPipeline({
    db,
    redis,
    tenantId,
    keyPrefix,
    epoch: 7n,
    onBatch: (batch) => batches.push(batch),
  });
  await withTenant(db, tenantId, (tx) =>
    tx.webhookSubscription.create({
      data: { tenantId, url: 'http://127.0.0.1:1/a', events: ['message.received'], secretRef: 'a' },
    }),
  );
});

afterAll(async () => {
  await pipeline.close();
  redis.disconnect();
  await namespace.cleanup();
  await db.$disconnect();
  await database.drop();
});

async function createdEvents(): Promise<string[]> {
  const entries = await redis.xrange(realtimeStreamKey(keyPrefix), '-', '+');
  return entries
    .map(([, fields]) => JSON.parse(fields[fields.indexOf(REALTIME_EVENT_FIELD) + 1]!))
    .filter((e) => e.type === 'message.created')
    .map((e) => e.data.messageId as string);
}

describe('inbound group commit', () => {
  it('stores events queued together in one transaction, as one by one would, in arrival order', async () => {
    // Stored before the batch: a duplicate of it and a reply target.
    const earlier = await storeInbound(
      db,
      tenantId,
      inboundMessage(sessionId, 'B-OLD', { pn: '4915200000001' }),
    );
    expect(earlier.outcome).toBe('created');
    batches.length = 0;
    const ana = { pn: '4915200000001', pushName: 'Ana' };
    const bo = { pn: '4915200000002', lid: '520002' };
    const messages = [
      inboundMessage(sessionId, 'B-1', ana),
      inboundMessage(sessionId, 'B-OLD', ana), // already stored
      inboundMessage(sessionId, 'B-2', bo),
      inboundMessage(sessionId, 'B-1', ana), // earlier in this batch
      inboundMessage(sessionId, 'B-3', { ...ana, pushName: 'Ana M.' }, undefined, {
        replyTo: { providerMessageId: 'B-1' },
      }),
      inboundMessage(
        sessionId,
        'B-4',
        { lid: '520002' },
        { type: 'reaction', targetId: 'B-OLD', emoji: '👍' },
      ),
      inboundMessage(sessionId, 'B-5', bo, {
        type: 'image',
        caption: 'a photo',
        media: { mimetype: 'image/jpeg', size: 1234, download: { provider: 'baileys', data: 'x' } },
      }),
      inboundMessage(sessionId, 'B-6', { pn: ana.pn }, undefined, { fromMe: true }),
    ];
    // Queued in one synchronous loop: the pipeline's first turn sees all of them.
    const results = await Promise.all(messages.map((m) => pipeline.handleMessage(m)));
    expect(batches).toEqual([{ size: 8, outcome: 'committed' }]);
    expect(results.map((r) => r.outcome)).toEqual([
      'created',
      'duplicate',
      'created',
      'duplicate',
      'created',
      'created',
      'created',
      'created',
    ]);

    const rows = await withTenant(db, tenantId, (tx) =>
      tx.message.findMany({
        where: { providerMessageId: { startsWith: 'B-' } },
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
        include: { conversation: { include: { contact: { include: { identities: true } } } } },
      }),
    );
    // The history's order, (created_at, id), is the arrival order.
    expect(rows.map((r) => r.providerMessageId)).toEqual(['B-OLD', 'B-1', 'B-2', 'B-3', 'B-4', 'B-5', 'B-6']);
    const [, b1, b2, b3, b4, b5, b6] = rows;
    expect(b1!.epoch).toBe(7n);
    expect(b3!.replyToMessageId).toBe(b1!.id);
    expect(b4!.type).toBe('reaction');
    expect(b4!.reaction).toBe('👍');
    expect(b4!.replyToMessageId).toBe(rows[0]!.id);
    expect(b5!.type).toBe('image');
    expect(b5!.body).toBe('a photo');
    expect(b5!.mediaSizeBytes).toBe(1234n);
    expect(b5!.mediaProviderRef).toEqual({ provider: 'baileys', data: 'x' });
    expect([b6!.direction, b6!.status]).toEqual(['outbound', 'sent']);
    // Ana's contact is the existing one, with the last push name; Bo's is new with both identities,
    // and the LID-only reaction found it.
    expect(b1!.conversationId).toBe(rows[0]!.conversationId);
    expect(b1!.conversation.contact.pushName).toBe('Ana M.');
    expect(b2!.conversationId).toBe(b4!.conversationId);
    expect(b2!.conversation.contact.identities.map((i) => `${i.kind}:${i.value}`).sort()).toEqual([
      'lid:520002',
      'pn:4915200000002',
    ]);
    // Unread: Ana B-OLD, B-1, B-3 (not the fromMe echo); Bo B-2 and B-5 (not the reaction).
    expect(b1!.conversation.unreadCount).toBe(3);
    expect(b2!.conversation.unreadCount).toBe(2);

    // Effects: one message.created each, in arrival order; a delivery per received message; a
    // media download; nothing of the batch left in the outbox (B-OLD's rows, stored without the
    // pipeline, were never kicked).
    const created = await createdEvents();
    expect(created.slice(-6)).toEqual([b1, b2, b3, b4, b5, b6].map((r) => r!.id));
    const deliveries = await withTenant(db, tenantId, (tx) =>
      tx.webhookDelivery.findMany({ where: { eventType: 'message.received' } }),
    );
    expect(
      deliveries
        .map((d) => (d.payload as { data: { providerMessageId: string } }).data.providerMessageId)
        .sort(),
    ).toEqual(['B-1', 'B-2', 'B-3', 'B-4', 'B-5', 'B-OLD']);
    const left = await withTenant(db, tenantId, (tx) => tx.outboxEntry.findMany());
    expect(left.map((r) => r.id).sort()).toEqual(
      earlier.outcome === 'created' ? [...earlier.outboxIds].sort() : [],
    );
    const mediaQueue = new Queue(QUEUE_NAMES.mediaDownloads, {
      connection: redis,
      prefix: queuePrefix(keyPrefix),
    });
    try {
      expect(
        (await mediaQueue.getJobs(['waiting', 'delayed', 'prioritized'])).map((j) => j.data.messageId),
      ).toEqual([b5!.id]);
    } finally {
      await mediaQueue.close();
    }
  });

  it('carries each created message in its event, as the history shows it, unless its body is over the bound', async () => {
    const cy = { pn: '4915200000031', pushName: 'Cy' };
    const long = 'ü'.repeat(REALTIME_MESSAGE_MAX_BODY_BYTES / 2 + 1); // 2 bytes each: over the bound
    const messages = [
      inboundMessage(sessionId, 'RT-1', cy),
      inboundMessage(sessionId, 'RT-2', cy, {
        type: 'document',
        caption: 'the contract',
        media: {
          mimetype: 'application/pdf',
          size: 2048,
          fileName: 'contract.pdf',
          download: { provider: 'baileys', data: 'y' },
        },
      }),
      inboundMessage(sessionId, 'RT-3', cy, { type: 'text', text: long }),
      inboundMessage(sessionId, 'RT-4', cy, { type: 'reaction', targetId: 'RT-1', emoji: '🎉' }),
    ];
    batches.length = 0;
    await Promise.all(messages.map((m) => pipeline.handleMessage(m)));
    expect(batches).toEqual([{ size: 4, outcome: 'committed' }]);

    const rows = await withTenant(db, tenantId, (tx) =>
      tx.message.findMany({
        where: { providerMessageId: { startsWith: 'RT-' } },
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      }),
    );
    const entries = await redis.xrange(realtimeStreamKey(keyPrefix), '-', '+');
    const events = new Map<string, Extract<RealtimeEvent, { type: 'message.created' }>>();
    for (const [, fields] of entries) {
      // Each event as the stream holds it validates against the contract.
      const event = realtimeEventSchema.parse(JSON.parse(fields[fields.indexOf(REALTIME_EVENT_FIELD) + 1]!));
      if (event.type === 'message.created') events.set(event.data.messageId, event);
    }
    const [rt1, rt2, rt3, rt4] = rows;
    expect(events.get(rt1!.id)!.data.message).toEqual({
      id: rt1!.id,
      conversationId: rt1!.conversationId,
      direction: 'inbound',
      status: 'delivered',
      failureReason: null,
      type: 'text',
      body: 'hello RT-1',
      reaction: null,
      media: null,
      replyToMessageId: null,
      // The row's own created_at, as the API shows it.
      createdAt: rt1!.createdAt.toISOString(),
    });
    // Media by reference: what it is and whether it is stored yet, never its bytes.
    expect(events.get(rt2!.id)!.data.message).toMatchObject({
      type: 'document',
      body: 'the contract',
      media: { mimeType: 'application/pdf', fileName: 'contract.pdf', sizeBytes: 2048, available: false },
      createdAt: rt2!.createdAt.toISOString(),
    });
    // Over the bound: ids only, and the client fetches it.
    expect(rt3!.body).toBe(long);
    expect(events.get(rt3!.id)!.data).toEqual({
      messageId: rt3!.id,
      conversationId: rt3!.conversationId,
      sessionId,
      direction: 'inbound',
    });
    expect(events.get(rt4!.id)!.data.message).toMatchObject({
      type: 'reaction',
      reaction: '🎉',
      replyToMessageId: rt1!.id,
      createdAt: rt4!.createdAt.toISOString(),
    });
  });

  it('stores a batch that fails one message per transaction: a poison message fails alone', async () => {
    batches.length = 0;
    const messages = [
      inboundMessage(sessionId, 'P-1', { pn: '4915300000001' }),
      // Postgres refuses a NUL character in text: this message cannot be stored, batched or not.
      inboundMessage(sessionId, 'P-2', { pn: '4915300000002' }, { type: 'text', text: 'bad \u0000 byte' }),
      inboundMessage(sessionId, 'P-3', { pn: '4915300000001' }),
    ];
    const settled = await Promise.allSettled(messages.map((m) => pipeline.handleMessage(m)));
    expect(batches.map((b) => [b.size, b.outcome])).toEqual([[3, 'one-by-one']]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const rows = await withTenant(db, tenantId, (tx) =>
      tx.message.findMany({
        where: { providerMessageId: { startsWith: 'P-' } },
        orderBy: { createdAt: 'asc' },
      }),
    );
    expect(rows.map((r) => r.providerMessageId)).toEqual(['P-1', 'P-3']);

    // The pipeline goes on batching after it.
    batches.length = 0;
    const after = await Promise.all(
      ['P-4', 'P-5'].map((id) =>
        pipeline.handleMessage(inboundMessage(sessionId, id, { pn: '4915300000003' })),
      ),
    );
    expect(after.map((r) => r.outcome)).toEqual(['created', 'created']);
    expect(batches).toEqual([{ size: 2, outcome: 'committed' }]);
  });

  it('falls back to one by one for a merge, and keeps receipts and identity links in their place', async () => {
    await storeInbound(db, tenantId, inboundMessage(sessionId, 'M-PN', { pn: '4915400000001' }));
    await storeInbound(db, tenantId, inboundMessage(sessionId, 'M-LID', { lid: '540001' }));
    batches.length = 0;
    // A message naming both (two contacts: a merge), an echo of ours and its receipt right after
    // it, then an identity link: in the queue's order.
    const both = pipeline.handleMessage(
      inboundMessage(sessionId, 'M-BOTH', { pn: '4915400000001', lid: '540001' }),
    );
    const other = pipeline.handleMessage(inboundMessage(sessionId, 'M-OTHER', { pn: '4915400000009' }));
    const echo = pipeline.handleMessage(
      inboundMessage(sessionId, 'M-ECHO', { pn: '4915400000009' }, undefined, { fromMe: true }),
    );
    const receipt = pipeline.handleReceipt({
      sessionId,
      providerMessageId: 'M-ECHO',
      chat: '4915400000009@s.whatsapp.net',
      status: 'read',
      fromMe: true,
    });
    const link = pipeline.handleIdentity({ sessionId, pn: '4915400000009', lid: '540009' });
    const [stored, , , applied, linked] = await Promise.all([both, other, echo, receipt, link]);
    expect(batches.map((b) => [b.size, b.outcome])).toEqual([[3, 'one-by-one']]);
    expect(stored.outcome).toBe('created');
    expect(applied.applied).toBe(true);
    expect(linked.outcome).toBe('linked');
    const contacts = await withTenant(db, tenantId, (tx) =>
      tx.contactIdentity.findMany({ where: { value: { in: ['4915400000001', '540001'] } } }),
    );
    expect(new Set(contacts.map((c) => c.contactId)).size).toBe(1);
    const echoRow = await withTenant(db, tenantId, (tx) =>
      tx.message.findFirstOrThrow({ where: { providerMessageId: 'M-ECHO' } }),
    );
    expect(echoRow.status).toBe('read');
  });
  it('waits for a lock another transaction holds, then sees what it committed', async () => {
    const pn = '4915700000001';
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let holding!: () => void;
    const held = new Promise<void>((resolve) => {
      holding = resolve;
    });
    // Another transaction holds the identity's lock (as upsertContact does) and creates the
    // contact under it.
    const holder = withTenant(
      db,
      tenantId,
      async (tx) => {
        await lock(tx, `identity:pn:${pn}`);
        const contact = await tx.contact.create({ data: { tenantId, pushName: 'First' } });
        await tx.contactIdentity.create({ data: { tenantId, contactId: contact.id, kind: 'pn', value: pn } });
        holding();
        await released;
        return contact.id;
      },
      { maxWait: 10_000, timeout: 30_000 },
    );
    await held;
    batches.length = 0;
    const results = Promise.all(
      ['W-1', 'W-2'].map((id) => pipeline.handleMessage(inboundMessage(sessionId, id, { pn }))),
    );
    // The batch found the lock taken, rolled back and now waits for it (forced, not timed).
    await eventually(async () => {
      const [row] = await db.$queryRaw<{ n: number }[]>`
        SELECT count(*)::int AS n FROM pg_locks
         WHERE locktype = 'advisory' AND NOT granted
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`;
      return row!.n > 0;
    });
    release();
    const contactId = await holder;
    expect((await results).map((r) => r.outcome)).toEqual(['created', 'created']);
    expect(batches).toEqual([{ size: 2, outcome: 'committed' }]);
    const rows = await withTenant(db, tenantId, (tx) =>
      tx.message.findMany({
        where: { providerMessageId: { in: ['W-1', 'W-2'] } },
        include: { conversation: true },
      }),
    );
    expect(rows.map((r) => r.conversation.contactId)).toEqual([contactId, contactId]);
  });
});
