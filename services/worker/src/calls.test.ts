// Incoming calls on a real Baileys channel over the stand-in socket (Baileys' own event buffer,
// the `call` event shape its call-node handler emits), with real Postgres, Redis and BullMQ: with
// the session set to decline, an offer is rejected through the socket, a `call` line is written
// once with its realtime event and `call.received` webhook, and the auto-reply is queued on the
// session's outbound queue; a call nobody answered (timeout) is a missed-call line; a repeat of a
// call's status writes nothing more; without the setting an offer is left ringing.
import { createStandInChannel, type StandInChannel } from '@switchboard/channels/baileys/testing';
import { type Db, withTenant } from '@switchboard/db';
import { QUEUE_NAMES, queuePrefix } from '@switchboard/messaging';
import {
  createTestDatabase,
  deleteKeysWithPrefix,
  redisOptions,
  type TestDatabase,
  uniquePrefix,
} from '@switchboard/testing';
import type { WACallEvent } from '@whiskeysockets/baileys';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../../packages/messaging/src/testing/fixtures.ts';
import { seedTenant } from '../../../packages/sessions/src/testing/tenant-fixture.ts';
import { CallHandler } from './calls.ts';

let database: TestDatabase;
let db: Db;
let tenantId: string;
let sessionIds: string[];
let redis: Redis;
let handler: CallHandler;
const keyPrefix = `${uniquePrefix('calls')}:`;
const channels: StandInChannel[] = [];
const CALLER = '5511977770001';
const CALLER_LID = '600000000000001';

beforeAll(async () => {
  database = await createTestDatabase({ label: 'worker-calls' });
  ({ db, tenantId, sessionIds } = await seedTenant(database, 2));
  redis = new Redis({ ...redisOptions(), maxRetriesPerRequest: null });
  handler = new CallHandler({ db, redis, tenantId, keyPrefix });
  await withTenant(db, tenantId, async (tx) => {
    await tx.sessionCallSettings.create({
      data: {
        tenantId,
        sessionId: sessionIds[0]!,
        rejectCalls: true,
        replyText: 'We cannot take calls; write here.',
      },
    });
    await tx.webhookSubscription.create({
      data: { tenantId, url: 'https://a.example/calls', events: ['call.received'], secretRef: 's' },
    });
  });
});

afterAll(async () => {
  for (const t of channels) await t.channel.disconnect();
  await handler?.close();
  await deleteKeysWithPrefix(redis, keyPrefix);
  redis?.disconnect();
  await db?.$disconnect();
  await database?.drop();
});

/** A paired, connected channel of `sessionId` with the handler attached. */
async function connected(sessionId: string, phoneNumber: string): Promise<StandInChannel> {
  const t = await createStandInChannel({
    redis,
    keyPrefix,
    sessionId,
    paired: { phoneNumber, lid: `5000000000000${phoneNumber.slice(-2)}` },
  });
  channels.push(t);
  handler.attach(sessionId, t.channel);
  await t.channel.connect();
  (await t.standIn.socket(1)).open();
  await t.log.waitFor('state', (s) => s.state === 'connected');
  return t;
}

/** A call as Baileys emits it from WhatsApp's call node: the caller by LID, the PN beside it. */
function call(id: string, status: WACallEvent['status'], extra: Partial<WACallEvent> = {}): WACallEvent {
  return {
    chatId: `${CALLER_LID}@lid`,
    from: `${CALLER_LID}@lid`,
    callerPn: `${CALLER}@s.whatsapp.net`,
    id,
    date: new Date('2026-03-23T18:00:00Z'),
    isVideo: false,
    isGroup: false,
    status,
    offline: false,
    ...extra,
  };
}

async function callLines(sessionId: string) {
  return await withTenant(db, tenantId, (tx) =>
    tx.message.findMany({ where: { sessionId, type: 'call' }, orderBy: { createdAt: 'asc' } }),
  );
}

