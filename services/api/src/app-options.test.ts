// The app's cross-cutting options, each with its own app instance: the Redis-backed rate limit
// (shared by instances), CORS, the /metrics exposition and serving the built inbox.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDb, type Db, tenantIdForSlug, withTenant } from '@switchboard/db';
import { QUEUE_NAMES, queuePrefix } from '@switchboard/messaging/producer';
import { createMetricsRegistry } from '@switchboard/telemetry';
import {
  createTestDatabase,
  deleteKeysWithPrefix,
  redisOptions,
  type TestDatabase,
} from '@switchboard/testing';
import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type BuildAppOptions, buildApp } from './app.ts';
import { signAccessToken } from './plugins/auth.ts';

const slug = `api-opts-${randomBytes(3).toString('hex')}`;
let database: TestDatabase;
let db: Db;
let redis: Redis;
let dir: string;
const apps: FastifyInstance[] = [];

async function make(options: Partial<BuildAppOptions> = {}): Promise<FastifyInstance> {
  const app = await buildApp({
    db,
    redis,
    tenant: { slug, displayName: slug },
    jwtSigningKey: JWT_KEY,
    inboxDir: null,
    ...options,
  });
  apps.push(app);
  return app;
}

const JWT_KEY = 'k'.repeat(32);

/** An access token of a new owner of the test's tenant (the tenant row exists once an app is made). */
async function memberToken(name: string): Promise<string> {
  const tenantId = tenantIdForSlug(slug);
  const userId = await withTenant(db, tenantId, async (tx) => {
    const user = await tx.user.create({
      data: { tenantId, email: `${name}-${randomBytes(3).toString('hex')}@${slug}.test`, displayName: name },
    });
    await tx.membership.create({ data: { tenantId, userId: user.id, role: 'owner' } });
    return user.id;
  });
  // A signed-in session for the token to name (login makes one; this test signs its own token).
  const sessionId = randomUUID();
  await withTenant(db, tenantId, (tx) =>
    tx.authSession.create({
      data: { id: sessionId, tenantId, userId, browser: 'test', os: 'test', ip: '127.0.0.1' },
    }),
  );
  return signAccessToken(new TextEncoder().encode(JWT_KEY), { userId, tenantId, slug, sessionId }, 60_000);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'api-opts-'));
  database = await createTestDatabase({ label: 'api-options' });
  db = createDb({ databaseUrl: database.appUrl, applicationName: 'api-options-test' });
  redis = new Redis({ ...redisOptions(), maxRetriesPerRequest: 1 });
});

afterAll(async () => {
  for (const app of apps) await app.close();
  await deleteKeysWithPrefix(redis, `sb:${slug}:`);
  redis?.disconnect();
  await db?.$disconnect();
  await database?.drop();
  await rm(dir, { recursive: true, force: true });
});

/**
 * A Redis connection through a local TCP proxy that `cut()` severs (its sockets destroyed, new
 * connections refused), so a test sees Redis go away while the run's shared Redis stays up.
 * Connected as server.ts connects (producer role): no offline queue, a lost connection fails at once.
 */
