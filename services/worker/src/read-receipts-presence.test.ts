// Read receipts and typing on a Baileys session, with real Redis, BullMQ and Postgres and
// Baileys' own event machinery on stand-in sockets: the API's `conversation-opened` command makes
// the holder call readMessages for exactly the given messages and subscribe to the chat's
// presence; the customer's presence.update reaches the tenant's realtime stream as
// `conversation.typing` for their conversation; a customer's message subscribes to presence too.
import {
  type BaileysStandIn,
  messageId,
  seedPairedSession,
  standInChannelFactory,
  wireMessage,
} from '@switchboard/channels/baileys/testing';
import { type Db, withTenant } from '@switchboard/db';
import {
  QUEUE_NAMES,
  queuePrefix,
  type RealtimeEvent,
  realtimeEventSchema,
  realtimeStreamKey,
  type SessionCommand,
  sessionCommandJobId,
} from '@switchboard/messaging';
import { createTestDatabase, redisOptions, type TestDatabase, uniquePrefix } from '@switchboard/testing';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedTenant } from '../../../packages/sessions/src/testing/tenant-fixture.ts';
import { eventually } from '../../../packages/sessions/src/testing/worker-fleet.ts';
import { PresenceRelay } from './presence.ts';
import { SessionRuntime } from './session-runtime.ts';

let database: TestDatabase;
let db: Db;
let tenantId: string;
let sessionId: string;
let conversationId: string;
let redis: Redis;
let workerRedis: Redis;
let runtime: SessionRuntime;
let queue: Queue;
const keyPrefix = `${uniquePrefix('receipts')}:`;
const standIns = new Map<string, BaileysStandIn>();
const errors: string[] = [];
const CUSTOMER = '5511977770101';
const CUSTOMER_JID = `${CUSTOMER}@s.whatsapp.net`;

async function typingEvents(): Promise<Extract<RealtimeEvent, { type: 'conversation.typing' }>['data'][]> {
  return (await redis.xrange(realtimeStreamKey(keyPrefix), '-', '+'))
    .map(([, fields]) => realtimeEventSchema.parse(JSON.parse(fields[1]!)))
    .flatMap((event) => (event.type === 'conversation.typing' ? [event.data] : []));
}

beforeAll(async () => {
  database = await createTestDatabase({ label: 'worker-receipts' });
  const seeded = await seedTenant(database, 1);
  ({ db, tenantId } = seeded);
  sessionId = seeded.sessionIds[0]!;
  conversationId = await withTenant(db, tenantId, async (tx) => {
    const contact = await tx.contact.create({ data: { tenantId, pushName: 'Rui' } });
    await tx.contactIdentity.create({
      data: { tenantId, contactId: contact.id, kind: 'pn', value: CUSTOMER },
    });
    const conversation = await tx.conversation.create({
      data: { tenantId, sessionId, contactId: contact.id },
    });
    return conversation.id;
  });
  redis = new Redis(redisOptions());
  workerRedis = new Redis({ ...redisOptions(), maxRetriesPerRequest: null });
  await seedPairedSession({
    redis,
    keyPrefix,
    sessionId,
    epoch: 0,
    phoneNumber: '5511977770100',
    lid: '400000000000100',
  });
  queue = new Queue(QUEUE_NAMES.sessionCommands(sessionId), {
    connection: redis,
    prefix: queuePrefix(keyPrefix),
  });
  const presence = new PresenceRelay({
    db,
    redis,
    tenantId,
    keyPrefix,
    onError: (error, context) => errors.push(`${context.what}: ${String(error)}`),
  });
  runtime = new SessionRuntime({
    redis,
    db,
    tenantId,
    keyPrefix,
    workerId: 'receipts-worker',
    maxSessions: 10,
    leaseTtlMs: 3000,
    commands: { connection: workerRedis },
    onError: (error, context) => errors.push(`${context.what}: ${String(error)}`),
    createChannel: standInChannelFactory({
      redis,
      keyPrefix,
      onStandIn: (id, standIn) => standIns.set(id, standIn),
    }),
    attach: async (session, channel) => {
      const detach = presence.attach(session.sessionId, channel);
      return async () => detach();
    },
  });
  runtime.start();
  await eventually('the session open', () => runtime.sessions().length === 1, 10_000);
  (await standIns.get(sessionId)!.socket(1)).open();
  await eventually(
    'connected',
    async () =>
      (await withTenant(db, tenantId, (tx) => tx.session.findUniqueOrThrow({ where: { id: sessionId } })))
        .state === 'connected',
    10_000,
  );
});