describe('calls', () => {
  it('declines an offer when the session says so, writes one line, its webhook and the queued reply', async () => {
    const sessionId = sessionIds[0]!;
    const t = await connected(sessionId, '5511900000011');
    const socket = t.standIn.current;
    socket.call([call('CALL-A', 'offer', { isVideo: true })]);
    await eventually(async () => (await callLines(sessionId)).length === 1);
    expect(socket.rejectedCalls).toEqual([{ callId: 'CALL-A', from: `${CALLER_LID}@lid` }]);
    // WhatsApp then reports the call rejected, and may repeat it: still one line.
    socket.call([call('CALL-A', 'reject', { isVideo: true })]);
    socket.call([call('CALL-A', 'reject', { isVideo: true })]);
    // Another status of the same call (here: recorded directly) finds its line and adds nothing.
    const again = await handler.handle(t.channel, {
      sessionId,
      callId: 'CALL-A',
      caller: { address: `${CALLER_LID}@lid`, lid: CALLER_LID, pn: CALLER },
      from: `${CALLER_LID}@lid`,
      isVideo: true,
      isGroup: false,
      status: 'timeout',
      offline: false,
      at: new Date(),
    });
    expect(again).toEqual({ outcome: 'recorded-before' });
    const { lines, replies, deliveries, contact } = await withTenant(db, tenantId, async (tx) => ({
      lines: await tx.message.findMany({ where: { sessionId, type: 'call' } }),
      replies: await tx.message.findMany({ where: { sessionId, direction: 'outbound' } }),
      deliveries: await tx.webhookDelivery.findMany(),
      contact: await tx.contactIdentity.findMany({ where: { value: { in: [CALLER, CALLER_LID] } } }),
    }));
    expect(lines.map((m) => [m.body, m.direction, m.providerMessageId])).toEqual([
      ['Declined video call', 'inbound', 'call-CALL-A'],
    ]);
    // The caller is one contact known by both PN and LID, and the line is in its conversation.
    expect(new Set(contact.map((c) => c.contactId)).size).toBe(1);
    expect(replies.map((m) => [m.body, m.status, m.conversationId])).toEqual([
      ['We cannot take calls; write here.', 'queued', lines[0]!.conversationId],
    ]);
    // The normal outbound path: the reply's job on the session's queue.
    const queue = new Queue(QUEUE_NAMES.outbound(sessionId), {
      connection: redis,
      prefix: queuePrefix(keyPrefix),
    });
    try {
      expect((await queue.getJobs(['waiting', 'delayed'])).map((j) => j.id)).toEqual([
        `send-${replies[0]!.id}`,
      ]);
    } finally {
      await queue.close();
    }
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]!.payload).toMatchObject({
      type: 'call.received',
      data: {
        sessionId,
        callId: 'CALL-A',
        from: CALLER,
        isVideo: true,
        outcome: 'rejected',
        messageId: lines[0]!.id,
        replyMessageId: replies[0]!.id,
      },
    });
    // The line's realtime event is in the outbox with the webhook's job.
    const outbox = await withTenant(db, tenantId, (tx) => tx.outboxEntry.findMany());
    expect(outbox.map((r) => r.kind).sort()).toEqual(['realtime.event', 'realtime.event', 'webhook.enqueue']);
  });

  it('leaves an offer ringing without the setting, and writes a missed call when nobody answered', async () => {
    const sessionId = sessionIds[1]!;
    const t = await connected(sessionId, '5511900000012');
    const socket = t.standIn.current;
    socket.call([call('CALL-B', 'offer')]);
    socket.call([call('CALL-B', 'timeout')]);
    await eventually(async () => (await callLines(sessionId)).length === 1);
    expect(socket.rejectedCalls).toEqual([]);
    const [line] = await callLines(sessionId);
    expect(line).toMatchObject({ body: 'Missed voice call', direction: 'inbound', status: 'delivered' });
    const conversation = await withTenant(db, tenantId, (tx) =>
      tx.conversation.findUniqueOrThrow({ where: { id: line!.conversationId } }),
    );
    expect(conversation.unreadCount).toBe(1);
    expect(
      await withTenant(db, tenantId, (tx) =>
        tx.message.count({ where: { sessionId, direction: 'outbound' } }),
      ),
    ).toBe(0);
  });
});
