import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type BusinessMessage,
  type CloudApiEmulator,
  createCloudApiEmulator,
} from '@switchboard/cloud-api-emulator';
import { createDb, type Db, tenantIdForSlug, withTenant } from '@switchboard/db';
import { outboundJobOptions, QUEUE_NAMES, queuePrefix, tenantKeyPrefix } from '@switchboard/messaging';
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
import { eventually } from '../../../packages/sessions/src/testing/worker-fleet.ts';
import { type MetaReceiver, startMetaReceiver } from './testing/meta-receiver.ts';
import { probe, startWorkerProcess, type WorkerProcess, workerProcessEnv } from './testing/worker-process.ts';

const PHONE_NUMBER_ID = '106540352242922';
const TOKEN = 'EAAtest-token';
const APP_SECRET = 'app-secret-for-tests';
const CUSTOMER = '5511988887777';

let database: TestDatabase;
let db: Db;
let redis: Redis;
let dir: string;
let emulator: CloudApiEmulator;
let receiver: MetaReceiver;
let queue: Queue;
let worker: WorkerProcess | undefined;
const slug = uniquePrefix('wpipe').slice(4);
const tenantId = tenantIdForSlug(slug);
const keyPrefix = tenantKeyPrefix(slug);

beforeAll(async () => {
  database = await createTestDatabase({ label: 'worker-pipelines' });
  db = createDb({ databaseUrl: database.appUrl, maxConnections: 3 });
  redis = new Redis(redisOptions());
  dir = await mkdtemp(join(tmpdir(), 'worker-pipelines-'));
  queue = new Queue(QUEUE_NAMES.cloudApiInbound, { connection: redis, prefix: queuePrefix(keyPrefix) });
  // The API's receiver, reduced to what it must do: verify over the raw bytes, enqueue, answer.
  receiver = await startMetaReceiver({ appSecret: APP_SECRET, tenantId, queue });
  emulator = await createCloudApiEmulator({
    accessToken: TOKEN,
    appSecret: APP_SECRET,
    webhookUrl: receiver.url,
    verifyToken: 'verify',
    phoneNumbers: [{ id: PHONE_NUMBER_ID, displayPhoneNumber: '15551230000' }],
    statuses: { mode: 'auto', delaysMs: { sent: 10, delivered: 30, read: 60 } },
  });
});