afterAll(async () => {
  await runtime?.stop().catch(() => undefined);
  await queue?.close();
  redis?.disconnect();
  workerRedis?.disconnect();
  await db?.$disconnect();
  await database?.drop();
});

describe('read receipts and typing on a Baileys session', () => {
  it('a conversation-opened command reads exactly the given messages and subscribes to presence', async () => {
    const command: SessionCommand = {
      type: 'conversation-opened',
      tenantId,
      sessionId,
      conversationId,
      chat: CUSTOMER,
      read: ['3EB0AAA1', '3EB0AAA2'],
      requestedBy: 'user:test',
    };
    const job = await queue.add(command.type, command, {
      jobId: sessionCommandJobId(command),
      removeOnFail: false,
    });
    await eventually('the job completed', async () => (await job.getState()) === 'completed', 10_000);
    const socket = standIns.get(sessionId)!.current;
    expect(socket.readKeys).toEqual([
      { remoteJid: CUSTOMER_JID, id: '3EB0AAA1', fromMe: false },
      { remoteJid: CUSTOMER_JID, id: '3EB0AAA2', fromMe: false },
    ]);
    expect(socket.presenceSubscriptions).toEqual([CUSTOMER_JID]);
    expect(errors).toEqual([]);
  });

  it("publishes the customer's composing and paused as conversation.typing on the realtime stream", async () => {
    const socket = standIns.get(sessionId)!.current;
    socket.presence({ id: CUSTOMER_JID, presences: { [CUSTOMER_JID]: { lastKnownPresence: 'composing' } } });
    await eventually('typing published', async () => (await typingEvents()).length === 1, 5_000);
    socket.presence({ id: CUSTOMER_JID, presences: { [CUSTOMER_JID]: { lastKnownPresence: 'paused' } } });
    await eventually('paused published', async () => (await typingEvents()).length === 2, 5_000);
    expect(await typingEvents()).toEqual([
      { conversationId, sessionId, state: 'typing' },
      { conversationId, sessionId, state: 'paused' },
    ]);
    // A chat with no conversation here publishes nothing.
    const stranger = '5511900009999@s.whatsapp.net';
    socket.presence({ id: stranger, presences: { [stranger]: { lastKnownPresence: 'composing' } } });
    socket.presence({ id: CUSTOMER_JID, presences: { [CUSTOMER_JID]: { lastKnownPresence: 'composing' } } });
    await eventually('the next typing published', async () => (await typingEvents()).length === 3, 5_000);
    expect((await typingEvents()).map((e) => e.conversationId)).toEqual([
      conversationId,
      conversationId,
      conversationId,
    ]);
    expect(errors).toEqual([]);
  });

  it("subscribes to the chat's presence when the customer writes (once per chat and period)", async () => {
    const socket = standIns.get(sessionId)!.current;
    const before = socket.presenceSubscriptions.length;
    const other = '5511977770102@s.whatsapp.net';
    const text = (jid: string) =>
      wireMessage({ key: { remoteJid: jid, id: messageId() }, message: { conversation: 'oi' } });
    socket.receive([text(other)]);
    await eventually('subscribed', () => socket.presenceSubscriptions.length === before + 1, 5_000);
    socket.receive([text(other)]);
    socket.receive([text(CUSTOMER_JID)]);
    await eventually(
      'subscribed to the second chat',
      () => socket.presenceSubscriptions.length === before + 2,
      5_000,
    );
    expect(socket.presenceSubscriptions.slice(before)).toEqual([other, CUSTOMER_JID]);
  });
});
