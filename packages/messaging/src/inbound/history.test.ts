// History on pairing (history.ts): imported messages are stored like live ones and de-duplicated,
// without webhooks, message.created events or unread counts, dated by their own timestamps.
import type { InboundMessage } from '@switchboard/channels';
import { type Db, withTenant } from '@switchboard/db';
import { createTestDatabase, redisNamespace, redisOptions, type TestDatabase } from '@switchboard/testing';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  QUEUE_NAMES,
  queuePrefix,
  REALTIME_EVENT_FIELD,
  type RealtimeEvent,
  realtimeStreamKey,
} from '../contracts.ts';
import { inboundMessage, seedTenant } from '../testing/fixtures.ts';
import { storeInbound } from './messages.ts';
import { InboundPipeline } from './pipeline.ts';

let database: TestDatabase;
let db: Db;
let tenantId: string;
let sessionId: string;
let redis: Redis;
const namespace = redisNamespace('inbound-history');
const keyPrefix = `${namespace.prefix}:`;
let pipeline: InboundPipeline;

beforeAll(async () => {
  database = await createTestDatabase({ label: 'messaging-inbound-history' });
  const seeded = await seedTenant(database, 1);
  db = seeded.db;
  tenantId = seeded.tenantId;
  sessionId = seeded.sessionIds[0]!;
  redis = new Redis({ ...redisOptions(), maxRetriesPerRequest: null });
  pipeline = new InboundPipeline({ db, redis, tenantId, keyPrefix, epoch: 3n });
  await withTenant(db, tenantId, (tx) =>
    tx.webhookSubscription.create({
      data: {
        tenantId,
        url: 'http://127.0.0.1:1/h',
        events: ['message.received', 'message.sent'],
        secretRef: 'h',
      },
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

const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000);

function imported(id: string, pn: string, at: Date, extra: Partial<InboundMessage> = {}): InboundMessage {
  return inboundMessage(sessionId, id, { pn, pushName: 'Imported' }, undefined, {
    timestamp: at,
    live: false,
    history: true,
    ...extra,
  });
}

async function realtime(): Promise<RealtimeEvent[]> {
  const entries = await redis.xrange(realtimeStreamKey(keyPrefix), '-', '+');
  return entries.map(([, fields]) => JSON.parse(fields[fields.indexOf(REALTIME_EVENT_FIELD) + 1]!));
}

async function conversationOf(pn: string) {
  return await withTenant(db, tenantId, async (tx) => {
    const identity = await tx.contactIdentity.findFirstOrThrow({ where: { kind: 'pn', value: pn } });
    return await tx.conversation.findFirstOrThrow({
      where: { contactId: identity.contactId },
      include: { messages: { orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] } },
    });
  });
}

describe('history import through the inbound path', () => {
  it('stores a batch of imported messages without webhooks, message.created or unread counts', async () => {
    const pn = '4915300000001';
    const mine = `H-${pn}-2`;
    const batch = [
      imported(`H-${pn}-1`, pn, hoursAgo(30)),
      imported(mine, pn, hoursAgo(20), {
        fromMe: true,
        sender: { address: 'me@s.whatsapp.net', pn: '1555' },
      }),
      imported(`H-${pn}-3`, pn, hoursAgo(10), {
        content: {
          type: 'image',
          media: { mimetype: 'image/jpeg', download: { provider: 'baileys', data: 'e30=' } },
        },
      }),
    ];
    const results = await Promise.all(batch.map((m) => pipeline.handleMessage(m)));
    expect(results.map((r) => r.outcome)).toEqual(['created', 'created', 'created']);

    const conversation = await conversationOf(pn);
    expect(conversation).toMatchObject({ status: 'resolved', unreadCount: 0 });
    expect(conversation.lastMessageAt.getTime()).toBe(batch[2]!.timestamp.getTime());
    // The thread's order is the messages' own time; ours is outbound and sent.
    expect(conversation.messages.map((m) => [m.providerMessageId, m.direction, m.status])).toEqual([
      [`H-${pn}-1`, 'inbound', 'delivered'],
      [mine, 'outbound', 'sent'],
      [`H-${pn}-3`, 'inbound', 'delivered'],
    ]);
    expect(conversation.messages.map((m) => m.createdAt.getTime())).toEqual(
      batch.map((m) => m.timestamp.getTime()),
    );

    expect(await withTenant(db, tenantId, (tx) => tx.webhookDelivery.count())).toBe(0);
    const events = await realtime();
    expect(events.filter((e) => e.type === 'message.created')).toEqual([]);
    // One list refresh for the conversation; the image's download still happens.
    expect(events.filter((e) => e.type === 'conversation.updated')).toEqual([
      expect.objectContaining({ data: { conversationId: conversation.id } }),
    ]);
    const mediaQueue = new Queue(QUEUE_NAMES.mediaDownloads, {
      connection: redis,
      prefix: queuePrefix(keyPrefix),
    });
    try {
      const image = conversation.messages[2]!;
      expect(
        (await mediaQueue.getJobs(['waiting', 'delayed', 'prioritized'])).map((j) => j.data.messageId),
      ).toEqual([image.id]);
    } finally {
      await mediaQueue.close();
    }
  });

  it('adds nothing on a second import of the same history, and never reopens or counts', async () => {
    const pn = '4915300000002';
    const first = [imported(`H-${pn}-1`, pn, hoursAgo(5)), imported(`H-${pn}-2`, pn, hoursAgo(4))];
    await Promise.all(first.map((m) => pipeline.handleMessage(m)));
    // A live message arrives (open, unread 1), then the same history again, one by one too.
    const live = inboundMessage(sessionId, `L-${pn}`, { pn });
    expect((await pipeline.handleMessage(live)).outcome).toBe('created');
    const before = await conversationOf(pn);
    expect(before).toMatchObject({ status: 'open', unreadCount: 1 });

    const again = await Promise.all(first.map((m) => pipeline.handleMessage(m)));
    expect(again.map((r) => r.outcome)).toEqual(['duplicate', 'duplicate']);
    const oneByOne = await storeInbound(db, tenantId, first[0]!);
    expect(oneByOne.outcome).toBe('duplicate');

    const after = await conversationOf(pn);
    expect(after.messages.map((m) => m.providerMessageId)).toEqual([`H-${pn}-1`, `H-${pn}-2`, `L-${pn}`]);
    expect(after).toMatchObject({ status: 'open', unreadCount: 1 });
    expect(after.lastMessageAt.getTime()).toBe(before.lastMessageAt.getTime());

    // Only the live message made a webhook delivery and a message.created.
    const deliveries = await withTenant(db, tenantId, (tx) =>
      tx.webhookDelivery.findMany({ select: { eventType: true, payload: true } }),
    );
    expect(
      deliveries.map((d) => (d.payload as { data: { providerMessageId: string } }).data.providerMessageId),
    ).toEqual([`L-${pn}`]);
    const created = (await realtime()).filter((e) => e.type === 'message.created');
    expect(created.map((e) => e.data.conversationId)).toEqual([after.id]);
  });

  it('files an imported message stored on its own (group chats, batch fallback) the same way', async () => {
    const pn = '4915300000003';
    const resolvedLater = imported(`H-${pn}-1`, pn, hoursAgo(50));
    const result = await storeInbound(db, tenantId, resolvedLater);
    expect(result.outcome).toBe('created');
    const conversation = await conversationOf(pn);
    expect(conversation).toMatchObject({ status: 'resolved', unreadCount: 0 });
    expect(conversation.messages[0]!.createdAt.getTime()).toBe(resolvedLater.timestamp.getTime());
    expect(conversation.lastMessageAt.getTime()).toBe(resolvedLater.timestamp.getTime());
    const outbox = await withTenant(db, tenantId, (tx) =>
      tx.outboxEntry.findMany({
        where: { id: { in: result.outcome === 'created' ? result.outboxIds : [] } },
      }),
    );
    expect(outbox.map((o) => (o.payload as { type?: string }).type)).toEqual(['conversation.updated']);
    expect(await withTenant(db, tenantId, (tx) => tx.webhookDelivery.count())).toBe(1); // the live one above
  });

  it('files an imported group message under its group, resolved, without a webhook or message.created', async () => {
    const group = '120363000000000777@g.us';
    const sender = { address: '4915300000004@s.whatsapp.net', pn: '4915300000004', pushName: 'Gus' };
    const message: InboundMessage = {
      sessionId,
      providerMessageId: 'H-GROUP-1',
      chat: { address: group, kind: 'group' },
      sender,
      fromMe: false,
      timestamp: hoursAgo(30),
      live: false,
      history: true,
      content: { type: 'text', text: 'from the group history' },
    };
    const before = (await realtime()).length;
    const result = await pipeline.handleMessage(message);
    expect(result.outcome).toBe('created');
    expect((await pipeline.handleMessage(message)).outcome).toBe('duplicate');
    const conversation = await withTenant(db, tenantId, async (tx) => {
      const row = await tx.whatsappGroup.findFirstOrThrow({ where: { jid: group } });
      return await tx.conversation.findFirstOrThrow({
        where: { contactId: row.contactId },
        include: { messages: true },
      });
    });
    expect(conversation).toMatchObject({ status: 'resolved', unreadCount: 0 });
    expect(conversation.messages.map((m) => [m.body, m.senderPn, m.createdAt.getTime()])).toEqual([
      ['from the group history', sender.pn, message.timestamp.getTime()],
    ]);
    const events = (await realtime()).slice(before);
    expect(events.map((e) => e.type)).toEqual(['conversation.updated']);
    expect(await withTenant(db, tenantId, (tx) => tx.webhookDelivery.count())).toBe(1);
  });
});
