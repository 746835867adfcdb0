import { type Db, withTenant } from '@switchboard/db';
import { newSealingKeyEntry, SealingKeyring, sealSecret } from '@switchboard/secrets';
import { freePort, redisNamespace } from '@switchboard/testing';
import type { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WEBHOOK_SECRET_PURPOSE } from '../contracts.ts';
import { eventually } from '../testing/fixtures.ts';
import {
  startWebhookDeliveries,
  startWebhookReceiver,
  type WebhookDeliveries,
  type WebhookReceiver,
} from '../testing/webhooks.ts';
import { enqueueWebhookEvent } from './enqueue.ts';
import type { WebhookRetryPolicy } from './schedule.ts';
import { resealWebhookSecrets, subscriptionSecretResolver } from './sealed-secrets.ts';
import { verifyWebhookSignature, WEBHOOK_HEADERS } from './signature.ts';

// A key rotation of SEALING_KEYS with deliveries going on: sealed with k1, read during the switch
// (k2,k1), re-sealed, then read with k2 alone; and the migration from INTERNAL_TOKEN.

const fast: WebhookRetryPolicy = { attempts: 200, baseDelayMs: 20, maxDelayMs: 100, jitter: 0.2 };
const k1 = newSealingKeyEntry('k1');
const k2 = newSealingKeyEntry('k2');
const INTERNAL_TOKEN = 'internal-token-0123456789abcdef';

let testbed: WebhookDeliveries;
let db: Db;
let tenantId: string;
const namespace = redisNamespace('webhook-sealing');
let queue: Queue;
let receiver: WebhookReceiver;
let port: number;
/** What the worker holds; each step of the rotation replaces it, as a rollout with a new SEALING_KEYS would. */
let keyring: SealingKeyring;

beforeAll(async () => {
  testbed = await startWebhookDeliveries({
    label: 'messaging-webhook-sealing',
    sessions: 0,
    namespace,
    retry: fast,
    resolveSecret: (subscription) =>
      subscriptionSecretResolver({
        keyring,
        resolveReference: async () => {
          throw new Error('no references in this test');
        },
      })(subscription),
  });
  ({ db, tenantId, queue } = testbed);
  port = await freePort();
  receiver = await startWebhookReceiver(port);
  await testbed.worker.start();
});

afterAll(async () => {
  await receiver?.close();
  await testbed?.stop();
});

async function subscribe(path: string, sealed: Uint8Array): Promise<string> {
  const row = await withTenant(db, tenantId, (tx) =>
    tx.webhookSubscription.create({
      data: {
        tenantId,
        url: `http://127.0.0.1:${port}${path}`,
        events: [path.slice(1)],
        secretCiphertext: sealed as Uint8Array<ArrayBuffer>,
      },
    }),
  );
  return row.id;
}

async function deliveryOf(id: string) {
  return await withTenant(db, tenantId, (tx) => tx.webhookDelivery.findUniqueOrThrow({ where: { id } }));
}

/** Enqueues an event for the subscription at `path`, waits for its delivery, checks the signature. */
async function deliver(path: string, secret: string): Promise<void> {
  const type = path.slice(1);
  const [id] = await enqueueWebhookEvent(db, queue, tenantId, { type, data: {}, at: new Date() }, fast);
  await eventually(async () => (await deliveryOf(id!)).status === 'succeeded');
  const { eventId } = await deliveryOf(id!);
  const request = receiver.received.find((r) => JSON.parse(r.body).id === eventId);
  expect(request).toBeDefined();
  expect(
    verifyWebhookSignature({
      secret,
      timestamp: request!.headers[WEBHOOK_HEADERS.timestamp.toLowerCase()] as string,
      signature: request!.headers[WEBHOOK_HEADERS.signature.toLowerCase()] as string,
      rawBody: request!.body,
    }).ok,
  ).toBe(true);
}

async function storedKeyId(subscriptionId: string): Promise<string | null> {
  const row = await withTenant(db, tenantId, (tx) =>
    tx.webhookSubscription.findUniqueOrThrow({ where: { id: subscriptionId } }),
  );
  return SealingKeyring.keyIdOf(row.secretCiphertext!);
}

describe('webhook secrets through a SEALING_KEYS rotation', () => {
  it('delivers with k1, during k2,k1, after the re-seal with k2 alone', async () => {
    keyring = SealingKeyring.parse(k1);
    const secret = 'whsec_rotation_0123456789';
    const id = await subscribe('/rotation', keyring.seal(secret, WEBHOOK_SECRET_PURPOSE));
    await deliver('/rotation', secret);

    keyring = SealingKeyring.parse(`${k2},${k1}`);
    await deliver('/rotation', secret);
    expect(await storedKeyId(id)).toBe('k1');

    const first = await resealWebhookSecrets(db, tenantId, keyring);
    expect(first).toMatchObject({ resealed: 1, unreadable: [] });
    expect(await storedKeyId(id)).toBe('k2');
    // Idempotent: a second run (another worker starting) finds everything current.
    expect(await resealWebhookSecrets(db, tenantId, keyring)).toMatchObject({ resealed: 0, unreadable: [] });

    keyring = SealingKeyring.parse(k2);
    await deliver('/rotation', secret);
  });

  it('records a secret it cannot open on the delivery and retries it, delivering once the key is back', async () => {
    keyring = SealingKeyring.parse(k1);
    const secret = 'whsec_early_drop_0123456789';
    await subscribe('/early', keyring.seal(secret, WEBHOOK_SECRET_PURPOSE));
    // k1 dropped before anything was re-sealed: the attempt fails with a reason on the row.
    keyring = SealingKeyring.parse(k2);
    const [id] = await enqueueWebhookEvent(
      db,
      queue,
      tenantId,
      { type: 'early', data: {}, at: new Date() },
      fast,
    );
    await eventually(async () => (await deliveryOf(id!)).attempts >= 1);
    const failed = await deliveryOf(id!);
    expect(failed.status).toBe('pending');
    expect(failed.lastError).toContain('signing secret unreadable');
    expect(failed.lastError).toContain('key id "k1"');
    expect(failed.lastError).not.toContain(secret);
    // The key put back (k2,k1): the retried job delivers.
    keyring = SealingKeyring.parse(`${k2},${k1}`);
    await eventually(async () => (await deliveryOf(id!)).status === 'succeeded');
    expect(await resealWebhookSecrets(db, tenantId, keyring)).toMatchObject({ resealed: 1, unreadable: [] });
  });

  it('reads secrets INTERNAL_TOKEN sealed before SEALING_KEYS, re-seals them, then needs no INTERNAL_TOKEN', async () => {
    const secret = 'whsec_legacy_0123456789';
    const id = await subscribe('/legacy', sealSecret(secret, INTERNAL_TOKEN, WEBHOOK_SECRET_PURPOSE));
    keyring = SealingKeyring.parse(k2, { legacyKeyMaterial: INTERNAL_TOKEN });
    await deliver('/legacy', secret);
    const result = await resealWebhookSecrets(db, tenantId, keyring);
    expect(result.unreadable).toEqual([]);
    expect(await storedKeyId(id)).toBe('k2');
    keyring = SealingKeyring.parse(k2);
    await deliver('/legacy', secret);
  });
});
