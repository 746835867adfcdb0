import { createHash, createHmac } from 'node:crypto';
import { cloudApiInboundJobSchema, QUEUE_NAMES, queuePrefix } from '@switchboard/messaging/producer';
import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { app, CLOUD_SECRET, redis, seeded, setupApi, slugA, tenantQueue } from '../testing/api-fixture.ts';
import { appSecretFor } from './cloud-api-webhook.ts';

setupApi();

describe('Cloud API webhook', () => {
  it('answers the handshake only with the verify token', async () => {
    const ok = await app.inject({
      method: 'GET',
      url: '/webhooks/cloud-api?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=12345',
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toBe('12345');
    const bad = await app.inject({
      method: 'GET',
      url: '/webhooks/cloud-api?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1',
    });
    expect(bad.statusCode).toBe(403);
  });

  it('checks the signature over the raw body and enqueues one job per delivery', async () => {
    // Spacing Meta might use: re-serializing would change the bytes and break the signature.
    const raw = '{"object":"whatsapp_business_account",  "entry":[{"id":"1","changes":[]}]}';
    const signature = `sha256=${createHmac('sha256', CLOUD_SECRET).update(raw).digest('hex')}`;
    const post = (sig: string | undefined) =>
      app.inject({
        method: 'POST',
        url: '/webhooks/cloud-api',
        payload: raw,
        headers: { 'content-type': 'application/json', ...(sig ? { 'x-hub-signature-256': sig } : {}) },
      });
    expect((await post(undefined)).statusCode).toBe(401);
    expect((await post(`sha256=${'0'.repeat(64)}`)).statusCode).toBe(401);
    expect((await post(signature)).json()).toEqual({ received: true });
    expect((await post(signature)).statusCode).toBe(200);
    const queue = new Queue(QUEUE_NAMES.cloudApiInbound, {
      connection: redis,
      prefix: queuePrefix(`sb:${slugA}:`),
    });
    try {
      const jobs = await queue.getJobs(['waiting', 'active', 'delayed', 'prioritized']);
      expect(jobs).toHaveLength(1);
      expect(jobs[0]!.id).toBe(createHash('sha256').update(raw).digest('hex'));
      const job = cloudApiInboundJobSchema.parse(jobs[0]!.data);
      expect(job.tenantId).toBe(seeded.a.tenantId);
      expect(job.payload).toEqual(JSON.parse(raw));
    } finally {
      await queue.close();
    }
  });
});

describe('Cloud API webhook secrets per number', () => {
  const delivery = (...numbers: string[]) =>
    JSON.stringify({
      object: 'whatsapp_business_account',
      entry: numbers.map((n, i) => ({
        id: `waba-${i}`,
        changes: [
          { field: 'messages', value: { messaging_product: 'whatsapp', metadata: { phone_number_id: n } } },
        ],
      })),
    });
  const post = (raw: string, secret: string) =>
    app.inject({
      method: 'POST',
      url: '/webhooks/cloud-api',
      payload: raw,
      headers: {
        'content-type': 'application/json',
        'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`,
      },
    });

  it("verifies each number's delivery with that number's app secret, the global one only for undeclared numbers", async () => {
    const one = delivery('1001');
    expect((await post(one, 'secret-of-app-1')).statusCode).toBe(200);
    expect((await post(one, CLOUD_SECRET)).statusCode).toBe(401);
    expect((await post(one, 'secret-of-app-2')).statusCode).toBe(401);
    const undeclared = delivery('5550001');
    expect((await post(undeclared, CLOUD_SECRET)).statusCode).toBe(200);
    expect((await post(undeclared, 'secret-of-app-1')).statusCode).toBe(401);
    const sameNumberTwice = delivery('1001', '1001');
    expect((await post(sameNumberTwice, 'secret-of-app-1')).statusCode).toBe(200);
    const queue = tenantQueue(QUEUE_NAMES.cloudApiInbound);
    try {
      for (const raw of [one, undeclared, sameNumberTwice]) {
        const job = await queue.getJob(createHash('sha256').update(raw).digest('hex'));
        expect(job?.data.payload).toEqual(JSON.parse(raw));
      }
    } finally {
      await queue.close();
    }
  });

  it('refuses a delivery spanning numbers of different apps, whichever secret signed it', async () => {
    for (const raw of [delivery('1001', '1002'), delivery('1001', '5550001')]) {
      for (const secret of ['secret-of-app-1', 'secret-of-app-2', CLOUD_SECRET]) {
        const res = await post(raw, secret);
        expect(res.statusCode, `${raw} with ${secret}`).toBe(401);
      }
    }
  });

  it('answers the handshake with a declared number’s verify token too', async () => {
    const res = await app.inject({
      method: 'GET',
      url: '/webhooks/cloud-api?hub.mode=subscribe&hub.verify_token=verify-1002&hub.challenge=42',
    });
    expect(res.body).toBe('42');
  });

  it('picks no secret for an undeclared number when there is no fallback', () => {
    const numbers = new Map([['1001', { appSecret: 's1', verifyToken: 'v1' }]]);
    expect(appSecretFor(['1001'], { numbers })).toBe('s1');
    expect(appSecretFor(['9999'], { numbers })).toBeUndefined();
    expect(appSecretFor([], { numbers })).toBeUndefined();
    expect(appSecretFor(undefined, { numbers, appSecret: 'g' })).toBe('g');
    expect(appSecretFor(['1001', '9999'], { numbers, appSecret: 's1' })).toBe('s1');
  });

  it('refuses a validly signed delivery nested 5,000 levels deep with a 400, not a 5xx', async () => {
    const raw = `{"object":"whatsapp_business_account","entry":[{"id":"x","deep":${'['.repeat(5000)}${']'.repeat(5000)}}]}`;
    const res = await app.inject({
      method: 'POST',
      url: '/webhooks/cloud-api',
      payload: raw,
      headers: {
        'content-type': 'application/json',
        'x-hub-signature-256': `sha256=${createHmac('sha256', CLOUD_SECRET).update(raw).digest('hex')}`,
      },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('validation_failed');
  });
});
