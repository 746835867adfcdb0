// Away replies with real Postgres, Redis and BullMQ and an injected clock: outside business hours
// a customer's message gets one queued away reply with its job on the session's outbound queue;
// within hours or within the window nothing; after the window again. Two replicas racing for one
// message (both past their checks before either claims) send exactly one reply. And the stream:
// a stored message's realtime `message.created`, performed by the outbox relay and handed on by
// the worker's customer-message reader, is answered.
import { setTenantPaused, usageKeys } from '@switchboard/assistant';
import { type Db, withTenant } from '@switchboard/db';
import { OutboxRelay, QUEUE_NAMES, queuePrefix, storeInbound } from '@switchboard/messaging';
import {
  createTestDatabase,
  deleteKeysWithPrefix,
  redisOptions,
  type TestDatabase,
  uniquePrefix,
} from '@switchboard/testing';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, inboundMessage } from '../../../packages/messaging/src/testing/fixtures.ts';
import { seedTenant } from '../../../packages/sessions/src/testing/tenant-fixture.ts';
import { AwayReplier, type AwayReplierOptions } from './away-replies.ts';
import { CustomerMessageReader } from './customer-messages.ts';

let database: TestDatabase;
let db: Db;
let tenantId: string;
let sessionId: string;
let redis: Redis;
const keyPrefix = `${uniquePrefix('away')}:`;
const closers: (() => Promise<void>)[] = [];
const AWAY = 'We are closed; we answer from 09:00 (Berlin).';

beforeAll(async () => {
  database = await createTestDatabase({ label: 'worker-away-replies' });
  const seeded = await seedTenant(database, 1);
  ({ db, tenantId } = seeded);
  sessionId = seeded.sessionIds[0]!;
  redis = new Redis({ ...redisOptions(), maxRetriesPerRequest: null });
  await withTenant(db, tenantId, (tx) =>
    tx.businessHours.create({
      data: {
        tenantId,
        enabled: true,
        timeZone: 'Europe/Berlin',
        schedule: ['mon', 'tue', 'wed', 'thu', 'fri'].map((day) => ({ day, open: '09:00', close: '17:00' })),
        awayMessage: AWAY,
        awayWindowMinutes: 720,
      },
    }),
  );
});

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await deleteKeysWithPrefix(redis, keyPrefix);
  redis?.disconnect();
  await db?.$disconnect();
  await database?.drop();
});

function replier(options: Partial<AwayReplierOptions> & { now: () => Date }): AwayReplier {
  const r = new AwayReplier({ db, redis, tenantId, keyPrefix, ...options });
  closers.push(() => r.close());
  return r;
}

let counter = 0;
async function customerMessage(pn: string, content?: Parameters<typeof inboundMessage>[3]): Promise<string> {
  const stored = await storeInbound(
    db,
    tenantId,
    inboundMessage(sessionId, `AWAY-${++counter}`, { pn }, content),
  );
  if (stored.outcome !== 'created') throw new Error(`not stored: ${stored.outcome}`);
  return stored.messageId;
}

async function repliesTo(pn: string) {
  return await withTenant(db, tenantId, async (tx) => {
    const identity = await tx.contactIdentity.findFirstOrThrow({ where: { kind: 'pn', value: pn } });
    return await tx.message.findMany({
      where: { direction: 'outbound', conversation: { contactId: identity.contactId } },
      orderBy: { createdAt: 'asc' },
    });
  });
}

async function outboundJobIds(): Promise<string[]> {
  const queue = new Queue(QUEUE_NAMES.outbound(sessionId), {
    connection: redis,
    prefix: queuePrefix(keyPrefix),
  });
  try {
    return (await queue.getJobs(['waiting', 'delayed', 'active', 'prioritized'])).map((j) => j.id!);
  } finally {
    await queue.close();
  }
}