afterAll(async () => {
  if (worker && worker.child.exitCode === null) worker.child.kill('SIGKILL');
  await queue?.close();
  await emulator?.close();
  await receiver?.close();
  await deleteKeysWithPrefix(redis, keyPrefix);
  redis?.disconnect();
  await db?.$disconnect();
  await database?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

// A worker process of its own (Node start-up, a claim, a connect) and then a whole round trip: its
// bounded waits add up to more than the default 30 s on a loaded 2-core machine.
describe('the worker with a Cloud API session', { timeout: 120_000 }, () => {
  it('stores a customer message once, sends the reply once through the Graph API, and follows its statuses to read', async () => {
    const env = await workerProcessEnv({
      dir,
      slug,
      databaseUrl: database.appUrl,
      sessions: [
        {
          name: 'meta',
          channel: 'cloud-api',
          phoneNumberId: PHONE_NUMBER_ID,
          credentials: {
            accessToken: 'secret://env/META_ACCESS_TOKEN',
            appSecret: 'secret://env/META_APP_SECRET',
            verifyToken: 'secret://env/META_VERIFY_TOKEN',
          },
        },
      ],
    });
    worker = startWorkerProcess({
      ...env,
      CLOUD_API_BASE_URL: emulator.url,
      META_ACCESS_TOKEN: TOKEN,
      META_APP_SECRET: APP_SECRET,
      META_VERIFY_TOKEN: 'verify',
    });
    await eventually('ready', async () => (await probe(env.METRICS_PORT!, '/readyz')).status === 200, 20_000);
    const session = await withTenant(db, tenantId, (tx) =>
      tx.session.findFirstOrThrow({ where: { name: 'meta' } }),
    );
    await eventually(
      'connected',
      async () =>
        (await withTenant(db, tenantId, (tx) => tx.session.findUniqueOrThrow({ where: { id: session.id } })))
          .state === 'connected',
      15_000,
    );

    // The customer writes; Meta's retry of the same delivery is the same job and stores nothing more.
    const sent = await fetch(`${emulator.url}/_emulator/customer/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ from: CUSTOMER, name: 'Ana', type: 'text', text: 'Olá, preciso de ajuda' }),
    });
    expect(sent.status).toBe(200);
    const { id: wamid } = (await sent.json()) as { id: string };
    await fetch(`${emulator.url}/_emulator/webhooks/raw`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ payload: { object: 'whatsapp_business_account', entry: [] } }),
    });
    await eventually(
      'the inbound message stored',
      async () =>
        (await withTenant(db, tenantId, (tx) =>
          tx.message.count({ where: { providerMessageId: wamid } }),
        )) === 1,
      15_000,
    );
    const inbound = await withTenant(db, tenantId, (tx) =>
      tx.message.findFirstOrThrow({
        where: { providerMessageId: wamid },
        include: { conversation: { include: { contact: { include: { identities: true } } } } },
      }),
    );
    expect(inbound).toMatchObject({
      direction: 'inbound',
      type: 'text',
      body: 'Olá, preciso de ajuda',
      sessionId: session.id,
    });
    expect(inbound.conversation.unreadCount).toBe(1);
    expect(inbound.conversation.contact.pushName).toBe('Ana');
    expect(inbound.conversation.contact.identities.map((i) => [i.kind, i.value])).toEqual([['pn', CUSTOMER]]);

    // The reply, as the API stores and enqueues it.
    const reply = await withTenant(db, tenantId, (tx) =>
      tx.message.create({
        data: {
          tenantId,
          sessionId: session.id,
          conversationId: inbound.conversationId,
          direction: 'outbound',
          status: 'queued',
          type: 'text',
          body: 'Claro! Em que posso ajudar?',
          idempotencyKey: 'reply-1',
        },
      }),
    );
    const outbound = new Queue(QUEUE_NAMES.outbound(session.id), {
      connection: redis,
      prefix: queuePrefix(keyPrefix),
    });
    const job = { kind: 'send' as const, tenantId, messageId: reply.id };
    await outbound.add('send', job, outboundJobOptions(job));
    await outbound.add('send', job, outboundJobOptions(job)); // a retried request: the same jobId
    await outbound.close();

    await eventually(
      'the reply read',
      async () =>
        (await withTenant(db, tenantId, (tx) => tx.message.findUniqueOrThrow({ where: { id: reply.id } })))
          .status === 'read',
      15_000,
    );
    const { messages: list } = (await (
      await fetch(`${emulator.url}/_emulator/sent?to=${CUSTOMER}`)
    ).json()) as {
      messages: BusinessMessage[];
    };
    expect(list).toHaveLength(1);
    expect(list[0]!.request).toMatchObject({ type: 'text', text: { body: 'Claro! Em que posso ajudar?' } });
    const stored = await withTenant(db, tenantId, (tx) =>
      tx.message.findUniqueOrThrow({
        where: { id: reply.id },
        include: { statusEvents: { orderBy: { occurredAt: 'asc' } } },
      }),
    );
    expect(stored.providerMessageId).toBe(list[0]!.id);
    // Meta's statuses may be processed out of order (the payload consumer runs 4 at a time): the
    // history holds each status the message moved through once (Meta's times are whole seconds,
    // so their order cannot be read back), and every time is set.
    const history = stored.statusEvents.map((e) => e.status);
    expect(stored.status).toBe('read');
    expect(history).toContain('read');
    expect(new Set(history).size).toBe(history.length);
    expect(history.every((status) => ['sent', 'delivered', 'read'].includes(status))).toBe(true);
    expect([stored.sentAt, stored.deliveredAt, stored.readAt].every((at) => at !== null)).toBe(true);
    expect(receiver.rejected()).toBe(0);

    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(worker.output()).not.toContain(TOKEN);
    expect(worker.output()).not.toContain('Olá, preciso de ajuda');
  });
});
