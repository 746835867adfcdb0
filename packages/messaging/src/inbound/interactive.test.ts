// Structured inbound content (a button pick, a poll, a vote on it) through both store paths: the
// pipeline's batched insert and storeInbound, with real Postgres and Redis. The row keeps the
// structure in `interactive` and a readable `body`; a vote points at its poll and is not unread;
// the realtime event carries the structure; `message.received` carries it as typed fields.
import { type Db, withTenant } from '@switchboard/db';
import { createTestDatabase, redisNamespace, redisOptions, type TestDatabase } from '@switchboard/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REALTIME_EVENT_FIELD, realtimeStreamKey } from '../contracts.ts';
import { inboundMessage, seedTenant } from '../testing/fixtures.ts';
import { storeInbound } from './messages.ts';
import { InboundPipeline } from './pipeline.ts';

let database: TestDatabase;
let db: Db;
let tenantId: string;
let sessionId: string;
let redis: Redis;
const namespace = redisNamespace('inbound-interactive');
const keyPrefix = `${namespace.prefix}:`;
let pipeline: InboundPipeline;

beforeAll(async () => {
  database = await createTestDatabase({ label: 'messaging-interactive' });
  const seeded = await seedTenant(database, 1);
  db = seeded.db;
  tenantId = seeded.tenantId;
  sessionId = seeded.sessionIds[0]!;
  redis = new Redis({ ...redisOptions(), maxRetriesPerRequest: null });
  pipeline = new InboundPipeline({ db, redis, tenantId, keyPrefix, epoch: 1n });
  await withTenant(db, tenantId, (tx) =>
    tx.webhookSubscription.create({
      data: { tenantId, url: 'http://127.0.0.1:1/hook', events: ['message.received'], secretRef: 'hook' },
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

const rowOf = (providerMessageId: string) =>
  withTenant(db, tenantId, (tx) => tx.message.findFirstOrThrow({ where: { sessionId, providerMessageId } }));

describe('structured inbound content', () => {
  it('stores a button pick through the pipeline with its structure, event and webhook fields', async () => {
    const from = { pn: '5511955550001', pushName: 'Bia' };
    const result = await pipeline.handleMessage(
      inboundMessage(sessionId, 'wamid.PICK1', from, {
        type: 'interactive_reply',
        kind: 'list',
        id: 'slot-9',
        title: '09:00',
        description: 'Front desk',
      }),
    );
    expect(result.outcome).toBe('created');
    const row = await rowOf('wamid.PICK1');
    expect(row).toMatchObject({
      type: 'interactive_reply',
      body: '09:00',
      interactive: { kind: 'list', id: 'slot-9', title: '09:00', description: 'Front desk' },
    });
    const delivery = await withTenant(db, tenantId, (tx) =>
      tx.webhookDelivery.findFirstOrThrow({
        where: { eventType: 'message.received' },
        orderBy: { createdAt: 'desc' },
      }),
    );
    expect((delivery.payload as { data: Record<string, unknown> }).data).toMatchObject({
      type: 'interactive_reply',
      interactiveReply: { kind: 'list', id: 'slot-9', title: '09:00', description: 'Front desk' },
    });
    const entries = await redis.xrange(realtimeStreamKey(keyPrefix), '-', '+');
    const created = entries
      .map(([, fields]) => JSON.parse(fields[fields.indexOf(REALTIME_EVENT_FIELD) + 1]!))
      .find((e) => e.type === 'message.created' && e.data.messageId === row.id);
    expect(created?.data.message.interactive).toEqual({
      kind: 'list',
      id: 'slot-9',
      title: '09:00',
      description: 'Front desk',
    });
  });

  it('stores a poll and a vote on it: the vote points at the poll and is not counted unread', async () => {
    const from = { pn: '5511955550002' };
    await storeInbound(
      db,
      tenantId,
      inboundMessage(sessionId, '3EB0POLL', from, {
        type: 'poll',
        name: 'Lunch?',
        options: ['pizza', 'sushi'],
        selectableCount: 1,
      }),
    );
    const poll = await rowOf('3EB0POLL');
    expect(poll).toMatchObject({
      type: 'poll',
      body: 'Lunch?',
      interactive: { name: 'Lunch?', options: ['pizza', 'sushi'], selectableCount: 1 },
    });
    const unreadBefore = (
      await withTenant(db, tenantId, (tx) =>
        tx.conversation.findUniqueOrThrow({ where: { id: poll.conversationId } }),
      )
    ).unreadCount;
    // One vote through each store path.
    await storeInbound(
      db,
      tenantId,
      inboundMessage(sessionId, '3EB0VOTE1', from, {
        type: 'poll_vote',
        pollMessageId: '3EB0POLL',
        selectedOptions: ['sushi'],
      }),
    );
    await pipeline.handleMessage(
      inboundMessage(sessionId, '3EB0VOTE2', from, {
        type: 'poll_vote',
        pollMessageId: '3EB0POLL',
        selectedOptions: [],
      }),
    );
    for (const [id, body, selected] of [
      ['3EB0VOTE1', 'sushi', ['sushi']],
      ['3EB0VOTE2', null, []],
    ] as const) {
      expect(await rowOf(id)).toMatchObject({
        type: 'poll_vote',
        body,
        replyToMessageId: poll.id,
        interactive: { pollMessageId: '3EB0POLL', selectedOptions: selected },
      });
    }
    const after = await withTenant(db, tenantId, (tx) =>
      tx.conversation.findUniqueOrThrow({ where: { id: poll.conversationId } }),
    );
    expect(after.unreadCount).toBe(unreadBefore);
  });
});
