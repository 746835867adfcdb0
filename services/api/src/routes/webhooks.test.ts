import { randomUUID } from 'node:crypto';
import { withTenant } from '@switchboard/db';
import { QUEUE_NAMES, queuePrefix, WEBHOOK_SECRET_PURPOSE } from '@switchboard/messaging/producer';
import { openSealedSecret, SealingKeyring } from '@switchboard/secrets';
import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import {
  app,
  bearer,
  db,
  INTERNAL_TOKEN,
  redis,
  SEALING_KEYS,
  seeded,
  setupApi,
  slugA,
  tokenFor,
} from '../testing/api-fixture.ts';

setupApi();

describe('webhook subscriptions', () => {
  it('shows the secret once, stores it sealed so the workers can open it, and replays a failed delivery onto the queue', async () => {
    const admin = await tokenFor('a', 'admin');
    const created = await app.inject({
      method: 'POST',
      url: '/v1/webhooks',
      headers: bearer(admin),
      payload: { url: 'https://a.example/hooks', events: ['message.received'], description: 'CRM' },
    });
    expect(created.statusCode).toBe(201);
    const hook = created.json();
    expect(hook.secret).toMatch(/^whsec_/);
    const row = await withTenant(db, seeded.a.tenantId, (tx) =>
      tx.webhookSubscription.findUniqueOrThrow({ where: { id: hook.id } }),
    );
    expect(row.secretRef).toBeNull();
    expect(Buffer.from(row.secretCiphertext!).toString('latin1')).not.toContain(hook.secret);
    // Sealed with SEALING_KEYS' current key, which the row names; INTERNAL_TOKEN plays no part.
    expect(SealingKeyring.keyIdOf(row.secretCiphertext!)).toBe('k1');
    expect(SealingKeyring.parse(SEALING_KEYS).open(row.secretCiphertext!, WEBHOOK_SECRET_PURPOSE)).toBe(
      hook.secret,
    );
    expect(() => openSealedSecret(row.secretCiphertext!, INTERNAL_TOKEN, WEBHOOK_SECRET_PURPOSE)).toThrow();

    const listed = await app.inject({ method: 'GET', url: '/v1/webhooks', headers: bearer(admin) });
    expect(listed.json().items.map((i: { id: string }) => i.id)).toContain(hook.id);
    expect(listed.body).not.toContain(hook.secret);

    const refused = await app.inject({
      method: 'POST',
      url: '/v1/webhooks',
      headers: bearer(admin),
      payload: { url: 'http://intranet.example/hooks', events: ['*'] },
    });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().error.issues[0].path).toBe('body.url');
    const viewer = await app.inject({
      method: 'GET',
      url: '/v1/webhooks',
      headers: bearer(await tokenFor('a', 'viewer')),
    });
    expect(viewer.statusCode).toBe(403);

    const failed = await withTenant(db, seeded.a.tenantId, (tx) =>
      tx.webhookDelivery.create({
        data: {
          tenantId: seeded.a.tenantId,
          subscriptionId: hook.id,
          eventId: randomUUID(),
          eventType: 'message.received',
          payload: {},
          status: 'failed',
          attempts: 15,
          lastError: 'HTTP 500',
        },
      }),
    );
    const log = await app.inject({
      method: 'GET',
      url: `/v1/webhooks/${hook.id}/deliveries`,
      headers: bearer(admin),
    });
    expect(log.json().items).toMatchObject([
      { id: failed.id, status: 'failed', attempts: 15, lastError: 'HTTP 500' },
    ]);
    const replayed = await app.inject({
      method: 'POST',
      url: `/v1/webhooks/deliveries/${failed.id}/replay`,
      headers: bearer(admin),
    });
    expect(replayed.statusCode).toBe(202);
    expect(replayed.json()).toMatchObject({ status: 'pending', lastError: null, attempts: 15 });
    const queue = new Queue(QUEUE_NAMES.webhookDeliveries, {
      connection: redis,
      prefix: queuePrefix(`sb:${slugA}:`),
    });
    const jobs = await queue.getJobs(['waiting', 'delayed', 'prioritized']);
    await queue.close();
    expect(jobs.map((job) => job.data)).toContainEqual({
      tenantId: seeded.a.tenantId,
      deliveryId: failed.id,
    });

    const removed = await app.inject({
      method: 'DELETE',
      url: `/v1/webhooks/${hook.id}`,
      headers: bearer(admin),
    });
    expect(removed.statusCode).toBe(204);
    expect(
      await withTenant(db, seeded.a.tenantId, (tx) => tx.webhookDelivery.count({ where: { id: failed.id } })),
    ).toBe(0);
  });
});

