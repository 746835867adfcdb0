// What a send reads and records through its single statements: `sent` with what it carries, a
// send whose record a delivery receipt overtook, and a template row's JSON read by the raw read.
import { type Db, withTenant } from '@switchboard/db';
import { type MemoryTracing, startMemoryTracing } from '@switchboard/telemetry/testing';
import { createTestDatabase, redisNamespace, redisOptions, type TestDatabase } from '@switchboard/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type OutboundJob, outboundJobOptions, providerMessageIdFor } from '../contracts.ts';
import { applyReceipt } from '../inbound/receipts.ts';
import { eventually, queueOutboundText, seedTenant } from '../testing/fixtures.ts';
import { MemoryChannel } from '../testing/memory-channel.ts';
import { OutboundConsumer } from './consumer.ts';
import { NO_HUMAN_DELAY } from './content.ts';
import { SendStatements, type SendStatementsOptions } from './statements.ts';

let tracing: MemoryTracing;
let database: TestDatabase;
let db: Db;
let tenantId: string;
let sessionIds: string[];
let redis: Redis;
const namespace = redisNamespace('outbound-record');
const keyPrefix = `${namespace.prefix}:`;
const consumers: OutboundConsumer[] = [];

beforeAll(async () => {
  tracing = startMemoryTracing('outbound-record-test');
  database = await createTestDatabase({ label: 'messaging-outbound-record' });
  ({ db, tenantId, sessionIds } = await seedTenant(database, 3));
  redis = new Redis({ ...redisOptions(), maxRetriesPerRequest: null });
});

