// Traces that cross the database, with real Postgres, Redis and BullMQ and the process's tracing
// started into memory: an outbox effect performed by a relay that did not write it (the writer
// crashed) continues the commit's trace from the row, and a message's status, which arrives in a
// trace of its own, is processed in the trace of the message's send.
import { randomUUID } from 'node:crypto';
import { type Db, withTenant } from '@switchboard/db';
import { currentTraceparent, queueTelemetry, withSpan } from '@switchboard/telemetry';
import { type MemoryTracing, startMemoryTracing } from '@switchboard/telemetry/testing';
import { createTestDatabase, redisNamespace, redisOptions, type TestDatabase } from '@switchboard/testing';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_NAMES, queuePrefix, webhookDeliveryJobId } from '../contracts.ts';
import { InboundPipeline, type InboundPipelineOptions } from '../inbound/pipeline.ts';
import { applyReceipt, setMessageStatus } from '../inbound/receipts.ts';
import { eventually, inboundMessage, queueOutboundText, seedTenant } from '../testing/fixtures.ts';
import { parseOutboxEntry, writeOutbox } from './entries.ts';
import { OutboxRelay } from './relay.ts';

let tracing: MemoryTracing;
let database: TestDatabase;
let db: Db;
let tenantId: string;
let sessionId: string;
let redis: Redis;
const namespace = redisNamespace('outbox-trace');
const keyPrefix = `${namespace.prefix}:`;
const relays: OutboxRelay[] = [];

beforeAll(async () => {
  tracing = startMemoryTracing('outbox-trace-test');
  database = await createTestDatabase({ label: 'messaging-outbox-trace' });
  const seeded = await seedTenant(database, 1);
  db = seeded.db;
  tenantId = seeded.tenantId;
  sessionId = seeded.sessionIds[0]!;
  redis = new Redis({ ...redisOptions(), maxRetriesPerRequest: null });
});

afterAll(async () => {
  for (const relay of relays) await relay.close();
  redis?.disconnect();
  await namespace.cleanup();
  await db?.$disconnect();
  await database?.drop();
  await tracing?.shutdown();
});

function freshRelay(): OutboxRelay {
  const relay = new OutboxRelay({ db, redis, tenantId, keyPrefix });
  relays.push(relay);
  return relay;
}

/** Runs `fn` in a new trace's CONSUMER span (an entry point the sampler keeps); its ids and result. */
async function inTrace<T>(name: string, fn: () => Promise<T>) {
  return await withSpan(name, { kind: 'consumer' }, async (span) => ({
    traceId: span.spanContext().traceId,
    spanId: span.spanContext().spanId,
    result: await fn(),
  }));
}

const spanNamed = async (name: string, attribute?: [string, unknown]) =>
  (await tracing.spans()).filter(
    (s) => s.name === name && (!attribute || s.attributes[attribute[0]] === attribute[1]),
  );

/** A relay whose process dies right after the commit: it never performs what it is kicked for. */
class CrashingRelay extends OutboxRelay {
  override kick(): Promise<void> {
    return Promise.resolve();
  }
}