describe('webhook subscription input found by fuzzing', () => {
  it('answers 4xx, never 5xx, to a long url', async () => {
    const admin = await tokenFor('a', 'admin');
    const urls = [1_500, 1_999, 2_500].flatMap((length) => [
      `https://a.example/${'x'.repeat(length - 'https://a.example/'.length)}`,
      `https://${'a'.repeat(length - 'https://.example/'.length)}.example/`,
      `https://${'a.'.repeat((length - 'https://example/'.length) / 2)}example/`,
      `https://a.example/?q=${'%41'.repeat((length - 'https://a.example/?q='.length) / 3)}`,
    ]);
    for (const url of urls) {
      const length = url.length;
      const res = await app.inject({
        method: 'POST',
        url: '/v1/webhooks',
        headers: bearer(admin),
        payload: { url, events: ['*'] },
      });
      expect(res.statusCode, `length ${length}: ${res.body}`).toBeLessThan(500);
    }
  });

  it('names body.url when it is no URL at all, on create and on change', async () => {
    const admin = await tokenFor('a', 'admin');
    const created = await app.inject({
      method: 'POST',
      url: '/v1/webhooks',
      headers: bearer(admin),
      payload: { url: 'https://a.example/hooks', events: ['*'] },
    });
    expect(created.statusCode).toBe(201);
    for (const url of ['a'.repeat(2_500), 'not a url', 'a']) {
      for (const [method, path] of [
        ['POST', '/v1/webhooks'],
        ['PATCH', `/v1/webhooks/${created.json().id}`],
      ] as const) {
        const res = await app.inject({
          method,
          url: path,
          headers: bearer(admin),
          payload: { url, events: ['*'] },
        });
        expect(res.statusCode, `${method} ${url.slice(0, 20)}: ${res.body}`).toBe(400);
        expect(res.json().error.issues.map((i: { path: string }) => i.path)).toContain('body.url');
      }
    }
  });
});

describe('webhook receivers at internal addresses', () => {
  it('refuses loopback, private and names resolving to loopback with 422 naming the address', async () => {
    const admin = await tokenFor('a', 'admin');
    for (const url of [
      'http://127.0.0.1/hooks',
      'https://10.0.0.1/hooks',
      'https://169.254.169.254/latest',
      'https://[::1]/hooks',
      'https://[fd00::1]/hooks',
      'https://[::ffff:127.0.0.1]/hooks',
      'https://localhost/hooks',
      'http://localhost:8080/hooks',
    ]) {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/webhooks',
        headers: bearer(admin),
        payload: { url, events: ['*'] },
      });
      expect(res.statusCode, url).toBe(422);
      expect(res.json().error.code).toBe('webhook_receiver_refused');
      expect(res.json().error.issues[0].path).toBe('body.url');
    }
    // A public address is accepted; changing it to an internal one is refused the same way.
    const created = await app.inject({
      method: 'POST',
      url: '/v1/webhooks',
      headers: bearer(admin),
      payload: { url: 'https://93.184.215.14/hooks', events: ['*'] },
    });
    expect(created.statusCode).toBe(201);
    const changed = await app.inject({
      method: 'PATCH',
      url: `/v1/webhooks/${created.json().id}`,
      headers: bearer(admin),
      payload: { url: 'https://192.168.1.10/hooks' },
    });
    expect(changed.statusCode).toBe(422);
  });
});
