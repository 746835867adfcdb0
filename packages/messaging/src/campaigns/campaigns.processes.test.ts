// kill -9 of the campaign runner process in the middle of a campaign, between a batch's commit
// and the enqueue of its jobs, then a restart: every recipient gets exactly one message, sent to
// the Cloud API emulator once (a real CloudApiChannel in an outbound worker process), and the
// recipients' results follow the emulator's statuses (sent, delivered, read) through the receipts
// path. The contact who replied STOP gets nothing and is reported `skipped: opted_out`. Real
// Postgres, Redis and BullMQ.
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseCloudApiWebhook } from '@switchboard/channels';
import { type CloudApiEmulator, createCloudApiEmulator } from '@switchboard/cloud-api-emulator';
import { type Db, withTenant } from '@switchboard/db';
import { createTestDatabase, redisNamespace, redisOptions, type TestDatabase } from '@switchboard/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyReceipt } from '../inbound/receipts.ts';
import { eventually, seedTenant } from '../testing/fixtures.ts';
import { campaignIdempotencyKey, createRecipients } from './campaigns.ts';

const runnerScript = fileURLToPath(new URL('../testing/campaign-runner-process.ts', import.meta.url));
const cloudScript = fileURLToPath(new URL('../testing/cloud-api-outbound-worker.ts', import.meta.url));
const accessToken = 'campaign-proc-token';
const phoneNumberId = '106540352243111';
const namespace = redisNamespace('campaign-proc');
const keyPrefix = `${namespace.prefix}:`;
const heldKey = `${keyPrefix}test:held`;
const children: ChildProcess[] = [];
let database: TestDatabase;
let db: Db;
let tenantId: string;
let sessionId: string;
let redis: Redis;
let emulator: CloudApiEmulator;
let receiver: Server;

