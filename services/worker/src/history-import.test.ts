// History on pairing, seen by the worker's automations: an imported message (InboundMessage.history)
// announces no `message.created`, so the away replier reading the realtime stream leaves it alone,
// while a live message stored after it, on the same stream, is answered. Real Postgres, Redis, BullMQ.
import type { InboundMessage } from '@switchboard/channels';
import { BaileysStandIn, messageId, wireMessage } from '@switchboard/channels/baileys/testing';
import { type Db, withTenant } from '@switchboard/db';
import { OutboxRelay, storeInbound } from '@switchboard/messaging';
import { SecretResolver } from '@switchboard/secrets';
import { createLogger } from '@switchboard/telemetry';
import {
  createTestDatabase,
  deleteKeysWithPrefix,
  redisOptions,
  type TestDatabase,
  uniquePrefix,
} from '@switchboard/testing';
import { DisconnectReason } from '@whiskeysockets/baileys';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, inboundMessage } from '../../../packages/messaging/src/testing/fixtures.ts';
import { seedTenant } from '../../../packages/sessions/src/testing/tenant-fixture.ts';
import { AwayReplier } from './away-replies.ts';
import { channelOpener } from './channels.ts';
import { CustomerMessageReader } from './customer-messages.ts';

let database: TestDatabase;
let db: Db;
let tenantId: string;
let sessionId: string;
let redis: Redis;
const keyPrefix = `${uniquePrefix('history')}:`;
const closers: (() => Promise<void>)[] = [];
const AWAY = 'Closed on Sundays.';

beforeAll(async () => {
  database = await createTestDatabase({ label: 'worker-history-import' });
  const seeded = await seedTenant(database, 1);
  ({ db, tenantId } = seeded);
  sessionId = seeded.sessionIds[0]!;
  redis = new Redis({ ...redisOptions(), maxRetriesPerRequest: null });
  await withTenant(db, tenantId, (tx) =>
    tx.businessHours.create({
      data: {
        tenantId,
        enabled: true,
        timeZone: 'UTC',
        schedule: [{ day: 'mon', open: '09:00', close: '17:00' }],
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

async function outboundTo(pn: string) {
  return await withTenant(db, tenantId, async (tx) => {
    const identity = await tx.contactIdentity.findFirstOrThrow({ where: { kind: 'pn', value: pn } });
    return await tx.message.findMany({
      where: { direction: 'outbound', conversation: { contactId: identity.contactId } },
    });
  });
}

describe('imported history and the away reply', () => {
  it('answers the live message and not the imported one before it on the stream', async () => {
    const name = `${keyPrefix.replaceAll(':', '-')}stream`;
    const stream = new Redis({ ...redisOptions(), connectionName: name });
    const replier = new AwayReplier({
      db,
      redis,
      tenantId,
      keyPrefix,
      now: () => new Date('2026-03-29T10:00:00Z'), // a Sunday: closed
    });
    closers.push(() => replier.close());
    const reader = new CustomerMessageReader({
      connection: stream,
      keyPrefix,
      handlers: [{ name: 'away reply', handle: (messageId) => replier.replyIfAway(messageId) }],
    });
    closers.push(() => reader.close());
    reader.start();
    await eventually(async () => {
      const clients = (await redis.client('LIST')) as string;
      return clients.split('\n').some((line) => line.includes(`name=${name} `) && line.includes('cmd=xread'));
    });
    const relay = new OutboxRelay({ db, redis, tenantId, keyPrefix });
    closers.push(() => relay.close());

    const imported = await storeInbound(
      db,
      tenantId,
      inboundMessage(sessionId, 'HIST-1', { pn: '4915400000001' }, undefined, {
        timestamp: new Date('2026-03-28T20:00:00Z'),
        live: false,
        history: true,
      }),
    );
    expect(imported.outcome).toBe('created');
    await relay.drain({ graceMs: 0 });
    const live = await storeInbound(
      db,
      tenantId,
      inboundMessage(sessionId, 'LIVE-1', { pn: '4915400000002' }),
    );
    expect(live.outcome).toBe('created');
    await relay.drain({ graceMs: 0 });

    // The reader handles the stream in order: once the live message is answered, the imported
    // message's events (before it) have been read too.
    await eventually(async () => (await outboundTo('4915400000002')).length === 1);
    expect((await outboundTo('4915400000002'))[0]!.body).toBe(AWAY);
    expect(await outboundTo('4915400000001')).toEqual([]);
    const awayRows = await withTenant(db, tenantId, (tx) => tx.awayReply.count());
    expect(awayRows).toBe(1);
  });
});

describe("the worker's Baileys channel", () => {
  it("imports the chats of a new pairing within the session's stored window", async () => {
    await withTenant(db, tenantId, (tx) =>
      tx.session.update({ where: { id: sessionId }, data: { historyImportDays: 3 } }),
    );
    const standIn = new BaileysStandIn();
    const open = channelOpener({
      db,
      tenantId,
      redis,
      keyPrefix,
      secrets: new SecretResolver({ providers: [] }),
      logger: createLogger({ level: 'silent', name: 'history-test' }),
      declared: new Map(),
      cloudApi: { baseUrl: 'http://127.0.0.1:9', graphVersion: 'v21.0' },
      baileysSocketFactory: standIn.factory,
    });
    await redis.set(`${keyPrefix}session:${sessionId}:fence`, '1');
    const channel = await open({
      sessionId,
      fence: { tenantId, sessionId, epoch: 1n },
      signal: new AbortController().signal,
    });
    closers.push(() => channel.disconnect());
    const messages: InboundMessage[] = [];
    channel.on('message', (m) => {
      messages.push(m);
    });
    const paired = new Promise((resolve) => channel.on('paired', resolve));
    await channel.connect();
    const socket = await standIn.socket(1);
    socket.showQr();
    socket.completePairing({ phoneNumber: '5511988880077', lid: '400000000000077' });
    await socket.close(DisconnectReason.restartRequired);
    const restarted = await standIn.socket(2);
    restarted.open();
    await paired;

    const now = Math.floor(Date.now() / 1000);
    const kept = messageId();
    restarted.ev.emit('messaging-history.set', {
      chats: [],
      contacts: [],
      messages: [
        wireMessage({
          key: { remoteJid: '4915400000009@s.whatsapp.net', id: kept },
          message: { conversation: 'two days ago' },
          timestamp: now - 2 * 86_400,
        }),
        wireMessage({
          key: { remoteJid: '4915400000009@s.whatsapp.net', id: messageId() },
          message: { conversation: 'four days ago: outside the 3 days' },
          timestamp: now - 4 * 86_400,
        }),
      ],
      isLatest: true,
      syncType: 3,
    });
    await eventually(() => messages.length > 0);
    expect(messages.map((m) => [m.providerMessageId, m.history])).toEqual([[kept, true]]);
  });
});
