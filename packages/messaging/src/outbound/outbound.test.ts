import { ChannelError, StaleEpochError, UnrecoverableChannelError } from '@switchboard/channels';
import { type Db, withTenant } from '@switchboard/db';
import { pipelineMetrics } from '@switchboard/telemetry';
import { createTestDatabase, redisNamespace, redisOptions, type TestDatabase } from '@switchboard/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type OutboundJob,
  outboundJobOptions,
  providerMessageIdFor,
  REALTIME_EVENT_FIELD,
  realtimeStreamKey,
} from '../contracts.ts';
import { applyReceipt } from '../inbound/receipts.ts';
import { eventually, queueOutboundText, seedTenant } from '../testing/fixtures.ts';
import { MemoryChannel, type SendBehaviour } from '../testing/memory-channel.ts';
import { outboundBackoffMs } from './backoff.ts';
import { OutboundConsumer, type OutboundConsumerOptions } from './consumer.ts';
import { NO_HUMAN_DELAY } from './content.ts';

let database: TestDatabase;
let db: Db;
let tenantId: string;
let sessionIds: string[];
let redis: Redis;
const namespace = redisNamespace('outbound');
const keyPrefix = `${namespace.prefix}:`;
const consumers: OutboundConsumer[] = [];

beforeAll(async () => {
  database = await createTestDatabase({ label: 'messaging-outbound' });
  ({ db, tenantId, sessionIds } = await seedTenant(database, 10));
  redis = new Redis({ ...redisOptions(), maxRetriesPerRequest: null });
});