async function cuttableRedis(): Promise<{ viaProxy: Redis; cut: () => Promise<void>; close: () => void }> {
  const sockets = new Set<Socket>();
  const proxy = createServer((client) => {
    const upstream = connect(redisOptions().port, redisOptions().host);
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const port = (proxy.address() as { port: number }).port;
  const viaProxy = new Redis({
    host: '127.0.0.1',
    port,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    lazyConnect: true,
  });
  viaProxy.on('error', () => {});
  await viaProxy.connect();
  return {
    viaProxy,
    cut: async () => {
      await new Promise<void>((resolve) => {
        proxy.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      await vi.waitFor(() => expect(viaProxy.status).not.toBe('ready'), { timeout: 5000 });
    },
    close: () => {
      viaProxy.disconnect();
      proxy.close();
    },
  };
}

describe('rate limit', () => {
  it('degrades open when Redis is gone: /livez 200, other routes not failed by the limiter', async () => {
    const { viaProxy, cut, close } = await cuttableRedis();
    try {
      const app = await make({ redis: viaProxy, rateLimitPerMinute: 100 });
      expect((await app.inject({ method: 'GET', url: '/docs/json' })).statusCode).toBe(200);
      await cut();
      const live = await app.inject({ method: 'GET', url: '/livez' });
      expect(live.statusCode).toBe(200);
      const docs = await app.inject({ method: 'GET', url: '/docs/json' });
      expect(docs.statusCode).toBe(200);
      const ready = await app.inject({ method: 'GET', url: '/readyz' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json().checks.redis).toBe('unreachable');
    } finally {
      close();
    }
  });

  it('counts per verified principal and per IP in Redis, shared by every instance, and answers 429 with Retry-After', async () => {
    const one = await make({ rateLimitPerMinute: 3 });
    const two = await make({ rateLimitPerMinute: 3 });
    const get = (app: FastifyInstance, url: string, headers: Record<string, string>, ip = '10.9.0.1') =>
      app.inject({ method: 'GET', url, headers, remoteAddress: ip });
    const [first, second] = await Promise.all([memberToken('first'), memberToken('second')]);
    const cred = { authorization: `Bearer ${first}` };
    // Alternating instances: the count lives in Redis, not in either process.
    for (const app of [one, two, one]) expect((await get(app, '/v1/auth/me', cred)).statusCode).toBe(200);
    const limited = await get(two, '/v1/auth/me', cred);
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.code).toBe('rate_limited');
    expect(limited.json().error.message).toMatch(/rate limit of \d+ requests per minute exceeded/);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // Another member from the same IP has its own count.
    expect((await get(one, '/v1/auth/me', { authorization: `Bearer ${second}` })).statusCode).toBe(200);
    // Without a credential the IP is counted.
    for (const app of [two, one, two])
      expect((await get(app, '/docs/json', {}, '10.9.0.2')).statusCode).toBe(200);
    expect((await get(one, '/docs/json', {}, '10.9.0.2')).statusCode).toBe(429);
    expect((await get(one, '/docs/json', {}, '10.9.0.3')).statusCode).toBe(200);
  });

  it('counts junk credentials against the client IP: a random header is not a fresh bucket', async () => {
    const app = await make({ rateLimitPerMinute: 3 });
    const junk = () => ({ authorization: `Bearer ${randomBytes(16).toString('hex')}` });
    const send = (url: string, headers: Record<string, string>) =>
      app.inject({ method: 'GET', url, headers, remoteAddress: '10.9.0.4' });
    for (let i = 0; i < 3; i++) expect((await send('/v1/auth/me', junk())).statusCode).toBe(401);
    const refused = await send('/v1/auth/me', junk());
    expect(refused.statusCode).toBe(429);
    expect(refused.json().error.code).toBe('rate_limited');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    // Junk credentials on a public route are the IP's requests too.
    expect((await send('/docs/json', junk())).statusCode).toBe(429);
    expect((await send('/docs/json', { 'x-api-key': `sbk_${slug}_0badc0de.junk` })).statusCode).toBe(429);
  });

  it('counts a proxied client under the address its ingress saw, whatever X-Forwarded-For the client forged', async () => {
    const app = await make({ rateLimitPerMinute: 2 });
    const ingress = '10.9.1.1';
    // The ingress appends the real peer; the client may have put anything before it.
    const via = (forged: string) =>
      app.inject({
        method: 'GET',
        url: '/docs/json',
        headers: { 'x-forwarded-for': `${forged}, 203.0.113.7` },
        remoteAddress: ingress,
      });
    expect((await via('198.51.100.1')).statusCode).toBe(200);
    expect((await via('198.51.100.2')).statusCode).toBe(200);
    expect((await via('198.51.100.3')).statusCode).toBe(429);
    // Another real client behind the same ingress has its own count.
    const other = await app.inject({
      method: 'GET',
      url: '/docs/json',
      headers: { 'x-forwarded-for': '203.0.113.8' },
      remoteAddress: ingress,
    });
    expect(other.statusCode).toBe(200);
  });
});

describe('Redis unavailable for a send', () => {
  it('answers 503 with Retry-After for a stored message, and a retry with the same key queues it', async () => {
    const { viaProxy, cut, close } = await cuttableRedis();
    try {
      const app = await make({ redis: viaProxy, rateLimitPerMinute: 100 });
      const healthy = await make({ rateLimitPerMinute: 100 });
      const tenantId = tenantIdForSlug(slug);
      const conversationId = await withTenant(db, tenantId, async (tx) => {
        const session = await tx.session.create({ data: { tenantId, name: 'send', channel: 'baileys' } });
        const contact = await tx.contact.create({ data: { tenantId, pushName: 'Someone' } });
        const conversation = await tx.conversation.create({
          data: { tenantId, sessionId: session.id, contactId: contact.id },
        });
        return conversation.id;
      });
      const headers = { authorization: `Bearer ${await memberToken('sender')}` };
      const send = (on: FastifyInstance, key: string) =>
        on.inject({
          method: 'POST',
          url: '/v1/messages',
          headers: { ...headers, 'idempotency-key': key },
          payload: { conversationId, text: 'hello' },
        });
      expect((await send(app, 'before-cut')).statusCode).toBe(201);
      await cut();
      const during = await send(app, 'during-cut');
      expect(during.statusCode).toBe(503);
      expect(during.json().error.code).toBe('unavailable');
      expect(Number(during.headers['retry-after'])).toBeGreaterThan(0);
      const stored = await withTenant(db, tenantId, (tx) =>
        tx.message.findMany({ where: { idempotencyKey: 'during-cut' } }),
      );
      expect(stored).toHaveLength(1);
      expect(stored[0]!.status).toBe('queued');
      // The client retries as told (Redis back: another instance): the same message, now queued.
      const retried = await send(healthy, 'during-cut');
      expect(retried.statusCode).toBe(200);
      expect(retried.json().id).toBe(stored[0]!.id);
      const queue = new Queue(QUEUE_NAMES.outbound(stored[0]!.sessionId), {
        connection: redis,
        prefix: queuePrefix(`sb:${slug}:`),
      });
      try {
        expect(await queue.getJob(`send-${stored[0]!.id}`)).toBeDefined();
      } finally {
        await queue.close();
      }
    } finally {
      close();
    }
  });
});

describe('CORS', () => {
  it('answers allowed origins, with preflight, and gives other origins nothing', async () => {
    const app = await make({ corsOrigins: ['https://inbox.example'], rateLimitPerMinute: 1000 });
    const allowed = await app.inject({
      method: 'GET',
      url: '/livez',
      headers: { origin: 'https://inbox.example' },
    });
    expect(allowed.headers['access-control-allow-origin']).toBe('https://inbox.example');
    expect(allowed.headers['access-control-allow-credentials']).toBe('true');
    // The inbox (another origin) can read the request id of an answer.
    expect(allowed.headers['access-control-expose-headers']).toBe('x-request-id');
    expect(allowed.headers['x-request-id']).toEqual(expect.any(String));
    const preflight = await app.inject({
      method: 'OPTIONS',
      url: '/v1/conversations',
      headers: {
        origin: 'https://inbox.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      },
    });
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('https://inbox.example');
    expect(String(preflight.headers['access-control-allow-methods'])).toContain('POST');
    const other = await app.inject({
      method: 'GET',
      url: '/livez',
      headers: { origin: 'https://evil.example' },
    });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    const otherPreflight = await app.inject({
      method: 'OPTIONS',
      url: '/v1/conversations',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(otherPreflight.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('metrics', () => {
  it('exposes request durations by route pattern after requests', async () => {
    const metrics = createMetricsRegistry({ service: 'api-test', collectDefaultMetrics: false });
    const app = await make({ metrics, rateLimitPerMinute: 1000 });
    await app.inject({ method: 'GET', url: '/livez' });
    await app.inject({ method: 'GET', url: '/v1/messages/00000000-0000-4000-8000-000000000000' });
    // Not on the public port (the Ingress routes everything there): server.ts serves the
    // registry on METRICS_PORT.
    expect((await app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(404);
    const text = await metrics.metrics();
    const lines = text.split('\n');
    expect(text).toContain('# TYPE switchboard_api_http_request_duration_seconds histogram');
    const count = (route: string, status: string) =>
      lines.find(
        (l) =>
          l.startsWith('switchboard_api_http_request_duration_seconds_count{') &&
          l.includes(`route="${route}"`) &&
          l.includes(`status_code="${status}"`),
      );
    expect(count('/livez', '200')).toMatch(/ 1$/);
    // The pattern, not the URL with the id in it.
    expect(count('/v1/messages/:id', '401')).toMatch(/ 1$/);
    expect(text).not.toContain('00000000-0000-4000-8000-000000000000');
  });
});

describe('inbox', () => {
  it('serves the SPA with fallback, long-cached assets, a strict CSP, and leaves API paths alone', async () => {
    const root = join(dir, 'dist');
    await mkdir(join(root, 'assets'), { recursive: true });
    await writeFile(
      join(root, 'index.html'),
      '<!doctype html><title>Inbox</title><script type="module" src="/assets/app-4f2a.js"></script>',
    );
    await writeFile(join(root, 'assets', 'app-4f2a.js'), 'console.log("inbox");');
    await writeFile(join(dir, 'outside.txt'), 'not for the web');
    const app = await make({ inboxDir: root, rateLimitPerMinute: 1000 });
    const html = { accept: 'text/html,application/xhtml+xml' };

    const index = await app.inject({ method: 'GET', url: '/', headers: html });
    expect(index.statusCode).toBe(200);
    expect(index.body).toContain('<title>Inbox</title>');
    expect(index.headers['cache-control']).toBe('no-cache');
    const csp = String(index.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("img-src 'self' data: blob:");
    expect(index.headers['access-control-allow-origin']).toBeUndefined();

    const asset = await app.inject({ method: 'GET', url: '/assets/app-4f2a.js' });
    expect(asset.statusCode).toBe(200);
    expect(asset.body).toBe('console.log("inbox");');
    expect(asset.headers['content-type']).toContain('javascript');
    expect(asset.headers['cache-control']).toContain('immutable');
    expect(asset.headers['cache-control']).toContain('max-age=31536000');

    const deepLink = await app.inject({ method: 'GET', url: '/conversations/123?tab=open', headers: html });
    expect(deepLink.statusCode).toBe(200);
    expect(deepLink.body).toContain('<title>Inbox</title>');
    const notHtml = await app.inject({
      method: 'GET',
      url: '/conversations/123',
      headers: { accept: 'application/json' },
    });
    expect(notHtml.statusCode).toBe(404);
    const missingAsset = await app.inject({ method: 'GET', url: '/assets/gone-1234.js' });
    expect(missingAsset.statusCode).toBe(404);

    for (const url of ['/v1/nope', '/internal/x', '/webhooks/other', '/metrics/x']) {
      const res = await app.inject({ method: 'GET', url, headers: html });
      expect(res.headers['content-type'], url).toContain('application/json');
      expect(res.statusCode, url).toBe(404);
    }
    expect((await app.inject({ method: 'GET', url: '/livez', headers: html })).json()).toEqual({
      status: 'ok',
    });
    expect((await app.inject({ method: 'GET', url: '/docs/json' })).statusCode).toBe(200);
    const traversal = await app.inject({ method: 'GET', url: '/..%2foutside.txt', headers: html });
    expect(traversal.body).not.toContain('not for the web');
  });
});
