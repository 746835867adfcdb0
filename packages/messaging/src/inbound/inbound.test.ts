import { type Db, withTenant } from '@switchboard/db';
import { createTestDatabase, redisNamespace, redisOptions, type TestDatabase } from '@switchboard/testing';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_NAMES, queuePrefix, REALTIME_EVENT_FIELD, realtimeStreamKey } from '../contracts.ts';
import { parseGeoUri } from '../geo-uri.ts';
import { inboundMessage, seedTenant } from '../testing/fixtures.ts';
import { storeInbound } from './messages.ts';
import { InboundPipeline } from './pipeline.ts';
import { canMoveStatus } from './receipts.ts';

let database: TestDatabase;
let db: Db;
let tenantId: string;
let sessionId: string;
let redis: Redis;
const namespace = redisNamespace('inbound');
const keyPrefix = `${namespace.prefix}:`;
let pipeline: InboundPipeline;
let webhookQueue: Queue;

beforeAll(async () => {
  database = await createTestDatabase({ label: 'messaging-inbound' });
  const seeded = await seedTenant(database, 1);
  db = seeded.db;
  tenantId = seeded.tenantId;
  sessionId = seeded.sessionIds[0]!;
  redis = new Redis({ ...redisOptions(), maxRetriesPerRequest: null });
  pipeline = new InboundPipeline({ db, redis, tenantId, keyPrefix, epoch: 3n });
  webhookQueue = new Queue(QUEUE_NAMES.webhookDeliveries, {
    connection: redis,
    prefix: queuePrefix(keyPrefix),
  });
  await withTenant(db, tenantId, (tx) =>
    tx.webhookSubscription.createMany({
      data: [
        { tenantId, url: 'http://127.0.0.1:1/a', events: ['message.received'], secretRef: 'a' },
        { tenantId, url: 'http://127.0.0.1:1/b', events: ['*'], secretRef: 'b' },
        { tenantId, url: 'http://127.0.0.1:1/c', events: ['message.sent'], secretRef: 'c' },
        {
          tenantId,
          url: 'http://127.0.0.1:1/d',
          events: ['message.received'],
          secretRef: 'd',
          active: false,
        },
      ],
    }),
  );
});

afterAll(async () => {
  await pipeline.close();
  await webhookQueue.close();
  redis.disconnect();
  await namespace.cleanup();
  await db.$disconnect();
  await database.drop();
});

async function streamEvents(): Promise<{ type: string; data: Record<string, string> }[]> {
  const entries = await redis.xrange(realtimeStreamKey(keyPrefix), '-', '+');
  return entries.map(([, fields]) => JSON.parse(fields[fields.indexOf(REALTIME_EVENT_FIELD) + 1]!));
}

