// The worker's session bots end to end with real Postgres, Redis and BullMQ: a customer's message
// stored by the inbound store, announced on the realtime stream by the outbox relay, offered to
// the session's bot, delivered to a local flow engine (node:http on 127.0.0.1, checking the
// signature on the raw bytes) with the bot's secret sealed under SEALING_KEYS, and the engine's
// reply queued on the session's outbound queue.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Db, withTenant } from '@switchboard/db';
import {
  BOT_SECRET_PURPOSE,
  OutboxRelay,
  QUEUE_NAMES,
  queuePrefix,
  storeInbound,
  verifyWebhookSignature,
} from '@switchboard/messaging';
import { newSealingKeyEntry, SealingKeyring, SecretResolver } from '@switchboard/secrets';
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
import { botSecretResolver, SessionBots } from './bot.ts';
import { CustomerMessageReader } from './customer-messages.ts';

let database: TestDatabase;
let db: Db;
let tenantId: string;
let sessionId: string;
let redis: Redis;
let engine: Server;
const keyPrefix = `${uniquePrefix('bots')}:`;
const closers: (() => Promise<void>)[] = [];
const SECRET = 'botsec_sealed_0123456789';
const keyring = SealingKeyring.parse(newSealingKeyEntry('k1'));
const verified: string[] = [];

beforeAll(async () => {
  database = await createTestDatabase({ label: 'worker-bots' });
  const seeded = await seedTenant(database, 1);
  ({ db, tenantId } = seeded);
  sessionId = seeded.sessionIds[0]!;
  redis = new Redis({ ...redisOptions(), maxRetriesPerRequest: null });
  engine = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const check = verifyWebhookSignature({
        secret: SECRET,
        timestamp: request.headers['x-switchboard-timestamp'] as string | undefined,
        signature: request.headers['x-switchboard-signature'] as string | undefined,
        rawBody,
      });
      if (!check.ok) {
        response.writeHead(401).end();
        return;
      }
      const text = (JSON.parse(rawBody) as { data: { message: { body: string } } }).data.message.body;
      verified.push(text);
      response
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ replies: [{ type: 'text', text: `You said: ${text}` }] }));
    });
  });
  await new Promise<void>((resolve) => engine.listen(0, '127.0.0.1', resolve));
  await withTenant(db, tenantId, (tx) =>
    tx.sessionBotSettings.create({
      data: {
        tenantId,
        sessionId,
        enabled: true,
        url: `http://127.0.0.1:${(engine.address() as AddressInfo).port}/hook`,
        secretCiphertext: keyring.seal(SECRET, BOT_SECRET_PURPOSE) as Uint8Array<ArrayBuffer>,
      },
    }),
  );
});

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await new Promise<void>((resolve) => (engine ? engine.close(() => resolve()) : resolve()));
  await deleteKeysWithPrefix(redis, keyPrefix);
  redis?.disconnect();
  await db?.$disconnect();
  await database?.drop();
});

describe('botSecretResolver', () => {
  it('opens a sealed secret with the keyring and refuses one it cannot read', async () => {
    const sealed = keyring.seal(SECRET, BOT_SECRET_PURPOSE);
    const resolve = botSecretResolver(new SecretResolver(), keyring);
    expect(await resolve({ sessionId, secretRef: null, secretCiphertext: sealed })).toBe(SECRET);
    await expect(
      botSecretResolver(
        new SecretResolver(),
        undefined,
      )({ sessionId, secretRef: null, secretCiphertext: sealed }),
    ).rejects.toThrow(/no secret this worker can read/);
  });
});

describe('SessionBots', () => {
  it("answers a customer's message announced on the realtime stream through the flow engine", async () => {
    const name = `${keyPrefix.replaceAll(':', '-')}stream`;
    const stream = new Redis({ ...redisOptions(), connectionName: name });
    const relay = new OutboxRelay({ db, redis, tenantId, keyPrefix });
    closers.push(() => relay.close());
    const bots = new SessionBots({
      db,
      connection: redis,
      tenantId,
      keyPrefix,
      secrets: new SecretResolver(),
      sealingKeys: keyring,
      allowedHosts: ['127.0.0.1'],
      relay,
    });
    closers.push(() => bots.close());
    await bots.start();
    const reader = new CustomerMessageReader({
      connection: stream,
      keyPrefix,
      handlers: [{ name: 'bot dispatch', handle: (messageId) => bots.dispatch(messageId) }],
    });
    closers.push(() => reader.close());
    reader.start();
    // The reader starts at the stream's end ($): wait until its first XREAD is blocked.
    await eventually(async () => {
      const clients = (await redis.client('LIST')) as string;
      return clients.split('\n').some((line) => line.includes(`name=${name} `) && line.includes('cmd=xread'));
    });
    const stored = await storeInbound(
      db,
      tenantId,
      inboundMessage(
        sessionId,
        'BOTS-1',
        { pn: '4915200000010' },
        { type: 'text', text: 'Where is my parcel?' },
      ),
    );
    if (stored.outcome !== 'created') throw new Error('not stored');
    await relay.drain({ graceMs: 0 });
    const reply = async () =>
      await withTenant(db, tenantId, (tx) =>
        tx.message.findFirst({
          where: { direction: 'outbound', idempotencyKey: `bot:${stored.messageId}:0` },
        }),
      );
    await eventually(async () => (await reply()) !== null);
    expect(verified).toEqual(['Where is my parcel?']);
    const row = (await reply())!;
    expect(row).toMatchObject({
      body: 'You said: Where is my parcel?',
      automatedBy: 'bot',
      status: 'queued',
    });
    const outbound = new Queue(QUEUE_NAMES.outbound(sessionId), {
      connection: redis,
      prefix: queuePrefix(keyPrefix),
    });
    closers.push(() => outbound.close());
    expect(await outbound.getJob(`send-${row.id}`)).toBeDefined();
  });
});