describe('the outbox trace, stored with the row', () => {
  it("keeps each message's span on the rows of an inbound batch, which a later relay continues", async () => {
    const batches: Parameters<NonNullable<InboundPipelineOptions['onBatch']>>[0][] = [];
    const crashing = new CrashingRelay({ db, redis, tenantId, keyPrefix });
    relays.push(crashing);
    const pipeline = new InboundPipeline({
      db,
      redis,
      tenantId,
      keyPrefix,
      relay: crashing,
      onBatch: (batch) => batches.push(batch),
    });
    // Three payloads' messages, each in its own trace, queued together: one transaction.
    const stored = await Promise.all(
      ['TRACE-B1', 'TRACE-B2', 'TRACE-B3'].map((id, n) =>
        inTrace('process cloud-api-inbound', () =>
          pipeline.handleMessage(inboundMessage(sessionId, id, { pn: `49152000009${n}` })),
        ),
      ),
    );
    await pipeline.close();
    expect(batches).toEqual([{ size: 3, outcome: 'committed' }]);
    for (const { traceId, result } of stored) {
      expect(result.outcome).toBe('created');
      const outboxIds = result.outcome === 'created' ? result.outboxIds : [];
      const [processSpan] = (await spanNamed('process whatsapp.message')).filter(
        (s) => s.traceId === traceId,
      );
      expect(processSpan).toBeDefined();
      const rows = await withTenant(db, tenantId, (tx) =>
        tx.outboxEntry.findMany({ where: { id: { in: outboxIds } } }),
      );
      expect(rows.length).toBe(outboxIds.length);
      for (const row of rows) expect(row.traceparent).toBe(`00-${traceId}-${processSpan!.spanId}-01`);
    }
    // Another process's relay sweeps them: each effect in its message's trace.
    await freshRelay().drain();
    for (const { traceId, result } of stored) {
      const outboxIds = result.outcome === 'created' ? result.outboxIds : [];
      for (const id of outboxIds) {
        const spans = (await tracing.spans()).filter((s) => s.attributes['messaging.message.id'] === id);
        expect(spans.length).toBeGreaterThan(0);
        for (const span of spans) expect(span.traceId).toBe(traceId);
      }
    }
  });

  it('is continued by a relay that did not write the row: its effect and the job it adds stay in the trace', async () => {
    const deliveryId = randomUUID();
    // The writer commits its rows and dies before its relay performs them (no kick).
    const written = await inTrace('process whatsapp.message', () =>
      withTenant(db, tenantId, (tx) =>
        writeOutbox(tx, tenantId, [{ kind: 'webhook.enqueue', payload: { deliveryIds: [deliveryId] } }]),
      ),
    );
    const [rowId] = written.result;
    const row = await withTenant(db, tenantId, (tx) =>
      tx.outboxEntry.findUniqueOrThrow({ where: { id: rowId } }),
    );
    expect(row.traceparent).toBe(`00-${written.traceId}-${written.spanId}-01`);
    // Written outside any span: nothing to continue, the row keeps none.
    const [untraced] = await withTenant(db, tenantId, (tx) =>
      writeOutbox(tx, tenantId, [{ kind: 'webhook.enqueue', payload: { deliveryIds: [randomUUID()] } }]),
    );
    expect(
      (await withTenant(db, tenantId, (tx) => tx.outboxEntry.findUniqueOrThrow({ where: { id: untraced } })))
        .traceparent,
    ).toBeNull();

    // Another process's relay, started after the crash, sweeps the leftovers.
    expect(await freshRelay().drain()).toEqual({ performed: 2, failed: 0 });
    const [publish] = await spanNamed('publish outbox.webhook.enqueue', ['messaging.message.id', rowId]);
    expect(publish).toMatchObject({
      traceId: written.traceId,
      parentSpanId: written.spanId,
      kind: 'producer',
    });
    const [other] = await spanNamed('publish outbox.webhook.enqueue', ['messaging.message.id', untraced]);
    expect(other?.traceId).not.toBe(written.traceId);

    // The delivery job the effect added is processed in the same trace.
    let processed = false;
    const connection = redis.duplicate();
    const worker = new Worker(
      QUEUE_NAMES.webhookDeliveries,
      async (job) => {
        if (job.data.deliveryId === deliveryId) processed = true;
      },
      { connection, prefix: queuePrefix(keyPrefix), telemetry: queueTelemetry() },
    );
    try {
      await eventually(() => processed);
    } finally {
      await worker.close();
      connection.disconnect();
    }
    const jobId = webhookDeliveryJobId(deliveryId);
    // The span ends right after the processor returns (the worker may still be closing it).
    await eventually(
      async () => (await spanNamed('process webhook-deliveries', ['messaging.message.id', jobId])).length > 0,
    );
    const [delivery] = await spanNamed('process webhook-deliveries', ['messaging.message.id', jobId]);
    expect(delivery?.traceId).toBe(written.traceId);
  });

  it('drops a malformed traceparent read back from a row (the effect then starts its own trace)', () => {
    const row = {
      id: randomUUID(),
      kind: 'webhook.enqueue',
      payload: { deliveryIds: [randomUUID()] },
      attempts: 0,
    };
    const traceparent = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`;
    expect(parseOutboxEntry({ ...row, traceparent }).traceparent).toBe(traceparent);
    for (const bad of ['00-xyz', `00-${'0'.repeat(32)}-${'b'.repeat(16)}-01`, null, undefined])
      expect(parseOutboxEntry({ ...row, traceparent: bad }).traceparent, String(bad)).toBeUndefined();
  });
});

describe("a status in the send's trace", () => {
  /** The worker's send: `sent` recorded with the traceparent of the job's span. */
  async function send(messageId: string, providerMessageId: string) {
    return await inTrace('process outbound-s0', async () => {
      const sendTraceparent = currentTraceparent();
      return await withTenant(db, tenantId, (tx) =>
        setMessageStatus(tx, tenantId, messageId, 'sent', new Date(), {
          providerMessageId,
          ...(sendTraceparent ? { sendTraceparent } : {}),
        }),
      );
    });
  }

  /** A status arriving from Meta (its own trace), applied and its effect performed, as the pipeline does. */
  async function status(providerMessageId: string, value: 'delivered' | 'read') {
    const relay = freshRelay();
    return await inTrace('process cloud-api-inbound', async () => {
      const result = await applyReceipt(db, tenantId, {
        sessionId,
        providerMessageId,
        chat: 'x',
        status: value,
        fromMe: true,
      });
      if (result.applied) await relay.kick(result.outboxIds);
      return result;
    });
  }

  it('is processed as a child of the send, linked to the trace it arrived in, and its effect follows', async () => {
    const messageId = await queueOutboundText(db, tenantId, sessionId, '4917000000001', 'it ships today');
    const sent = await send(messageId, 'wamid.TRACE-1');
    expect(sent.result).toBe(true);
    const stored = await withTenant(db, tenantId, (tx) =>
      tx.message.findUniqueOrThrow({ where: { id: messageId } }),
    );
    expect(stored.sendTraceparent).toBe(`00-${sent.traceId}-${sent.spanId}-01`);

    const arrived = await status('wamid.TRACE-1', 'delivered');
    expect(arrived.result.applied).toBe(true);
    const [processed] = await spanNamed('process whatsapp.status', ['switchboard.message.id', messageId]);
    expect(processed).toMatchObject({
      traceId: sent.traceId,
      parentSpanId: sent.spanId,
      kind: 'consumer',
      links: [{ traceId: arrived.traceId, spanId: arrived.spanId }],
      attributes: expect.objectContaining({
        'messaging.destination.name': 'whatsapp.status',
        'switchboard.message.status': 'delivered',
      }),
    });
    // The message.updated the status wrote is published in the send's trace, under the status.
    const outboxId = arrived.result.applied ? arrived.result.outboxIds[0] : '';
    const [publish] = await spanNamed('publish outbox.realtime.event', ['messaging.message.id', outboxId]);
    expect(publish).toMatchObject({ traceId: sent.traceId, parentSpanId: processed!.spanId });
  });

  it('keeps the send trace when a status overtook the record of the send, and without one stays in its own trace', async () => {
    const messageId = await queueOutboundText(db, tenantId, sessionId, '4917000000002', 'on its way');
    // Meta's "delivered" names our message (callback data) before the worker recorded "sent".
    await withTenant(db, tenantId, (tx) =>
      tx.message.update({ where: { id: messageId }, data: { providerMessageId: 'wamid.TRACE-2' } }),
    );
    const early = await status('wamid.TRACE-2', 'delivered');
    expect(early.result.applied).toBe(true);
    expect(await spanNamed('process whatsapp.status', ['switchboard.message.id', messageId])).toEqual([]);
    const sent = await send(messageId, 'wamid.TRACE-2');
    expect(sent.result).toBe(false);
    const read = await status('wamid.TRACE-2', 'read');
    expect(read.result.applied).toBe(true);
    const [processed] = await spanNamed('process whatsapp.status', ['switchboard.message.id', messageId]);
    expect(processed).toMatchObject({ traceId: sent.traceId, parentSpanId: sent.spanId });
    expect(processed!.links).toEqual([{ traceId: read.traceId, spanId: read.spanId }]);
  });
});