describe('storeInbound and the inbound pipeline', () => {
  it('stores a burst with duplicates once each, with one realtime event and one delivery per subscription', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `BURST-${i}`);
    // Every message three times, interleaved and concurrent, from five contacts.
    const burst = [...ids, ...ids, ...ids].map((id, i) =>
      inboundMessage(sessionId, id, { pn: `4915100000${Number(id.split('-')[1]) % 5}` }, undefined, {
        timestamp: new Date(Date.now() + i),
      }),
    );
    const results = await Promise.all(burst.map((m) => pipeline.handleMessage(m)));
    expect(results.filter((r) => r.isNew)).toHaveLength(20);
    expect(results.filter((r) => r.outcome === 'duplicate')).toHaveLength(40);

    const rows = await withTenant(db, tenantId, (tx) =>
      tx.message.findMany({ where: { providerMessageId: { startsWith: 'BURST-' } } }),
    );
    expect(rows).toHaveLength(20);
    expect(rows.every((r) => r.direction === 'inbound' && r.epoch === 3n)).toBe(true);

    const created = (await streamEvents()).filter((e) => e.type === 'message.created');
    expect(created).toHaveLength(20);
    expect(new Set(created.map((e) => e.data.messageId))).toEqual(new Set(rows.map((r) => r.id)));

    // Two subscriptions select message.received (one exact, one '*'); the inactive one and the
    // message.sent one do not.
    const deliveries = await withTenant(db, tenantId, (tx) => tx.webhookDelivery.findMany());
    expect(deliveries).toHaveLength(40);
    const jobs = await webhookQueue.getJobs(['waiting', 'delayed', 'active', 'prioritized']);
    expect(jobs).toHaveLength(40);
    expect(new Set(jobs.map((j) => j.data.deliveryId))).toEqual(new Set(deliveries.map((d) => d.id)));
    // Every effect went through the outbox, and each row was deleted once performed.
    expect(await withTenant(db, tenantId, (tx) => tx.outboxEntry.count())).toBe(0);

    const conversations = await withTenant(db, tenantId, (tx) => tx.conversation.findMany());
    expect(conversations).toHaveLength(5);
    expect(conversations.reduce((sum, c) => sum + c.unreadCount, 0)).toBe(20);
  });

  it('records pn and lid on one contact and links a pn contact with a new lid', async () => {
    await storeInbound(db, tenantId, inboundMessage(sessionId, 'ID-1', { pn: '4917000000001' }));
    await storeInbound(
      db,
      tenantId,
      inboundMessage(sessionId, 'ID-2', { pn: '4917000000001', lid: '990001' }),
    );
    await storeInbound(db, tenantId, inboundMessage(sessionId, 'ID-3', { lid: '990001', pushName: 'Ana' }));
    const identities = await withTenant(db, tenantId, (tx) =>
      tx.contactIdentity.findMany({
        where: { value: { in: ['4917000000001', '990001'] } },
        include: { contact: true },
      }),
    );
    expect(identities.map((i) => i.kind).sort()).toEqual(['lid', 'pn']);
    expect(new Set(identities.map((i) => i.contactId)).size).toBe(1);
    expect(identities[0]!.contact.pushName).toBe('Ana');
    const conversations = await withTenant(db, tenantId, (tx) =>
      tx.conversation.findMany({ where: { contactId: identities[0]!.contactId } }),
    );
    expect(conversations).toHaveLength(1);
    expect(conversations[0]!.unreadCount).toBe(3);
  });

  it('links identities from an identity event', async () => {
    await storeInbound(db, tenantId, inboundMessage(sessionId, 'LINK-1', { lid: '770001' }));
    const result = await pipeline.handleIdentity({ sessionId, pn: '4917700000001', lid: '770001' });
    expect(result.outcome).toBe('linked');
    const again = await pipeline.handleIdentity({ sessionId, pn: '4917700000001', lid: '770001' });
    expect(again.outcome).toBe('already-linked');
    // The message from the PN now lands in the LID contact's conversation.
    const stored = await storeInbound(
      db,
      tenantId,
      inboundMessage(sessionId, 'LINK-2', { pn: '4917700000001' }),
    );
    expect(
      stored.outcome === 'created' && result.outcome === 'linked' && stored.contactId === result.contactId,
    ).toBe(true);
  });

  it('merges a pn contact and a lid contact once an identity event links them', async () => {
    await storeInbound(db, tenantId, inboundMessage(sessionId, 'CF-1', { pn: '4917800000001' }));
    await storeInbound(db, tenantId, inboundMessage(sessionId, 'CF-2', { lid: '780001' }));
    const result = await pipeline.handleIdentity({ sessionId, pn: '4917800000001', lid: '780001' });
    expect(result.outcome).toBe('merged');
    const identities = await withTenant(db, tenantId, (tx) =>
      tx.contactIdentity.findMany({ where: { value: { in: ['4917800000001', '780001'] } } }),
    );
    expect(new Set(identities.map((i) => i.contactId))).toEqual(new Set([result.contactId]));
  });

  it('reopens a resolved conversation; fromMe echoes do not count as unread', async () => {
    const first = await storeInbound(
      db,
      tenantId,
      inboundMessage(sessionId, 'RE-1', { pn: '4917100000001' }),
    );
    if (first.outcome !== 'created') throw new Error('expected created');
    await withTenant(db, tenantId, (tx) =>
      tx.conversation.update({
        where: { id: first.conversationId },
        data: { status: 'resolved', resolvedAt: new Date(), unreadCount: 0 },
      }),
    );
    await storeInbound(
      db,
      tenantId,
      inboundMessage(
        sessionId,
        'RE-2',
        { pn: '4917100000001' },
        { type: 'text', text: 'from my phone' },
        { fromMe: true },
      ),
    );
    const conversation = await withTenant(db, tenantId, (tx) =>
      tx.conversation.findUniqueOrThrow({ where: { id: first.conversationId } }),
    );
    expect(conversation.status).toBe('open');
    expect(conversation.resolvedAt).toBeNull();
    expect(conversation.unreadCount).toBe(0);
    const echo = await withTenant(db, tenantId, (tx) =>
      tx.message.findFirstOrThrow({ where: { providerMessageId: 'RE-2' } }),
    );
    expect(echo.direction).toBe('outbound');
    expect(echo.status).toBe('sent');
  });

  it('maps media, location, contact, reaction, edit and delete', async () => {
    const pn = { pn: '4917200000001' };
    const media = await pipeline.handleMessage(
      inboundMessage(sessionId, 'M-IMG', pn, {
        type: 'image',
        caption: 'look',
        media: {
          mimetype: 'image/jpeg',
          size: 1234,
          sha256: 'ab',
          download: { provider: 'baileys', data: 'xyz' },
        },
      }),
    );
    expect(media.outcome === 'created' && media.hasMedia).toBe(true);
    const mediaQueue = new Queue(QUEUE_NAMES.mediaDownloads, {
      connection: redis,
      prefix: queuePrefix(keyPrefix),
    });
    expect((await mediaQueue.getJobs(['waiting'])).map((j) => j.data.messageId)).toContain(
      media.outcome === 'created' ? media.messageId : '',
    );
    await mediaQueue.close();

    await storeInbound(
      db,
      tenantId,
      inboundMessage(sessionId, 'M-LOC', pn, {
        type: 'location',
        latitude: 52.5,
        longitude: 13.4,
        name: 'Café; Mitte',
      }),
    );
    await storeInbound(
      db,
      tenantId,
      inboundMessage(sessionId, 'M-VC', pn, { type: 'contact', contacts: [{ vcard: 'BEGIN:VCARD' }] }),
    );
    await storeInbound(db, tenantId, inboundMessage(sessionId, 'M-TXT', pn, { type: 'text', text: 'first' }));
    await storeInbound(
      db,
      tenantId,
      inboundMessage(sessionId, 'M-REACT', pn, { type: 'reaction', targetId: 'M-TXT', emoji: '👍' }),
    );
    const edit = await pipeline.handleMessage(
      inboundMessage(sessionId, 'M-EDIT', pn, {
        type: 'edit',
        targetId: 'M-TXT',
        content: { type: 'text', text: 'second' },
      }),
    );
    expect(edit.outcome).toBe('updated');
    await storeInbound(
      db,
      tenantId,
      inboundMessage(sessionId, 'M-DEL', pn, { type: 'delete', targetId: 'M-VC' }),
    );
    const missing = await storeInbound(
      db,
      tenantId,
      inboundMessage(sessionId, 'M-DEL2', pn, { type: 'delete', targetId: 'NOPE' }),
    );
    expect(missing.outcome).toBe('target-missing');

    const byId = async (id: string) =>
      await withTenant(db, tenantId, (tx) =>
        tx.message.findFirstOrThrow({ where: { providerMessageId: id } }),
      );
    const image = await byId('M-IMG');
    expect([image.type, image.body, image.mediaMimeType, image.mediaSizeBytes]).toEqual([
      'image',
      'look',
      'image/jpeg',
      1234n,
    ]);
    expect(image.mediaProviderRef).toEqual({ provider: 'baileys', data: 'xyz' });
    const location = await byId('M-LOC');
    expect(parseGeoUri(location.body!)).toEqual({ latitude: 52.5, longitude: 13.4, name: 'Café; Mitte' });
    const text = await byId('M-TXT');
    expect(text.body).toBe('second');
    expect(text.editedAt).not.toBeNull();
    const reaction = await byId('M-REACT');
    expect([reaction.type, reaction.reaction, reaction.replyToMessageId]).toEqual([
      'reaction',
      '👍',
      text.id,
    ]);
    expect((await byId('M-VC')).deletedAt).not.toBeNull();
    const rows = await withTenant(db, tenantId, (tx) =>
      tx.message.count({ where: { providerMessageId: { in: ['M-EDIT', 'M-DEL'] } } }),
    );
    expect(rows).toBe(0);
    const updated = (await streamEvents()).filter(
      (e) => e.type === 'message.updated' && e.data.messageId === text.id,
    );
    expect(updated).toHaveLength(1);
  });

  it("files a group chat's messages under the group's one conversation, each with its sender; ignores broadcasts", async () => {
    const group = '120363000000000777@g.us';
    const stored = [];
    for (const [id, pn, name] of [
      ['G-1', '4917300000001', 'Gina'],
      ['G-2', '4917300000002', 'Hugo'],
    ] as const) {
      const message = inboundMessage(sessionId, id, { pn });
      stored.push(
        await storeInbound(db, tenantId, {
          ...message,
          chat: { address: group, kind: 'group' },
          sender: { address: `${pn}@s.whatsapp.net`, pn, pushName: name },
          mentions: [{ address: '4917300000009@s.whatsapp.net', pn: '4917300000009' }],
        }),
      );
    }
    const [first, second] = stored;
    if (first?.outcome !== 'created' || second?.outcome !== 'created') throw new Error('not stored');
    expect(second.conversationId).toBe(first.conversationId);
    const rows = await withTenant(db, tenantId, async (tx) => ({
      group: await tx.whatsappGroup.findUniqueOrThrow({ where: { tenantId_jid: { tenantId, jid: group } } }),
      identities: await tx.contactIdentity.count({ where: { contactId: first.contactId } }),
      messages: await tx.message.findMany({
        where: { conversationId: first.conversationId },
        orderBy: { providerMessageId: 'asc' },
      }),
    }));
    expect(rows.group.contactId).toBe(first.contactId);
    expect(rows.identities).toBe(0);
    expect(rows.messages.map((m) => [m.senderPn, m.senderName, m.mentions])).toEqual([
      ['4917300000001', 'Gina', [{ jid: '4917300000009@s.whatsapp.net', pn: '4917300000009' }]],
      ['4917300000002', 'Hugo', [{ jid: '4917300000009@s.whatsapp.net', pn: '4917300000009' }]],
    ]);

    const broadcast = await storeInbound(db, tenantId, {
      ...inboundMessage(sessionId, 'B-1', { pn: '4917300000001' }),
      chat: { address: 'status@broadcast', kind: 'broadcast' },
    });
    expect(broadcast.outcome).toBe('ignored');
  });
});