afterEach(async () => {
  await Promise.all(consumers.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  redis.disconnect();
  await namespace.cleanup();
  await db.$disconnect();
  await database.drop();
});

function consumer(
  sessionId: string,
  channel: MemoryChannel,
  extra: Partial<OutboundConsumerOptions> = {},
): OutboundConsumer {
  const created = new OutboundConsumer({
    db,
    tenantId,
    sessionId,
    epoch: 1n,
    channel,
    connection: redis,
    keyPrefix,
    humanDelay: NO_HUMAN_DELAY,
    retry: { attempts: 4, baseDelayMs: 20, maxDelayMs: 50 },
    ...extra,
  });
  consumers.push(created);
  return created;
}

async function message(id: string) {
  return await withTenant(db, tenantId, (tx) =>
    tx.message.findUniqueOrThrow({ where: { id }, include: { statusEvents: true } }),
  );
}

async function enqueue(consumer: OutboundConsumer, messageId: string, retry = { attempts: 4 }) {
  const job: OutboundJob = { kind: 'send', tenantId, messageId };
  await consumer.outboundQueue.add('send', job, outboundJobOptions(job, retry));
}

describe('OutboundConsumer', () => {
  it('re-enqueues queued messages at start and sends each once under its own id', async () => {
    const sessionId = sessionIds[0]!;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push(await queueOutboundText(db, tenantId, sessionId, '4915200000001', `hi ${i}`));
    const channel = new MemoryChannel(sessionId);
    const c = consumer(sessionId, channel);
    // A job the API already enqueued for one of them: the re-enqueue adds nothing for it.
    await enqueue(c, ids[0]!);
    await c.start();
    await eventually(async () => (await Promise.all(ids.map(message))).every((m) => m.status === 'sent'));
    expect(channel.sent.map((m) => m.providerMessageId)).toEqual(ids.map(providerMessageIdFor));
    expect(channel.sent.map((m) => m.to)).toEqual(Array(5).fill('4915200000001'));
    // Every send carries our message id as callback data (Cloud API statuses echo it).
    expect(channel.sent.map((m) => m.callbackData)).toEqual(ids);
    for (const id of ids) {
      const row = await message(id);
      expect(row.providerMessageId).toBe(providerMessageIdFor(id));
      expect(row.epoch).toBe(1n);
      expect(row.statusEvents.map((e) => e.status)).toEqual(['sent']);
    }
    const entries = await redis.xrange(realtimeStreamKey(keyPrefix), '-', '+');
    const sentEvents = entries
      .map(([, f]) => JSON.parse(f[f.indexOf(REALTIME_EVENT_FIELD) + 1]!))
      .filter(
        (e) => e.type === 'message.updated' && e.data.status === 'sent' && ids.includes(e.data.messageId),
      );
    expect(sentEvents).toHaveLength(5);

    // A second job for a sent message (another jobId) sends nothing.
    await c.outboundQueue.add('send', { kind: 'send', tenantId, messageId: ids[1]! }, { jobId: 'again' });
    await eventually(async () => (await c.outboundQueue.getJob('again'))?.returnvalue === 'already-sent');
    expect(channel.sent).toHaveLength(5);
  });

  it('shows typing for a time scaled by the text before sending', async () => {
    const sessionId = sessionIds[1]!;
    const id = await queueOutboundText(db, tenantId, sessionId, '4915200000002', 'abc');
    const channel = new MemoryChannel(sessionId);
    const c = consumer(sessionId, channel, { humanDelay: { msPerChar: 1, minMs: 1, maxMs: 5 } });
    await c.start();
    await eventually(async () => (await message(id)).status === 'sent');
    expect(channel.presences.map((p) => p.presence)).toEqual(['typing', 'paused']);
  });

  it('fails at once on an unrecoverable error and retries a transient one', async () => {
    const sessionId = sessionIds[2]!;
    const bad = await queueOutboundText(db, tenantId, sessionId, '4915200000003', 'to nowhere');
    const flaky = await queueOutboundText(db, tenantId, sessionId, '4915200000004', 'eventually');
    const behaviour: SendBehaviour = (m, attempt) => {
      if (m.to === '4915200000003') throw new UnrecoverableChannelError('INVALID_NUMBER', 'not on WhatsApp');
      if (attempt < 3) throw new ChannelError('SEND_FAILED', 'socket hiccup');
    };
    const channel = new MemoryChannel(sessionId, behaviour);
    const c = consumer(sessionId, channel);
    await c.start();
    await eventually(
      async () => (await message(bad)).status === 'failed' && (await message(flaky)).status === 'sent',
    );
    const failed = await message(bad);
    expect(failed.failureReason).toBe('INVALID_NUMBER: not on WhatsApp');
    expect(failed.statusEvents.map((e) => [e.status, e.reason])).toEqual([
      ['failed', 'INVALID_NUMBER: not on WhatsApp'],
    ]);
    const badJob = await c.outboundQueue.getJob(`send-${bad}`);
    expect(badJob?.attemptsMade).toBe(1);
    expect(await badJob?.getState()).toBe('failed');
    const flakyJob = await c.outboundQueue.getJob(`send-${flaky}`);
    // BullMQ counts the successful attempt too: two failures, then the send.
    expect(flakyJob?.attemptsMade).toBe(3);
    expect(channel.sent).toHaveLength(1);
  });

  it('keeps exhausted jobs as dead letters and replays them', async () => {
    const sessionId = sessionIds[3]!;
    const id = await queueOutboundText(db, tenantId, sessionId, '4915200000005', 'later');
    const channel = new MemoryChannel(sessionId, () => {
      throw new ChannelError('TIMEOUT', 'no ack');
    });
    const c = consumer(sessionId, channel, { retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 20 } });
    await c.start();
    await eventually(async () => (await c.listDeadLetters()).length === 1);
    const [dead] = await c.listDeadLetters();
    expect(dead!.jobId).toBe(`send-${id}`);
    expect(dead!.job).toEqual({ kind: 'send', tenantId, messageId: id });
    expect(dead!.attemptsMade).toBe(2);
    expect(dead!.failedReason).toContain('no ack');
    const failed = await message(id);
    expect(failed.status).toBe('failed');
    expect(failed.failureReason).toBe('retries exhausted (2): TIMEOUT: no ack');

    channel.behaviour = undefined;
    await c.replayDeadLetter(dead!.jobId);
    await eventually(async () => (await message(id)).status === 'sent');
    expect(await c.listDeadLetters()).toHaveLength(0);
    expect((await message(id)).statusEvents.map((e) => e.status).sort()).toEqual([
      'failed',
      'queued',
      'sent',
    ]);
    await expect(c.replayDeadLetter(dead!.jobId)).rejects.toThrow(/not a dead letter/);
  });

  it('delays a job refused for a stale epoch instead of failing it', async () => {
    const sessionId = sessionIds[4]!;
    const id = await queueOutboundText(db, tenantId, sessionId, '4915200000006', 'fenced');
    const channel = new MemoryChannel(sessionId, () => {
      throw new StaleEpochError(sessionId, 1n, 2n, 'send');
    });
    const c = consumer(sessionId, channel, { staleEpochRetryMs: 60_000 });
    await c.start();
    await eventually(
      async () => (await c.outboundQueue.getJob(`send-${id}`).then((j) => j?.getState())) === 'delayed',
    );
    const job = await c.outboundQueue.getJob(`send-${id}`);
    expect(job?.attemptsMade).toBe(0);
    expect((await message(id)).status).toBe('queued');
  });

  it('fails a message whose earlier attempt may have sent it when the channel cannot reuse ids', async () => {
    const sessionId = sessionIds[5]!;
    const id = await queueOutboundText(db, tenantId, sessionId, '4915200000007', 'maybe sent');
    // What a crash between send and record leaves: the intent, status still queued.
    await withTenant(db, tenantId, (tx) =>
      tx.message.update({ where: { id }, data: { providerMessageId: providerMessageIdFor(id) } }),
    );
    const channel = new MemoryChannel(sessionId);
    const stages: string[] = [];
    // The alert's metric (switchboard_outbound_unknown_outcomes_total), counted per stage.
    const unknown = async (stage: string) =>
      (await pipelineMetrics().unknownOutcomes.get()).values.find((v) => v.labels.stage === stage)?.value ??
      0;
    const [pendingBefore, expiredBefore] = [await unknown('pending'), await unknown('expired')];
    // A bound of 0: the wait for a status ends at once.
    const c = consumer(sessionId, channel, {
      reusesProviderMessageIds: false,
      unknownOutcomeTimeoutMs: 0,
      onOutcomeUnknown: (event) => stages.push(`${event.messageId}:${event.stage}`),
    });
    await c.start();
    await eventually(async () => (await message(id)).status === 'failed');
    expect((await message(id)).failureReason).toMatch(/^SEND_OUTCOME_UNKNOWN: .*no provider status/);
    expect(stages).toEqual([`${id}:pending`, `${id}:expired`]);
    expect([(await unknown('pending')) - pendingBefore, (await unknown('expired')) - expiredBefore]).toEqual([
      1, 1,
    ]);
    expect(channel.sent).toHaveLength(0);

    // A late status with our callback data still shows the truth: Meta's id adopted, delivered.
    const receipt = await applyReceipt(db, tenantId, {
      sessionId,
      providerMessageId: 'wamid.LATE',
      status: 'delivered',
      at: new Date(),
      callbackData: id,
      chat: '4915200000009@s.whatsapp.net',
      fromMe: true,
    });
    expect(receipt.applied).toBe(true);
    const late = await message(id);
    expect([late.status, late.providerMessageId, late.failureReason]).toEqual([
      'delivered',
      'wamid.LATE',
      null,
    ]);
  });

  it('keeps an unknown outcome queued until a status with our callback data adopts the provider id', async () => {
    const sessionId = sessionIds[8]!;
    const id = await queueOutboundText(db, tenantId, sessionId, '4915200000009', 'maybe sent');
    await withTenant(db, tenantId, (tx) =>
      tx.message.update({ where: { id }, data: { providerMessageId: providerMessageIdFor(id) } }),
    );
    const channel = new MemoryChannel(sessionId);
    const c = consumer(sessionId, channel, {
      reusesProviderMessageIds: false,
      unknownOutcomeTimeoutMs: 3_600_000,
    });
    await c.start();
    await eventually(
      async () => (await c.outboundQueue.getJob(`send-${id}`).then((j) => j?.getState())) === 'delayed',
    );
    const pending = await message(id);
    expect(pending.status).toBe('queued');
    expect(pending.failureReason).toMatch(/^OUTCOME_UNKNOWN: since \d{4}-\d\d-\d\dT[^;]*Z; /);

    // A status for an id nobody has and callback data naming a message of another session: ignored.
    const otherSession = await applyReceipt(db, tenantId, {
      sessionId: sessionIds[9]!,
      providerMessageId: 'wamid.OTHER',
      status: 'delivered',
      callbackData: id,
      chat: '4915200000009@s.whatsapp.net',
      fromMe: true,
    });
    expect(otherSession).toEqual({ applied: false, reason: 'unknown-message' });

    for (const status of ['sent', 'delivered'] as const)
      expect(
        (
          await applyReceipt(db, tenantId, {
            sessionId,
            providerMessageId: 'wamid.ADOPTED',
            status,
            callbackData: id,
            chat: '4915200000009@s.whatsapp.net',
            fromMe: true,
          })
        ).applied,
      ).toBe(true);
    const resolved = await withTenant(db, tenantId, (tx) =>
      tx.message.findUniqueOrThrow({ where: { id }, include: { statusEvents: true } }),
    );
    expect([resolved.status, resolved.providerMessageId, resolved.failureReason]).toEqual([
      'delivered',
      'wamid.ADOPTED',
      null,
    ]);
    expect(resolved.statusEvents.map((e) => e.status)).toEqual(['sent', 'delivered']);
    expect(channel.sent).toHaveLength(0);
  });

  it('sends a scheduled message when due, creating its message once', async () => {
    const sessionId = sessionIds[6]!;
    const seedId = await queueOutboundText(db, tenantId, sessionId, '4915200000008', 'seed');
    const conversationId = (await message(seedId)).conversationId;
    const scheduled = await withTenant(db, tenantId, (tx) =>
      tx.scheduledMessage.create({
        data: {
          tenantId,
          sessionId,
          conversationId,
          content: { type: 'text', text: 'scheduled hello' },
          sendAt: new Date(Date.now() + 300),
        },
      }),
    );
    const invalid = await withTenant(db, tenantId, (tx) =>
      tx.scheduledMessage.create({
        data: {
          tenantId,
          sessionId,
          conversationId,
          content: { type: 'text', text: '' },
          sendAt: new Date(),
        },
      }),
    );
    const channel = new MemoryChannel(sessionId);
    const c = consumer(sessionId, channel);
    await c.start();
    for (const s of [scheduled, invalid]) {
      const job: OutboundJob = { kind: 'scheduled', tenantId, scheduledMessageId: s.id };
      // Enqueued early on purpose: the consumer holds it back until send_at.
      await c.outboundQueue.add('scheduled', job, outboundJobOptions(job));
    }
    const row = async (id: string) =>
      await withTenant(db, tenantId, (tx) => tx.scheduledMessage.findUniqueOrThrow({ where: { id } }));
    await eventually(
      async () => (await row(scheduled.id)).status === 'sent' && (await row(invalid.id)).status === 'failed',
    );
    const done = await row(scheduled.id);
    const sent = await message(done.messageId!);
    expect([sent.body, sent.status, sent.direction]).toEqual(['scheduled hello', 'sent', 'outbound']);
    expect(
      channel.sent.filter((m) => m.content.type === 'text' && m.content.text === 'scheduled hello'),
    ).toHaveLength(1);
    expect((await row(invalid.id)).failureReason).toMatch(/text must not be empty/);
  });

  it('holds the per-contact and per-session limits across two consumers and a restart', async () => {
    const sessionId = sessionIds[7]!;
    const limits = { perContactPerMinute: 3, perSessionPerMinute: 5 };
    // The waits' metric (switchboard_outbound_rate_limit_wait_seconds): one observation per
    // send put back, of how long its window stays full.
    const waits = async () => {
      const values = (await pipelineMetrics().rateLimitWait.get()).values.filter(
        (v) => v.labels.channel === 'baileys',
      );
      const of = (name: string) => values.find((v) => v.metricName === name)?.value ?? 0;
      return {
        count: of('switchboard_outbound_rate_limit_wait_seconds_count'),
        sum: of('switchboard_outbound_rate_limit_wait_seconds_sum'),
      };
    };
    const before = await waits();
    const toOne: string[] = [];
    for (let i = 0; i < 6; i++)
      toOne.push(await queueOutboundText(db, tenantId, sessionId, '4915300000001', `a${i}`));
    const channels = [new MemoryChannel(sessionId), new MemoryChannel(sessionId)];
    const [a, b] = channels.map((ch) => consumer(sessionId, ch, { limits, concurrency: 3 }));
    await Promise.all([a!.start(), b!.start()]);
    const sentCount = () => channels.reduce((n, ch) => n + ch.sent.length, 0);
    await eventually(async () => (await a!.outboundQueue.getDelayedCount()) === 3 && sentCount() === 3);
    // The session window (5) has 2 slots left: 3 messages to others, one of which must wait.
    const others: string[] = [];
    for (let i = 0; i < 3; i++)
      others.push(await queueOutboundText(db, tenantId, sessionId, `491530000010${i}`, `b${i}`));
    for (const id of others) await enqueue(a!, id);
    await eventually(async () => (await a!.outboundQueue.getDelayedCount()) === 4 && sentCount() === 5);

    // Restart: new consumers, the windows are still in Redis.
    await Promise.all([a!.close(), b!.close()]);
    const fresh = new MemoryChannel(sessionId);
    const c = consumer(sessionId, fresh, { limits });
    await c.start();
    const late = await queueOutboundText(db, tenantId, sessionId, '4915300000200', 'c');
    await enqueue(c, late);
    await eventually(async () => (await c.outboundQueue.getDelayedCount()) === 5);
    expect(sentCount() + fresh.sent.length).toBe(5);
    const perContact = new Map<string, number>();
    for (const m of [...channels.flatMap((ch) => ch.sent), ...fresh.sent])
      perContact.set(m.to, (perContact.get(m.to) ?? 0) + 1);
    expect(perContact.get('4915300000001')).toBe(3);
    // Five sends waited (each once: their windows stay full for the rest of the test), each for
    // at most the one-minute window.
    const after = await waits();
    expect(after.count - before.count).toBe(5);
    expect(after.sum - before.sum).toBeGreaterThan(0);
    expect(after.sum - before.sum).toBeLessThanOrEqual(5 * 60);
  });

  it('backs off exponentially with jitter, capped', () => {
    const policy = { attempts: 8, baseDelayMs: 1000, maxDelayMs: 10_000 };
    expect(outboundBackoffMs(policy, 1, () => 0)).toBe(500);
    expect(outboundBackoffMs(policy, 1, () => 0.999_999)).toBe(1000);
    expect(outboundBackoffMs(policy, 3, () => 0.5)).toBe(3000);
    expect(outboundBackoffMs(policy, 10, () => 0.999_999)).toBe(10_000);
  });
});