describe('away replies', () => {
  it('replies once per window outside the hours, never within them, and again after the window', async () => {
    let now = new Date('2026-03-23T10:00:00Z'); // Monday 11:00 in Berlin: open
    const r = replier({ now: () => now });
    const pn = '4915200000001';
    expect(await r.replyIfAway(await customerMessage(pn))).toEqual({ outcome: 'within-hours' });

    now = new Date('2026-03-23T16:00:00Z'); // Monday 17:00 in Berlin: closed
    const first = await r.replyIfAway(await customerMessage(pn));
    expect(first.outcome).toBe('replied');
    now = new Date('2026-03-24T03:59:00Z'); // 11 h 59 min later, still closed: within the window
    expect(await r.replyIfAway(await customerMessage(pn))).toEqual({ outcome: 'within-window' });
    now = new Date('2026-03-28T12:00:00Z'); // Saturday, past the window
    const second = await r.replyIfAway(await customerMessage(pn));
    expect(second.outcome).toBe('replied');

    const replies = await repliesTo(pn);
    expect(replies.map((m) => [m.body, m.status, m.type])).toEqual([
      [AWAY, 'queued', 'text'],
      [AWAY, 'queued', 'text'],
    ]);
    // The normal outbound path: each reply's job on the session's queue, under the contract's id.
    const jobs = await outboundJobIds();
    for (const reply of replies) expect(jobs).toContain(`send-${reply.id}`);
    // Our own reply, and a missed-call line (calls.ts), are not customer messages to answer.
    expect((await r.replyIfAway(replies[0]!.id)).outcome).toBe('not-customer-message');
    const callLine = await withTenant(db, tenantId, (tx) =>
      tx.message.create({
        data: {
          tenantId,
          sessionId,
          conversationId: replies[0]!.conversationId,
          direction: 'inbound',
          status: 'delivered',
          type: 'call',
          body: 'Missed voice call',
        },
      }),
    );
    now = new Date('2026-03-29T12:00:00Z'); // Sunday, past the window again
    expect((await r.replyIfAway(callLine.id)).outcome).toBe('not-customer-message');
  });

  it('sends exactly one reply when two replicas race for the same message', async () => {
    const now = () => new Date('2026-03-28T20:00:00Z'); // Saturday: closed
    // Both replicas pass every check before either claims: the race the claim must decide.
    let arrived = 0;
    let release!: () => void;
    const bothThere = new Promise<void>((resolve) => {
      release = resolve;
    });
    const barrier = async () => {
      arrived += 1;
      if (arrived === 2) release();
      await bothThere;
    };
    const [a, b] = [replier({ now, beforeClaim: barrier }), replier({ now, beforeClaim: barrier })];
    const pn = '4915200000002';
    const messageId = await customerMessage(pn);
    const outcomes = await Promise.all([a.replyIfAway(messageId), b.replyIfAway(messageId)]);
    expect(arrived).toBe(2);
    expect(outcomes.map((o) => o.outcome).sort()).toEqual(['replied', 'within-window']);
    expect(await repliesTo(pn)).toHaveLength(1);
  });

  it('answers a message announced on the realtime stream', async () => {
    const name = `${keyPrefix.replaceAll(':', '-')}stream`;
    const stream = new Redis({ ...redisOptions(), connectionName: name });
    // Only this message's events: the rows the earlier cases' stores left are not this case's.
    await withTenant(db, tenantId, (tx) => tx.outboxEntry.deleteMany());
    const r = replier({ now: () => new Date('2026-03-29T10:00:00Z') }); // Sunday
    const reader = new CustomerMessageReader({
      connection: stream,
      keyPrefix,
      handlers: [{ name: 'away reply', handle: (messageId) => r.replyIfAway(messageId) }],
    });
    closers.push(() => reader.close());
    reader.start();
    // The reader starts at the stream's end ($): wait until its first XREAD is blocked.
    await eventually(async () => {
      const clients = (await redis.client('LIST')) as string;
      return clients.split('\n').some((line) => line.includes(`name=${name} `) && line.includes('cmd=xread'));
    });
    const relay = new OutboxRelay({ db, redis, tenantId, keyPrefix });
    closers.push(() => relay.close());
    const pn = '4915200000003';
    await customerMessage(pn);
    await relay.drain({ graceMs: 0 });
    await eventually(async () => (await repliesTo(pn)).length === 1);
    expect((await repliesTo(pn))[0]!.body).toBe(AWAY);
  });

  it("leaves the customer to the session's bot or assistant, and sends the away message when they do not answer", async () => {
    const now = () => new Date('2026-03-28T21:00:00Z'); // Saturday: closed
    const r = replier({ now });
    const session = { tenantId_sessionId: { tenantId, sessionId } };
    const outcome = async (pn: string, replier = r) =>
      (await replier.replyIfAway(await customerMessage(pn))).outcome;
    try {
      // The bot: on, and nobody on the team has the conversation.
      await withTenant(db, tenantId, (tx) =>
        tx.sessionBotSettings.create({
          data: {
            tenantId,
            sessionId,
            enabled: true,
            url: 'https://flows.example/hook',
            secretRef: 'secret://bot',
          },
        }),
      );
      const first = await customerMessage('4915200000010');
      expect(await r.replyIfAway(first)).toEqual({ outcome: 'automation-answers' });
      // Handed to the team (a hand-off keyword, the API): the away message again.
      await withTenant(db, tenantId, async (tx) => {
        const { conversationId } = await tx.message.findUniqueOrThrow({ where: { id: first } });
        await tx.conversation.update({ where: { id: conversationId }, data: { automationStoppedAt: now() } });
      });
      expect(await outcome('4915200000010')).toBe('replied');
      await withTenant(db, tenantId, (tx) => tx.sessionBotSettings.delete({ where: session }));

      // The assistant: on, with a provider; not while a kill switch is on.
      await withTenant(db, tenantId, async (tx) => {
        await tx.assistantTenantSettings.create({
          data: {
            tenantId,
            baseUrl: 'http://127.0.0.1:1/v1',
            model: 'gpt-4o-mini',
            blockedTopicReply: 'No.',
            handoffMessage: 'A person will answer.',
          },
        });
        await tx.sessionAssistantSettings.create({ data: { tenantId, sessionId, enabled: true } });
      });
      expect(await outcome('4915200000011')).toBe('automation-answers');
      await setTenantPaused(redis, keyPrefix, true);
      expect(await outcome('4915200000012')).toBe('replied');
      await setTenantPaused(redis, keyPrefix, false);
      const platformOff = replier({ now, assistantPlatform: { enabled: false, allowedModels: undefined } });
      expect(await outcome('4915200000013', platformOff)).toBe('replied');
      // A model the platform does not allow: the assistant would be refused, so the away message.
      const otherModel = replier({ now, assistantPlatform: { enabled: true, allowedModels: ['gpt-4.1'] } });
      expect(await outcome('4915200000014', otherModel)).toBe('replied');
      // The assistant answers customers' text only: a location gets the away message.
      const location = await customerMessage('4915200000015', {
        type: 'location',
        latitude: 52.52,
        longitude: 13.405,
      });
      expect((await r.replyIfAway(location)).outcome).toBe('replied');
      // A spent daily budget: the assistant answers nothing, the away message does.
      await withTenant(db, tenantId, (tx) =>
        tx.assistantTenantSettings.update({ where: { tenantId }, data: { dailyMessageLimit: 3 } }),
      );
      const today = usageKeys(keyPrefix, now());
      await redis.set(today.dayMessages, '2');
      expect(await outcome('4915200000016')).toBe('automation-answers');
      await redis.set(today.dayMessages, '3');
      expect(await outcome('4915200000017')).toBe('replied');
      // The peeks above claimed nothing and counted nothing.
      expect(await redis.get(today.dayMessages)).toBe('3');
    } finally {
      await redis.del(...Object.values(usageKeys(keyPrefix, now())));
      await setTenantPaused(redis, keyPrefix, false);
      await withTenant(db, tenantId, async (tx) => {
        await tx.sessionBotSettings.deleteMany({});
        await tx.sessionAssistantSettings.deleteMany({});
        await tx.assistantTenantSettings.deleteMany({});
      });
    }
  });
});