describe('receipts', () => {
  it("records the provider's failure code and title as the reason", async () => {
    const stored = await storeInbound(
      db,
      tenantId,
      inboundMessage(
        sessionId,
        'RC-F',
        { pn: '4917400000009' },
        { type: 'text', text: 'x' },
        { fromMe: true },
      ),
    );
    if (stored.outcome !== 'created') throw new Error('expected created');
    const result = await pipeline.handleReceipt({
      sessionId,
      providerMessageId: 'RC-F',
      chat: 'x',
      status: 'failed',
      fromMe: true,
      failure: { code: 131047, title: 'Re-engagement message', detail: 'More than 24 hours have passed' },
    });
    expect(result).toMatchObject({
      applied: true,
      reason: '131047 Re-engagement message: More than 24 hours have passed',
    });
    const message = await withTenant(db, tenantId, (tx) =>
      tx.message.findUniqueOrThrow({ where: { id: stored.messageId } }),
    );
    expect(message.failureReason).toBe('131047 Re-engagement message: More than 24 hours have passed');
  });

  it('moves status forward only and records every applied status', async () => {
    const stored = await storeInbound(
      db,
      tenantId,
      inboundMessage(
        sessionId,
        'RC-1',
        { pn: '4917400000001' },
        { type: 'text', text: 'x' },
        { fromMe: true },
      ),
    );
    if (stored.outcome !== 'created') throw new Error('expected created');
    const receipt = (status: 'sent' | 'delivered' | 'read' | 'failed') =>
      pipeline.handleReceipt({ sessionId, providerMessageId: 'RC-1', chat: 'x', status, fromMe: true });
    expect((await receipt('read')).applied).toBe(true);
    expect((await receipt('delivered')).applied).toBe(false);
    expect((await receipt('failed')).applied).toBe(false);
    expect((await receipt('read')).applied).toBe(false);
    const message = await withTenant(db, tenantId, (tx) =>
      tx.message.findUniqueOrThrow({ where: { id: stored.messageId } }),
    );
    expect(message.status).toBe('read');
    expect(message.readAt).not.toBeNull();
    // Read implies sent and delivered: their times are filled in, the history keeps what moved.
    expect(message.sentAt).not.toBeNull();
    expect(message.deliveredAt).toEqual(message.readAt);
    const events = await withTenant(db, tenantId, (tx) =>
      tx.messageStatusEvent.findMany({ where: { messageId: stored.messageId } }),
    );
    expect(events.map((e) => e.status)).toEqual(['read']);
    const realtime = (await streamEvents()).filter(
      (e) => e.type === 'message.updated' && e.data.messageId === stored.messageId,
    );
    expect(realtime.map((e) => e.data.status)).toEqual(['read']);
    expect(
      (
        await pipeline.handleReceipt({
          sessionId,
          providerMessageId: 'NOPE',
          chat: 'x',
          status: 'read',
          fromMe: true,
        })
      ).applied,
    ).toBe(false);
  });

  it('never moves backwards under concurrent receipts', async () => {
    const stored = await storeInbound(
      db,
      tenantId,
      inboundMessage(
        sessionId,
        'RC-2',
        { pn: '4917400000002' },
        { type: 'text', text: 'x' },
        { fromMe: true },
      ),
    );
    if (stored.outcome !== 'created') throw new Error('expected created');
    const statuses = ['delivered', 'read', 'delivered', 'failed', 'read', 'delivered'] as const;
    await Promise.all(
      statuses.map((status) =>
        pipeline.handleReceipt({ sessionId, providerMessageId: 'RC-2', chat: 'x', status, fromMe: true }),
      ),
    );
    const events = await withTenant(db, tenantId, (tx) =>
      tx.messageStatusEvent.findMany({
        where: { messageId: stored.messageId },
        orderBy: { createdAt: 'asc' },
      }),
    );
    // Each applied status is a step forward from the one before.
    for (let i = 1; i < events.length; i++)
      expect(canMoveStatus(events[i - 1]!.status, events[i]!.status)).toBe(true);
    const message = await withTenant(db, tenantId, (tx) =>
      tx.message.findUniqueOrThrow({ where: { id: stored.messageId } }),
    );
    expect(message.status).toBe(events.at(-1)!.status);
    expect(['read', 'failed']).toContain(message.status);
  });

  it('orders statuses: queued -> sent -> delivered -> read, failed from all but read', () => {
    expect(canMoveStatus('queued', 'sent')).toBe(true);
    expect(canMoveStatus('delivered', 'sent')).toBe(false);
    expect(canMoveStatus('delivered', 'failed')).toBe(true);
    expect(canMoveStatus('read', 'failed')).toBe(false);
    expect(canMoveStatus('failed', 'read')).toBe(false);
  });
});