beforeAll(async () => {
  database = await createTestDatabase({ label: 'messaging-campaign-proc' });
  const seeded = await seedTenant(database, 0);
  db = seeded.db;
  tenantId = seeded.tenantId;
  sessionId = await withTenant(db, tenantId, async (tx) => {
    const session = await tx.session.create({ data: { tenantId, name: 'cloud', channel: 'cloud_api' } });
    return session.id;
  });
  redis = new Redis({ ...redisOptions(), maxRetriesPerRequest: null });
  // The webhook receiver: the inbound path of receipts (parse, then applyReceipt).
  receiver = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    request.on('end', () => {
      void (async () => {
        const parsed = parseCloudApiWebhook(JSON.parse(body), {
          sessionsByPhoneNumberId: { [phoneNumberId]: sessionId },
        });
        for (const event of parsed.events)
          if (event.event === 'receipt') await applyReceipt(db, tenantId, event.payload);
        response.writeHead(200).end();
      })().catch(() => response.writeHead(500).end());
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  emulator = await createCloudApiEmulator({
    accessToken,
    appSecret: 'campaign-proc-secret',
    webhookUrl: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`,
    phoneNumbers: [{ id: phoneNumberId, displayPhoneNumber: '15551238888' }],
    statuses: { mode: 'auto', delaysMs: { sent: 0, delivered: 0, read: 0 } },
  });
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await emulator?.close();
  await new Promise((resolve) => receiver?.close(resolve));
  redis?.disconnect();
  await namespace.cleanup();
  await db?.$disconnect();
  await database?.drop();
});

async function spawnProcess(path: string, env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, [path], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`${path} exited (${code}): ${stderr}`)));
  });
  return child;
}

function startRunner(holdAfterBatches: number): Promise<ChildProcess> {
  return spawnProcess(runnerScript, {
    CAMPAIGN_RUNNER: JSON.stringify({
      redis: redisOptions(),
      databaseUrl: database.appUrl,
      tenantId,
      keyPrefix,
      batchSize: 5,
      heldKey,
      holdAfterBatches,
    }),
  });
}

async function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
}

describe('a campaign across a runner crash', () => {
  it('sends every recipient exactly one message after kill -9 and restart', { timeout: 90_000 }, async () => {
    const total = 23;
    const phones = Array.from({ length: total }, (_, i) => `4917200000${String(i).padStart(3, '0')}`);
    const { campaignId, contactIds, stopped } = await withTenant(db, tenantId, async (tx) => {
      const ids: string[] = [];
      for (const phone of phones) {
        const contact = await tx.contact.create({ data: { tenantId, displayName: `C ${phone}` } });
        await tx.contactIdentity.create({
          data: { tenantId, contactId: contact.id, kind: 'pn', value: phone },
        });
        ids.push(contact.id);
      }
      // The last contact replied STOP before the campaign.
      const stoppedId = ids.at(-1)!;
      const conversation = await tx.conversation.create({
        data: { tenantId, sessionId, contactId: stoppedId },
      });
      await tx.message.create({
        data: {
          tenantId,
          sessionId,
          conversationId: conversation.id,
          direction: 'inbound',
          status: 'delivered',
          type: 'text',
          body: 'STOP',
        },
      });
      const imported = await tx.contactImport.create({
        data: { tenantId, fileName: 'proc.csv', contactIds: ids, totalRows: total },
      });
      const segment = { type: 'import' as const, importId: imported.id };
      const campaign = await tx.campaign.create({
        data: {
          tenantId,
          name: 'crash',
          sessionId,
          template: { name: 'launch', language: 'en_US', components: [], body: 'We launched' },
          segment,
          perMinute: 6000,
        },
      });
      await createRecipients(tx, tenantId, campaign.id, segment);
      return { campaignId: campaign.id, contactIds: ids, stopped: stoppedId };
    });

    const sender = await spawnProcess(cloudScript, {
      CLOUD_API_OUTBOUND_WORKER: JSON.stringify({
        redis: redisOptions(),
        databaseUrl: database.appUrl,
        tenantId,
        sessionId,
        keyPrefix,
        epoch: '1',
        graphUrl: emulator.url,
        accessToken,
        phoneNumberId,
        acceptedKey: `${keyPrefix}test:accepted`,
        hold: false,
        unknownOutcomeTimeoutMs: 3_600_000,
      }),
    });

    // The first runner queues one batch, commits the second and is held before adding its jobs: kill -9.
    const first = await startRunner(2);
    await eventually(async () => (await redis.llen(heldKey)) === 1);
    await stop(first, 'SIGKILL');
    const held = JSON.parse((await redis.lrange(heldKey, 0, -1))[0]!) as string[];
    expect(held).toHaveLength(5);
    const recipients = () =>
      withTenant(db, tenantId, (tx) => tx.campaignRecipient.findMany({ where: { campaignId } }));
    expect((await recipients()).filter((r) => r.state === 'queued')).toHaveLength(10);

    // The restart adds the held batch's jobs and finishes the campaign.
    const second = await startRunner(0);
    const messages = () =>
      withTenant(db, tenantId, (tx) =>
        tx.message.findMany({ where: { idempotencyKey: { startsWith: `campaign:${campaignId}:` } } }),
      );
    await eventually(async () => {
      const rows = await messages();
      return rows.length === total - 1 && rows.every((m) => m.status === 'read');
    }, 100);
    await stop(second, 'SIGTERM');
    await stop(sender, 'SIGTERM');

    // One message per recipient, keyed by (campaign, contact); the opted-out contact has none.
    const rows = await messages();
    expect(rows.map((m) => m.idempotencyKey).sort()).toEqual(
      contactIds
        .filter((id) => id !== stopped)
        .map((id) => campaignIdempotencyKey(campaignId, id))
        .sort(),
    );
    // The emulator received each phone exactly once, the template by name.
    const sent = (await (await fetch(`${emulator.url}/_emulator/sent`)).json()) as {
      messages: { to: string; request: { type: string; template?: { name: string } } }[];
    };
    expect(sent.messages.map((m) => m.to).sort()).toEqual(phones.slice(0, -1).sort());
    expect(
      sent.messages.every((m) => m.request.type === 'template' && m.request.template?.name === 'launch'),
    ).toBe(true);
    const final = await recipients();
    expect(final.find((r) => r.contactId === stopped)).toMatchObject({
      state: 'skipped',
      reason: 'opted_out',
    });
    expect(final.filter((r) => r.state === 'queued')).toHaveLength(total - 1);
    const campaign = await withTenant(db, tenantId, (tx) =>
      tx.campaign.findUniqueOrThrow({ where: { id: campaignId } }),
    );
    expect(campaign.status).toBe('completed');
  });
});