afterEach(async () => {
  await Promise.all(consumers.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  redis?.disconnect();
  await namespace.cleanup();
  await db?.$disconnect();
  await database?.drop();
  await tracing?.shutdown();
});

function consumer(
  sessionId: string,
  channel: MemoryChannel,
  options: { statements?: SendStatements; concurrency?: number } = {},
): OutboundConsumer {
  const created = new OutboundConsumer({
    ...options,
    db,
    tenantId,
    sessionId,
    epoch: 7n,
    channel,
    connection: redis,
    keyPrefix,
    humanDelay: NO_HUMAN_DELAY,
    retry: { attempts: 2, baseDelayMs: 20, maxDelayMs: 50 },
  });
  consumers.push(created);
  return created;
}

async function row(id: string) {
  return await withTenant(db, tenantId, (tx) =>
    tx.message.findUniqueOrThrow({ where: { id }, include: { statusEvents: true } }),
  );
}

async function sendOne(c: OutboundConsumer, messageId: string): Promise<unknown> {
  const job: OutboundJob = { kind: 'send', tenantId, messageId };
  const added = await c.outboundQueue.add('send', job, outboundJobOptions(job, { attempts: 2 }));
  await c.start();
  let outcome: unknown;
  await eventually(async () => {
    outcome = (await c.outboundQueue.getJob(added.id!))?.returnvalue;
    return Boolean(outcome);
  });
  return outcome;
}

describe('the record of a send', () => {
  it('moves the message to sent with the provider id, the epoch, the send time, its event and the trace of the send', async () => {
    const sessionId = sessionIds[0]!;
    const id = await queueOutboundText(db, tenantId, sessionId, '4915300000001', 'recorded');
    const before = await row(id);
    const channel = new MemoryChannel(sessionId);
    expect(await sendOne(consumer(sessionId, channel), id)).toBe('sent');

    const after = await row(id);
    expect(after).toMatchObject({ status: 'sent', providerMessageId: providerMessageIdFor(id), epoch: 7n });
    expect(after.sentAt).toBeInstanceOf(Date);
    expect(after.updatedAt.getTime()).toBeGreaterThanOrEqual(before.updatedAt.getTime());
    expect(after.statusEvents.map((e) => [e.status, e.occurredAt.getTime()])).toEqual([
      ['sent', after.sentAt!.getTime()],
    ]);
    // The traceparent kept is the job's span, the one the send ran in.
    const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(after.sendTraceparent ?? '');
    expect(match).not.toBeNull();
    const spans = await tracing.spans();
    expect(
      spans.some((s) => s.traceId === match![1] && s.spanId === match![2] && s.kind === 'consumer'),
    ).toBe(true);
  });

  it('keeps a status that overtook the record, filling in the send time and trace without a sent event', async () => {
    const sessionId = sessionIds[1]!;
    const id = await queueOutboundText(db, tenantId, sessionId, '4915300000002', 'overtaken');
    // The recipient's "delivered" is applied while the send is in flight (the intent names the id).
    const channel = new MemoryChannel(sessionId, async (message) => {
      const applied = await applyReceipt(db, tenantId, {
        sessionId,
        providerMessageId: message.providerMessageId!,
        chat: message.to,
        status: 'delivered',
        fromMe: true,
      });
      expect(applied.applied).toBe(true);
    });
    expect(await sendOne(consumer(sessionId, channel), id)).toBe('sent');

    const after = await row(id);
    expect(after.status).toBe('delivered');
    expect(after.providerMessageId).toBe(providerMessageIdFor(id));
    expect(after.sentAt).toBeInstanceOf(Date);
    expect(after.deliveredAt).toBeInstanceOf(Date);
    expect(after.sendTraceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(after.statusEvents.map((e) => e.status)).toEqual(['delivered']);
    expect(channel.sent).toHaveLength(1);
  });

  it("reads a template row's stored JSON as the send's components", async () => {
    const sessionId = sessionIds[2]!;
    const id = await queueOutboundText(db, tenantId, sessionId, '4915300000003', 'unused');
    const components = [{ type: 'body', parameters: [{ type: 'text', text: 'A-42' }] }];
    await withTenant(db, tenantId, (tx) =>
      tx.message.update({
        where: { id },
        data: {
          type: 'template',
          body: null,
          template: { name: 'order_update', language: 'pt_BR', components },
        },
      }),
    );
    const channel = new MemoryChannel(sessionId);
    expect(await sendOne(consumer(sessionId, channel), id)).toBe('sent');
    expect(channel.sent.map((m) => m.content)).toEqual([
      { type: 'template', name: 'order_update', language: 'pt_BR', graphComponents: components },
    ]);
  });

  it('records the sends of two sessions in flight together in one statement', async () => {
    const sessions = await withTenant(db, tenantId, (tx) =>
      Promise.all(
        ['batch-a', 'batch-b'].map((name) =>
          tx.session.create({ data: { tenantId, name, channel: 'baileys' } }),
        ),
      ),
    );
    const ids: string[] = [];
    for (const [i, session] of [...sessions, ...sessions].entries())
      ids.push(await queueOutboundText(db, tenantId, session.id, `49153100000${i}`, `together ${i}`));
    const batches: Parameters<NonNullable<SendStatementsOptions['onBatch']>>[0][] = [];
    const statements = new SendStatements({ db, tenantId, onBatch: (batch) => batches.push(batch) });
    // All four sends are answered together (the last one to arrive releases them), so their
    // records arrive in one turn; the first message's "delivered" overtakes its record.
    const waiting: (() => void)[] = [];
    const behaviour = async (message: { providerMessageId?: string; to: string }) => {
      if (message.providerMessageId === providerMessageIdFor(ids[0]!))
        await applyReceipt(db, tenantId, {
          sessionId: sessions[0]!.id,
          providerMessageId: message.providerMessageId,
          chat: message.to,
          status: 'delivered',
          fromMe: true,
        });
      await new Promise<void>((resolve) => {
        waiting.push(resolve);
        if (waiting.length === ids.length) for (const release of waiting) release();
      });
    };
    const channels = sessions.map((session) => new MemoryChannel(session.id, behaviour));
    const consumers = sessions.map((session, i) =>
      consumer(session.id, channels[i]!, { statements, concurrency: 2 }),
    );
    for (const [i, id] of ids.entries()) {
      const job: OutboundJob = { kind: 'send', tenantId, messageId: id };
      await consumers[i % 2]!.outboundQueue.add('send', job, outboundJobOptions(job));
    }
    await Promise.all(consumers.map((c) => c.start()));
    await eventually(async () => (await Promise.all(ids.map(row))).every((m) => m.status !== 'queued'));

    expect(batches.filter((b) => b.kind === 'record')).toEqual([
      { kind: 'record', size: 4, outcome: 'committed' },
    ]);
    const [overtaken, ...sent] = await Promise.all(ids.map(row));
    expect(overtaken!.status).toBe('delivered');
    expect(overtaken!.sentAt).toBeInstanceOf(Date);
    expect(overtaken!.statusEvents.map((e) => e.status)).toEqual(['delivered']);
    for (const message of sent) {
      expect(message).toMatchObject({
        status: 'sent',
        providerMessageId: providerMessageIdFor(message.id),
        epoch: 7n,
      });
      expect(message.statusEvents.map((e) => [e.status, e.occurredAt.getTime()])).toEqual([
        ['sent', message.sentAt!.getTime()],
      ]);
    }
    expect(channels.flatMap((c) => c.sent.map((m) => m.providerMessageId)).sort()).toEqual(
      ids.map(providerMessageIdFor).sort(),
    );
  });
});
