import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDb, type Db, ensureTenant, withTenant } from '@switchboard/db';
import {
  cloudApiInboundJobSchema,
  LocalMediaStorage,
  outboundJobSchema,
  publishRealtimeEvent,
  QUEUE_NAMES,
  queuePrefix,
  sessionCommandSchema,
  WEBHOOK_SECRET_PURPOSE,
} from '@switchboard/messaging/producer';
import { hashPassword } from '@switchboard/passwords';
import { openSealedSecret } from '@switchboard/secrets';
import {
  createTestDatabase,
  deleteKeysWithPrefix,
  redisOptions,
  type TestDatabase,
} from '@switchboard/testing';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from './app.ts';
import type { PasswordResetDelivery } from './context.ts';
import { appSecretFor } from './routes/cloud-api-webhook.ts';

/** Waits until `probe` holds, polling every 50 ms, or throws after `timeoutMs`. */
async function eventually(
  what: string,
  probe: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const started = Date.now();
  while (!(await probe())) {
    if (Date.now() - started > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// Cheap scrypt parameters for tests only: the suite logs in dozens of times on 2 cores.
const SCRYPT = { N: 1024, r: 8, p: 1 };
const PASSWORD = 'correct horse battery staple';
const STREAMING = '/v1/realtime';
const CLOUD_SECRET = 'meta-app-secret';
const ROLES = ['owner', 'admin', 'agent', 'viewer'] as const;
const INTERNAL_TOKEN = 'internal-token-0123456789';
const MEDIA_MAX_BYTES = 64 * 1024;
const JPEG = Buffer.concat([
  Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10]),
  Buffer.from('JFIF'),
  randomBytes(2000),
]);
let mediaDir: string;
let mediaStorage: LocalMediaStorage;

let database: TestDatabase;
let db: Db;
let redis: Redis;
let app: FastifyInstance;
const resets: PasswordResetDelivery[] = [];
const suffix = randomBytes(3).toString('hex');
const slugA = `api-a-${suffix}`;
const slugB = `api-b-${suffix}`;

interface Seeded {
  tenantId: string;
  scheduledId: string;
  users: Record<(typeof ROLES)[number], { id: string; email: string }>;
  sessionId: string;
  declaredSessionId: string;
  contactId: string;
  conversationId: string;
  messageId: string;
  templateId: string;
  quickReplyId: string;
}
const seeded: Record<'a' | 'b', Seeded> = {} as never;

async function seed(slug: string): Promise<Seeded> {
  const tenantId = await ensureTenant(db, { slug, displayName: slug });
  const passwordHash = await hashPassword(PASSWORD, SCRYPT);
  return withTenant(db, tenantId, async (tx) => {
    const users = {} as Seeded['users'];
    for (const role of ROLES) {
      const email = `${role}@${slug}.test`;
      const user = await tx.user.create({ data: { tenantId, email, displayName: role, passwordHash } });
      await tx.membership.create({ data: { tenantId, userId: user.id, role } });
      users[role] = { id: user.id, email };
    }
    const session = await tx.session.create({ data: { tenantId, name: 'main', channel: 'baileys' } });
    const declared = await tx.session.create({
      data: { tenantId, name: 'declared', channel: 'baileys', declared: true },
    });
    const contact = await tx.contact.create({ data: { tenantId, pushName: `Person ${slug}` } });
    await tx.contactIdentity.create({
      data: { tenantId, contactId: contact.id, kind: 'pn', value: '4915112345678' },
    });
    const conversation = await tx.conversation.create({
      data: { tenantId, sessionId: session.id, contactId: contact.id, unreadCount: 3 },
    });
    const message = await tx.message.create({
      data: {
        tenantId,
        sessionId: session.id,
        conversationId: conversation.id,
        direction: 'inbound',
        status: 'delivered',
        type: 'text',
        body: `secret of ${slug}`,
      },
    });
    const template = await tx.messageTemplate.create({
      data: { tenantId, name: 'welcome', language: 'en', body: `Hi from ${slug}` },
    });
    const quickReply = await tx.quickReply.create({
      data: { tenantId, shortcut: 'thanks', title: 'Thanks', body: `Thanks, ${slug}` },
    });
    await tx.auditLogEntry.create({
      data: { tenantId, actorType: 'system', action: 'seeded', targetType: 'tenant', targetId: tenantId },
    });
    const scheduled = await tx.scheduledMessage.create({
      data: {
        tenantId,
        sessionId: session.id,
        conversationId: conversation.id,
        content: { type: 'text', text: `scheduled secret of ${slug}` },
        sendAt: new Date(Date.now() + 86_400_000),
      },
    });
    return {
      tenantId,
      scheduledId: scheduled.id,
      users,
      sessionId: session.id,
      declaredSessionId: declared.id,
      contactId: contact.id,
      conversationId: conversation.id,
      messageId: message.id,
      templateId: template.id,
      quickReplyId: quickReply.id,
    };
  });
}

async function login(slug: string, email: string, password = PASSWORD, ip = '10.0.0.1') {
  return app.inject({
    method: 'POST',
    url: '/v1/auth/login',
    payload: { tenant: slug, email, password },
    remoteAddress: ip,
  });
}
const tokens: Record<string, string> = {};
async function tokenFor(tenant: 'a' | 'b', role: (typeof ROLES)[number]): Promise<string> {
  const key = `${tenant}:${role}`;
  if (!tokens[key]) {
    const res = await login(tenant === 'a' ? slugA : slugB, seeded[tenant].users[role].email);
    expect(res.statusCode).toBe(200);
    tokens[key] = res.json().accessToken;
  }
  return tokens[key]!;
}
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

beforeAll(async () => {
  mediaDir = await mkdtemp(join(tmpdir(), 'api-media-'));
  mediaStorage = new LocalMediaStorage(mediaDir);
  database = await createTestDatabase({ label: 'api' });
  db = createDb({ databaseUrl: database.appUrl, applicationName: 'api-test' });
  redis = new Redis({ ...redisOptions(), maxRetriesPerRequest: 1 });
  app = await buildApp({
    db,
    redis,
    tenant: { slug: slugA, displayName: 'Tenant A' },
    jwtSigningKey: randomBytes(32).toString('hex'),
    scrypt: SCRYPT,
    loginMaxFailures: 3,
    rateLimitPerMinute: 100_000,
    internalToken: INTERNAL_TOKEN,
    cloudApi: {
      appSecret: CLOUD_SECRET,
      verifyToken: 'verify-me',
      numbers: new Map([
        ['1001', { appSecret: 'secret-of-app-1', verifyToken: 'verify-1001' }],
        ['1002', { appSecret: 'secret-of-app-2', verifyToken: 'verify-1002' }],
      ]),
    },
    mediaStorage,
    mediaMaxBytes: MEDIA_MAX_BYTES,
    // The inbox has its own test (app-options.test.ts); a built services/inbox/dist must not change this one.
    inboxDir: null,
    onPasswordReset: (delivery) => {
      resets.push(delivery);
    },
  });
  seeded.a = await seed(slugA);
  seeded.b = await seed(slugB);
});

afterAll(async () => {
  await app?.close();
  for (const slug of [slugA, slugB]) await deleteKeysWithPrefix(redis, `sb:${slug}:`);
  redis?.disconnect();
  await db?.$disconnect();
  await database?.drop();
  if (mediaDir) await rm(mediaDir, { recursive: true, force: true });
});

describe('shape', () => {
  it('answers /livez and /readyz with database and Redis checked', async () => {
    expect((await app.inject({ method: 'GET', url: '/livez' })).statusCode).toBe(200);
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.json()).toEqual({ status: 'ok', checks: { database: 'ok', redis: 'ok' } });
  });

  it('sets security headers', async () => {
    const res = await app.inject({ method: 'GET', url: '/livez' });
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['strict-transport-security']).toBeDefined();
  });

  it('rejects unknown fields and names them', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { email: 'x@y.test', password: 'p', admin: true },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('validation_failed');
    expect(res.json().error.message).toContain('admin');
  });

  it('names the invalid field', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { email: 'not-an-email', password: 'p' },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.issues[0].path).toBe('body.email');
  });

  it('answers an unknown route with a catalogued 404', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/nope' });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('route_not_found');
  });

  it('refuses a body over the limit', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ email: 'a@b.test', password: 'x'.repeat(2 * 1024 * 1024) }),
    });
    expect(res.statusCode).toBe(413);
  });

  it('paginates with a cursor and refuses a forged one', async () => {
    const token = await tokenFor('a', 'owner');
    const first = await app.inject({ method: 'GET', url: '/v1/team?limit=3', headers: bearer(token) });
    expect(first.json().items).toHaveLength(3);
    const next = first.json().nextCursor as string;
    expect(next).toBeTypeOf('string');
    const second = await app.inject({
      method: 'GET',
      url: `/v1/team?limit=3&cursor=${next}`,
      headers: bearer(token),
    });
    const emails = [...first.json().items, ...second.json().items]
      .map((m: { email: string }) => m.email)
      .sort();
    expect(emails).toEqual(ROLES.map((r) => `${r}@${slugA}.test`).sort());
    expect(second.json().nextCursor).toBeNull();
    const forged = await app.inject({
      method: 'GET',
      url: '/v1/team?cursor=garbage',
      headers: bearer(token),
    });
    expect(forged.statusCode).toBe(400);
    expect(forged.json().error.code).toBe('invalid_cursor');
  });

  it('serves an OpenAPI document listing every route', async () => {
    const res = await app.inject({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toMatch(/^3\./);
    const documented = new Set<string>();
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
      for (const method of Object.keys(ops))
        documented.add(`${method.toUpperCase()} ${path.replace(/(.)\/$/, '$1')}`);
    }
    const expected = app.routeList
      .filter((r) => r.url.startsWith('/v1/'))
      .map((r) => `${r.method} ${r.url.replace(/:(\w+)/g, '{$1}').replace(/(.)\/$/, '$1')}`);
    expect(expected.length).toBeGreaterThan(20);
    for (const route of expected) expect(documented, route).toContain(route);
    // Generated from the same zod schemas that validate: the login body is strict.
    const login = doc.paths['/v1/auth/login'].post.requestBody.content['application/json'].schema;
    expect(login.additionalProperties).toBe(false);
    expect(login.required).toEqual(expect.arrayContaining(['email', 'password']));
  });
});

describe('auth', () => {
  it('logs in, identifies the caller, and refuses a wrong password without saying which part was wrong', async () => {
    const token = await tokenFor('a', 'agent');
    const me = await app.inject({ method: 'GET', url: '/v1/auth/me', headers: bearer(token) });
    expect(me.json()).toMatchObject({ email: `agent@${slugA}.test`, role: 'agent', tenant: slugA });
    const wrong = await login(slugA, `viewer@${slugA}.test`, 'wrong', '10.1.0.1');
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().error.code).toBe('invalid_credentials');
    const unknown = await login(slugA, `nobody@${slugA}.test`, 'wrong', '10.1.0.1');
    expect(unknown.json().error.code).toBe('invalid_credentials');
  });

  it('defaults the tenant to the configured one and never lets B log in through A', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { email: `owner@${slugA}.test`, password: PASSWORD },
    });
    expect(res.statusCode).toBe(200);
    const cross = await app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { email: `owner@${slugB}.test`, password: PASSWORD },
    });
    expect(cross.statusCode).toBe(401);
  });

  it('locks an account after repeated failures, even with the right password', async () => {
    const email = `viewer@${slugB}.test`;
    for (let i = 0; i < 3; i++)
      expect((await login(slugB, email, 'nope', `10.2.0.${i}`)).statusCode).toBe(401);
    const locked = await login(slugB, email, PASSWORD, '10.2.0.9');
    expect(locked.statusCode).toBe(429);
    expect(locked.json().error.code).toBe('account_locked');
    expect(locked.headers['retry-after']).toBeDefined();
  });

  it('locks an IP after failures across accounts', async () => {
    const ip = '10.3.0.1';
    for (let i = 0; i < 12; i++) await login(slugA, `ghost${i}@${slugA}.test`, 'nope', ip);
    const res = await login(slugA, `admin@${slugA}.test`, PASSWORD, ip);
    expect(res.json().error.code).toBe('account_locked');
    expect((await login(slugA, `admin@${slugA}.test`, PASSWORD, '10.3.0.2')).statusCode).toBe(200);
  });

  it('rotates refresh tokens and revokes the family when a rotated one is reused', async () => {
    const first = (await login(slugA, `agent@${slugA}.test`, PASSWORD, '10.4.0.1')).json();
    const second = await app.inject({
      method: 'POST',
      url: '/v1/auth/refresh',
      payload: { refreshToken: first.refreshToken },
    });
    expect(second.statusCode).toBe(200);
    const rotated = second.json().refreshToken as string;
    expect(rotated).not.toBe(first.refreshToken);
    const reuse = await app.inject({
      method: 'POST',
      url: '/v1/auth/refresh',
      payload: { refreshToken: first.refreshToken },
    });
    expect(reuse.statusCode).toBe(401);
    expect(reuse.json().error.code).toBe('refresh_token_reused');
    // The reuse revoked the newer token of the same family too.
    const after = await app.inject({
      method: 'POST',
      url: '/v1/auth/refresh',
      payload: { refreshToken: rotated },
    });
    expect(after.statusCode).toBe(401);
  });

  it('logout revokes the refresh token', async () => {
    const pair = (await login(slugA, `agent@${slugA}.test`, PASSWORD, '10.4.0.2')).json();
    expect(
      (
        await app.inject({
          method: 'POST',
          url: '/v1/auth/logout',
          payload: { refreshToken: pair.refreshToken },
        })
      ).statusCode,
    ).toBe(204);
    const res = await app.inject({
      method: 'POST',
      url: '/v1/auth/refresh',
      payload: { refreshToken: pair.refreshToken },
    });
    expect(res.statusCode).toBe(401);
  });

  it('resets a password with a single-use token from the hook', async () => {
    const email = `agent@${slugB}.test`;
    const req = await app.inject({
      method: 'POST',
      url: '/v1/auth/password-reset',
      payload: { tenant: slugB, email },
    });
    expect(req.statusCode).toBe(202);
    const delivery = resets.find((r) => r.email === email)!;
    expect(delivery.tenantSlug).toBe(slugB);
    const newPassword = 'a brand new password';
    const confirm = () =>
      app.inject({
        method: 'POST',
        url: '/v1/auth/password-reset/confirm',
        payload: { token: delivery.token, password: newPassword },
      });
    expect((await confirm()).statusCode).toBe(204);
    expect((await confirm()).json().error.code).toBe('invalid_reset_token');
    expect((await login(slugB, email, newPassword, '10.5.0.1')).statusCode).toBe(200);
    expect((await login(slugB, email, PASSWORD, '10.5.0.1')).statusCode).toBe(401);
    // An unknown account gets the same answer and no token.
    const count = resets.length;
    expect(
      (
        await app.inject({
          method: 'POST',
          url: '/v1/auth/password-reset',
          payload: { tenant: slugB, email: 'x@nowhere.test' },
        })
      ).statusCode,
    ).toBe(202);
    expect(resets.length).toBe(count);
  });

  it('rejects requests without or with a forged credential', async () => {
    expect((await app.inject({ method: 'GET', url: '/v1/sessions' })).json().error.code).toBe(
      'unauthenticated',
    );
    const forged = await app.inject({
      method: 'GET',
      url: '/v1/sessions',
      headers: bearer('eyJhbGciOiJIUzI1NiJ9.e30.x'),
    });
    expect(forged.statusCode).toBe(401);
  });

  it('creates API keys shown once, enforces scopes, records use and revokes', async () => {
    const owner = await tokenFor('a', 'owner');
    const created = await app.inject({
      method: 'POST',
      url: '/v1/api-keys',
      headers: bearer(owner),
      payload: { name: 'crm', scopes: ['read'] },
    });
    expect(created.statusCode).toBe(201);
    const { key, id, prefix } = created.json();
    expect(key.startsWith(`${prefix}.`)).toBe(true);
    const stored = await withTenant(db, seeded.a.tenantId, (tx) =>
      tx.apiKey.findUniqueOrThrow({ where: { id } }),
    );
    expect(stored.keyHash).not.toContain(key.split('.')[1]);
    const list = await app.inject({ method: 'GET', url: '/v1/sessions', headers: { 'x-api-key': key } });
    expect(list.statusCode).toBe(200);
    expect(list.json().items.map((s: { id: string }) => s.id)).toContain(seeded.a.sessionId);
    const manage = await app.inject({
      method: 'POST',
      url: '/v1/sessions',
      headers: { 'x-api-key': key },
      payload: { name: 'x', channel: 'baileys' },
    });
    expect(manage.json().error.code).toBe('insufficient_scope');
    const listed = await app.inject({ method: 'GET', url: '/v1/api-keys', headers: bearer(owner) });
    const row = listed.json().items.find((k: { id: string }) => k.id === id);
    expect(row.lastUsedAt).not.toBeNull();
    expect(row).not.toHaveProperty('key');
    expect(
      (await app.inject({ method: 'DELETE', url: `/v1/api-keys/${id}`, headers: bearer(owner) })).statusCode,
    ).toBe(204);
    expect(
      (await app.inject({ method: 'GET', url: '/v1/sessions', headers: { 'x-api-key': key } })).statusCode,
    ).toBe(401);
    const log = await app.inject({
      method: 'GET',
      url: '/v1/audit-log?action=api_key.revoked',
      headers: bearer(owner),
    });
    expect(log.json().items[0]).toMatchObject({ action: 'api_key.revoked', targetId: id });
  });
});

describe('roles', () => {
  // [method, url, body, the least role allowed]; each row is tried with every role.
  const matrix: [string, string, unknown, (typeof ROLES)[number]][] = [
    ['GET', '/v1/sessions', undefined, 'viewer'],
    ['GET', '/v1/conversations', undefined, 'viewer'],
    ['GET', '/v1/contacts', undefined, 'viewer'],
    ['GET', '/v1/team', undefined, 'viewer'],
    ['POST', '/v1/conversations/{conversation}/read', undefined, 'agent'],
    ['PATCH', '/v1/contacts/{contact}', { displayName: 'Named' }, 'agent'],
    ['GET', '/v1/api-keys', undefined, 'admin'],
    ['GET', '/v1/audit-log', undefined, 'admin'],
    ['GET', '/v1/sessions/{session}/pairing', undefined, 'admin'],
    ['PATCH', '/v1/team/{viewer}', { role: 'owner' }, 'owner'],
  ];
  const order = ['viewer', 'agent', 'admin', 'owner'];
  for (const [method, url, body, minimum] of matrix) {
    for (const role of ROLES) {
      const allowed = order.indexOf(role) >= order.indexOf(minimum);
      it(`${method} ${url} as ${role} is ${allowed ? 'allowed' : 'forbidden'}`, async () => {
        const a = seeded.a;
        const path = url
          .replace('{conversation}', a.conversationId)
          .replace('{contact}', a.contactId)
          .replace('{session}', a.sessionId)
          .replace('{viewer}', a.users.viewer.id);
        const res = await app.inject({
          method: method as 'GET',
          url: path,
          headers: bearer(await tokenFor('a', role)),
          ...(body ? { payload: body as object } : {}),
        });
        if (allowed) expect(res.statusCode, res.body).not.toBe(403);
        else {
          expect(res.statusCode).toBe(403);
          expect(res.json().error.code).toBe('forbidden');
        }
        // Restore what the owner's row changed, so later rows see the seeded roles.
        if (allowed && url.startsWith('/v1/team/')) {
          await withTenant(db, a.tenantId, (tx) =>
            tx.membership.updateMany({ where: { userId: a.users.viewer.id }, data: { role: 'viewer' } }),
          );
        }
      });
    }
  }
});

describe('sessions', () => {
  it('creates, reads the pairing challenge from Redis, and refuses to delete declared sessions', async () => {
    const admin = await tokenFor('a', 'admin');
    // A Cloud API number needs its Meta credentials, which live in the tenant's secret provider
    // and are declared in the WhatsAppTenant: the API refuses to create one it could never open.
    const cloud = await app.inject({
      method: 'POST',
      url: '/v1/sessions',
      headers: bearer(admin),
      payload: { name: 'meta', channel: 'cloud-api' },
    });
    expect(cloud.statusCode).toBe(422);
    expect(cloud.json().error).toMatchObject({ code: 'channel_unsupported' });
    expect(cloud.json().error.message).toContain('spec.sessions');
    const created = await app.inject({
      method: 'POST',
      url: '/v1/sessions',
      headers: bearer(admin),
      payload: { name: 'sales', channel: 'baileys' },
    });
    expect(created.statusCode).toBe(201);
    const { id } = created.json();
    expect(created.json()).toMatchObject({ channel: 'baileys', state: 'unpaired', declared: false });
    const none = await app.inject({
      method: 'GET',
      url: `/v1/sessions/${id}/pairing`,
      headers: bearer(admin),
    });
    expect(none.statusCode).toBe(204);
    const record = {
      sessionId: id,
      kind: 'qr',
      code: '2@abc,def',
      expiresAt: new Date(Date.now() + 60_000).toISOString(),
      sequence: 1,
    };
    await redis.set(`sb:${slugA}:session:${id}:pairing`, JSON.stringify(record), 'PX', 60_000);
    const pairing = await app.inject({
      method: 'GET',
      url: `/v1/sessions/${id}/pairing`,
      headers: bearer(admin),
    });
    expect(pairing.json()).toEqual(record);
    const dup = await app.inject({
      method: 'POST',
      url: '/v1/sessions',
      headers: bearer(admin),
      payload: { name: 'sales', channel: 'baileys' },
    });
    expect(dup.statusCode).toBe(409);
    const declared = await app.inject({
      method: 'DELETE',
      url: `/v1/sessions/${seeded.a.declaredSessionId}`,
      headers: bearer(admin),
    });
    expect(declared.json().error.code).toBe('declared_session');
    expect(
      (await app.inject({ method: 'DELETE', url: `/v1/sessions/${id}`, headers: bearer(admin) })).statusCode,
    ).toBe(204);
  });
});

describe('conversations', () => {
  it('filters, assigns, resolves, reopens, marks read and pages history', async () => {
    const agent = await tokenFor('a', 'agent');
    const { conversationId, users } = seeded.a;
    const h = bearer(agent);
    const unassigned = await app.inject({
      method: 'GET',
      url: '/v1/conversations?assignee=unassigned',
      headers: h,
    });
    expect(unassigned.json().items.map((c: { id: string }) => c.id)).toContain(conversationId);
    await app.inject({
      method: 'POST',
      url: `/v1/conversations/${conversationId}/assign`,
      headers: h,
      payload: { assigneeId: users.agent.id },
    });
    const mine = await app.inject({ method: 'GET', url: '/v1/conversations?assignee=mine', headers: h });
    expect(mine.json().items.map((c: { id: string }) => c.id)).toEqual([conversationId]);
    const foreign = await app.inject({
      method: 'POST',
      url: `/v1/conversations/${conversationId}/assign`,
      headers: h,
      payload: { assigneeId: seeded.b.users.agent.id },
    });
    expect(foreign.statusCode).toBe(400);
    const resolved = await app.inject({
      method: 'POST',
      url: `/v1/conversations/${conversationId}/resolve`,
      headers: h,
    });
    expect(resolved.json().status).toBe('resolved');
    expect(
      (await app.inject({ method: 'GET', url: '/v1/conversations?status=open', headers: h })).json().items,
    ).toEqual([]);
    expect(
      (
        await app.inject({ method: 'POST', url: `/v1/conversations/${conversationId}/reopen`, headers: h })
      ).json().status,
    ).toBe('open');
    expect(
      (
        await app.inject({ method: 'POST', url: `/v1/conversations/${conversationId}/read`, headers: h })
      ).json().unreadCount,
    ).toBe(0);
    const search = await app.inject({ method: 'GET', url: '/v1/conversations?search=4915112', headers: h });
    expect(search.json().items.map((c: { id: string }) => c.id)).toEqual([conversationId]);
    const history = await app.inject({
      method: 'GET',
      url: `/v1/conversations/${conversationId}/messages`,
      headers: h,
    });
    expect(history.json().items.map((m: { id: string }) => m.id)).toEqual([seeded.a.messageId]);
  });
});

describe('tenant isolation', () => {
  it("walks every route with tenant A's owner against tenant B's ids and never sees B's data", async () => {
    const owner = await tokenFor('a', 'owner');
    const bOwner = await tokenFor('b', 'owner');
    const bKey = (
      await app.inject({
        method: 'POST',
        url: '/v1/api-keys',
        headers: bearer(bOwner),
        payload: { name: 'b', scopes: ['read'] },
      })
    ).json();
    const b = seeded.b;
    const bHook = (
      await app.inject({
        method: 'POST',
        url: '/v1/webhooks',
        headers: bearer(bOwner),
        payload: { url: 'https://b.example/hooks', events: ['*'] },
      })
    ).json();
    const bDelivery = await withTenant(db, b.tenantId, (tx) =>
      tx.webhookDelivery.create({
        data: {
          tenantId: b.tenantId,
          subscriptionId: bHook.id,
          eventId: randomUUID(),
          eventType: 'message.received',
          payload: { text: `secret of ${slugB}` },
          status: 'failed',
        },
      }),
    );
    const idFor: Record<string, string> = {
      '/v1/webhooks/deliveries/': bDelivery.id,
      '/v1/webhooks/': bHook.id,
      '/v1/sessions/': b.sessionId,
      '/v1/conversations/': b.conversationId,
      '/v1/contacts/': b.contactId,
      '/v1/team/': b.users.viewer.id,
      '/v1/api-keys/': bKey.id,
      '/v1/templates/': b.templateId,
      '/v1/messages/': b.messageId,
      '/v1/quick-replies/': b.quickReplyId,
      '/v1/scheduled-messages/': b.scheduledId,
    };
    const bodies: Record<string, unknown> = {
      'POST /v1/conversations/:id/assign': { assigneeId: null },
      'PATCH /v1/contacts/:id': { displayName: 'hijacked' },
      'PATCH /v1/team/:id': { role: 'owner' },
      'PATCH /v1/templates/:id': { body: 'hijacked' },
      'PATCH /v1/quick-replies/:id': { body: 'hijacked' },
      'PATCH /v1/webhooks/:id': { url: 'https://attacker.example/' },
      'POST /v1/sessions/:id/pairing-code': { phoneNumber: '4915112345678' },
    };
    const secrets = [
      b.sessionId,
      b.conversationId,
      b.contactId,
      b.messageId,
      b.users.viewer.id,
      bKey.id,
      bHook.id,
      bDelivery.id,
      b.scheduledId,
      `scheduled secret of ${slugB}`,
      bHook.secret,
      `secret of ${slugB}`,
      slugB,
    ];
    let walked = 0;
    // The realtime stream never ends, so inject cannot walk it; its isolation is tested in 'realtime'.
    for (const route of app.routeList.filter((r) => !r.public && !r.url.startsWith(STREAMING))) {
      const base = Object.keys(idFor).find((p) => route.url.startsWith(p) && route.url.includes(':id'));
      if (route.url.includes(':id')) {
        expect(base, `no tenant-B id for ${route.url}`).toBeDefined();
        const url = route.url.replace(':id', idFor[base!]!).replace(':jobId', `send-${b.messageId}`);
        const body = bodies[`${route.method} ${route.url}`];
        const res = await app.inject({
          method: route.method as 'GET',
          url,
          headers: bearer(owner),
          ...(body ? { payload: body as object } : {}),
        });
        expect([403, 404], `${route.method} ${route.url} -> ${res.statusCode} ${res.body}`).toContain(
          res.statusCode,
        );
        walked++;
      } else if (route.method === 'GET') {
        const res = await app.inject({ method: 'GET', url: route.url, headers: bearer(owner) });
        expect(res.statusCode, route.url).toBeLessThan(300);
        for (const secret of secrets) expect(res.body, `${route.url} leaked ${secret}`).not.toContain(secret);
        walked++;
      }
    }
    expect(walked).toBeGreaterThan(15);
    const untouched = await withTenant(db, b.tenantId, async (tx) => ({
      contact: await tx.contact.findUniqueOrThrow({ where: { id: b.contactId } }),
      viewer: await tx.membership.findFirstOrThrow({ where: { userId: b.users.viewer.id } }),
      key: await tx.apiKey.findUniqueOrThrow({ where: { id: bKey.id } }),
      session: await tx.session.findUnique({ where: { id: b.sessionId } }),
      contactAlive: await tx.contact.count({ where: { id: b.contactId } }),
      template: await tx.messageTemplate.findUniqueOrThrow({ where: { id: b.templateId } }),
    }));
    expect(untouched.contactAlive).toBe(1);
    expect(untouched.template.body).toBe(`Hi from ${slugB}`);
    expect(untouched.contact.displayName).toBeNull();
    expect(untouched.viewer.role).toBe('viewer');
    expect(untouched.key.revokedAt).toBeNull();
    expect(untouched.session).not.toBeNull();
    const bScheduled = await withTenant(db, b.tenantId, (tx) =>
      tx.scheduledMessage.findUniqueOrThrow({ where: { id: b.scheduledId } }),
    );
    expect(bScheduled.status).toBe('scheduled');
    const bCommands = new Queue(QUEUE_NAMES.sessionCommands(b.sessionId), {
      connection: redis,
      prefix: queuePrefix(`sb:${slugB}:`),
    });
    const aCommandsForB = new Queue(QUEUE_NAMES.sessionCommands(b.sessionId), {
      connection: redis,
      prefix: queuePrefix(`sb:${slugA}:`),
    });
    try {
      expect(await bCommands.count()).toBe(0);
      expect(await aCommandsForB.count()).toBe(0);
    } finally {
      await bCommands.close();
      await aCommandsForB.close();
    }
  });
});

describe('malformed input', () => {
  const junk: unknown[] = [
    'text',
    [],
    { a: 1 },
    { email: 1, password: {}, name: [], role: 'god', scopes: ['root'] },
    { assigneeId: 'x' },
  ];
  const params = ['not-a-uuid', '00000000-0000-0000-0000-000000000000', '%00', 'a'.repeat(180)];
  it('never answers a 5xx, whatever the body, params or query', async () => {
    const owner = await tokenFor('a', 'owner');
    for (const route of app.routeList.filter(
      (r) => !r.url.startsWith('/docs') && !r.url.startsWith(STREAMING),
    )) {
      for (const param of route.url.includes(':id') ? params : ['']) {
        const url = route.url.replace(':id', encodeURIComponent(param));
        for (const body of route.method === 'GET' || route.method === 'DELETE' ? [undefined] : junk) {
          for (const query of ['', '?limit=abc&cursor=%%%&status=nope&x=1']) {
            const res = await app.inject({
              method: route.method as 'POST',
              url: url + query,
              headers: {
                ...bearer(owner),
                ...(body === undefined ? {} : { 'content-type': 'application/json' }),
              },
              ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
            });
            expect(
              res.statusCode,
              `${route.method} ${url}${query} ${JSON.stringify(body)} -> ${res.body}`,
            ).toBeLessThan(500);
          }
        }
      }
    }
  });
});

describe('contacts', () => {
  it('updates, exports and erases a contact with an audit entry that keeps no content', async () => {
    const admin = await tokenFor('a', 'admin');
    const h = bearer(admin);
    const tenantId = seeded.a.tenantId;
    // A contact of its own, so erasing it leaves the other tests' seed alone.
    const { contactId, conversationId, messageId } = await withTenant(db, tenantId, async (tx) => {
      const contact = await tx.contact.create({ data: { tenantId, pushName: 'Erase Me' } });
      await tx.contactIdentity.create({
        data: { tenantId, contactId: contact.id, kind: 'pn', value: '31600000001' },
      });
      const conversation = await tx.conversation.create({
        data: { tenantId, sessionId: seeded.a.sessionId, contactId: contact.id },
      });
      const message = await tx.message.create({
        data: {
          tenantId,
          sessionId: seeded.a.sessionId,
          conversationId: conversation.id,
          direction: 'inbound',
          status: 'delivered',
          type: 'text',
          body: 'private words',
        },
      });
      await tx.message.create({
        data: {
          tenantId,
          sessionId: seeded.a.sessionId,
          conversationId: conversation.id,
          direction: 'inbound',
          status: 'delivered',
          type: 'image',
          mediaStorageKey: `tenants/${tenantId}/inbound/${conversation.id}`,
          mediaMimeType: 'image/jpeg',
        },
      });
      return { contactId: contact.id, conversationId: conversation.id, messageId: message.id };
    });
    const mediaKey = `tenants/${tenantId}/inbound/${conversationId}`;
    await mediaStorage.put(mediaKey, JPEG, 'image/jpeg');
    const patched = await app.inject({
      method: 'PATCH',
      url: `/v1/contacts/${contactId}`,
      headers: h,
      payload: { displayName: 'Erasable Person' },
    });
    expect(patched.json().displayName).toBe('Erasable Person');
    // Notes are kept beside the name; a patch of one leaves the other as it is.
    const noted = await app.inject({
      method: 'PATCH',
      url: `/v1/contacts/${contactId}`,
      headers: h,
      payload: { notes: 'Prefers WhatsApp after 18:00.' },
    });
    expect(noted.json()).toMatchObject({
      displayName: 'Erasable Person',
      notes: 'Prefers WhatsApp after 18:00.',
    });
    const empty = await app.inject({
      method: 'PATCH',
      url: `/v1/contacts/${contactId}`,
      headers: h,
      payload: {},
    });
    expect(empty.statusCode).toBe(400);
    const long = await app.inject({
      method: 'PATCH',
      url: `/v1/contacts/${contactId}`,
      headers: h,
      payload: { notes: 'x'.repeat(10_001) },
    });
    expect(long.json().error.message).toContain('body.notes');
    const found = await app.inject({ method: 'GET', url: '/v1/contacts?search=erasable', headers: h });
    expect(found.json().items.map((c: { id: string }) => c.id)).toEqual([contactId]);
    const exported = await app.inject({ method: 'GET', url: `/v1/contacts/${contactId}/export`, headers: h });
    expect(exported.json().contact.identities).toEqual([{ kind: 'pn', value: '31600000001' }]);
    expect(exported.json().conversations.map((c: { id: string }) => c.id)).toEqual([conversationId]);
    expect(exported.json().messages).toContainEqual(
      expect.objectContaining({ id: messageId, body: 'private words' }),
    );
    expect(
      (await app.inject({ method: 'DELETE', url: `/v1/contacts/${contactId}`, headers: h })).statusCode,
    ).toBe(204);
    expect(
      (await app.inject({ method: 'GET', url: `/v1/contacts/${contactId}`, headers: h })).statusCode,
    ).toBe(404);
    const left = await withTenant(db, tenantId, async (tx) => ({
      messages: await tx.message.count({ where: { id: messageId } }),
      identities: await tx.contactIdentity.count({ where: { contactId } }),
    }));
    expect(left).toEqual({ messages: 0, identities: 0 });
    expect(await mediaStorage.get(mediaKey), 'the media file is erased too').toBeUndefined();
    const log = await app.inject({ method: 'GET', url: '/v1/audit-log?action=contact.erased', headers: h });
    expect(log.json().items[0]).toMatchObject({
      targetId: contactId,
      metadata: { conversations: 1, messages: 2, mediaFiles: 1 },
    });
    expect(log.body).not.toContain('private words');
    expect(log.body).not.toContain('31600000001');
  });
});

describe('templates and quick replies', () => {
  it('creates, conflicts on duplicates, updates and deletes', async () => {
    const h = bearer(await tokenFor('a', 'admin'));
    const created = await app.inject({
      method: 'POST',
      url: '/v1/templates',
      headers: h,
      payload: { name: 'order_ready', language: 'en_US', body: 'Your order {{1}} is ready' },
    });
    expect(created.statusCode).toBe(201);
    const dup = await app.inject({
      method: 'POST',
      url: '/v1/templates',
      headers: h,
      payload: { name: 'order_ready', language: 'en_US', body: 'x' },
    });
    expect(dup.json().error.code).toBe('conflict');
    const bad = await app.inject({
      method: 'POST',
      url: '/v1/templates',
      headers: h,
      payload: { name: 'Order Ready', language: 'en_US', body: 'x' },
    });
    expect(bad.json().error.issues[0].path).toBe('body.name');
    const id = created.json().id;
    const updated = await app.inject({
      method: 'PATCH',
      url: `/v1/templates/${id}`,
      headers: h,
      payload: { body: 'Order {{1}} ready' },
    });
    expect(updated.json().body).toBe('Order {{1}} ready');
    expect((await app.inject({ method: 'DELETE', url: `/v1/templates/${id}`, headers: h })).statusCode).toBe(
      204,
    );
    expect((await app.inject({ method: 'GET', url: `/v1/templates/${id}`, headers: h })).statusCode).toBe(
      404,
    );

    const reply = await app.inject({
      method: 'POST',
      url: '/v1/quick-replies',
      headers: h,
      payload: { shortcut: 'hours', title: 'Hours', body: '9-17' },
    });
    expect(reply.statusCode).toBe(201);
    const list = await app.inject({
      method: 'GET',
      url: '/v1/quick-replies',
      headers: bearer(await tokenFor('a', 'viewer')),
    });
    expect(
      list
        .json()
        .items.map((r: { shortcut: string }) => r.shortcut)
        .sort(),
    ).toEqual(['hours', 'thanks']);
    expect(
      (await app.inject({ method: 'DELETE', url: `/v1/quick-replies/${reply.json().id}`, headers: h }))
        .statusCode,
    ).toBe(204);
  });
});

describe('password rehash', () => {
  it('rehashes a stored hash with old parameters on the next successful login', async () => {
    const tenantId = seeded.b.tenantId;
    const userId = seeded.b.users.admin.id;
    const old = await hashPassword(PASSWORD, { N: 512, r: 8, p: 1 });
    await withTenant(db, tenantId, (tx) =>
      tx.user.update({ where: { id: userId }, data: { passwordHash: old } }),
    );
    expect((await login(slugB, seeded.b.users.admin.email, PASSWORD, '10.6.0.1')).statusCode).toBe(200);
    const user = await withTenant(db, tenantId, (tx) => tx.user.findUniqueOrThrow({ where: { id: userId } }));
    expect(user.passwordHash).toMatch(/^scrypt\$1024\$8\$1\$/);
  });
});

describe('sending', () => {
  it('starts a conversation with a number through a session, once, and refuses half a target', async () => {
    const h = bearer(await tokenFor('a', 'agent'));
    const { sessionId, tenantId } = seeded.a;
    const send = (payload: object) =>
      app.inject({
        method: 'POST',
        url: '/v1/messages',
        headers: { ...h, 'idempotency-key': `first-${randomBytes(4).toString('hex')}` },
        payload,
      });
    const number = '5511955554444';
    const first = await send({ sessionId, to: `+${number}`, text: 'Olá! Seu pedido saiu.' });
    expect(first.statusCode).toBe(201);
    const second = await send({ sessionId, to: number, text: 'Chega amanhã.' });
    expect(second.statusCode).toBe(201);
    // One contact, one conversation, both messages in it.
    expect(second.json().conversationId).toBe(first.json().conversationId);
    const stored = await withTenant(db, tenantId, (tx) =>
      tx.conversation.findUniqueOrThrow({
        where: { id: first.json().conversationId },
        include: { contact: { include: { identities: true } }, messages: true },
      }),
    );
    expect(stored.sessionId).toBe(sessionId);
    expect(stored.contact.identities.map((i) => [i.kind, i.value])).toEqual([['pn', number]]);
    expect(stored.messages).toHaveLength(2);
    for (const [payload, field] of [
      [{ sessionId, text: 'x' }, 'conversationId'],
      [{ to: number, text: 'x' }, 'conversationId'],
      [{ conversationId: first.json().conversationId, sessionId, to: number, text: 'x' }, 'conversationId'],
      [{ sessionId, to: '12', text: 'x' }, 'to'],
    ] as const) {
      const refused = await send(payload);
      expect(refused.statusCode, JSON.stringify(payload)).toBe(400);
      expect(refused.json().error.message).toContain(field);
    }
    const elsewhere = await send({ sessionId: seeded.b.sessionId, to: number, text: 'x' });
    expect(elsewhere.statusCode).toBe(404);
  });

  it('stores a queued message and enqueues one job per Idempotency-Key', async () => {
    const h = bearer(await tokenFor('a', 'agent'));
    const { conversationId, sessionId, tenantId } = seeded.a;
    const key = `send-${randomBytes(4).toString('hex')}`;
    const send = (payload: object, k = key) =>
      app.inject({ method: 'POST', url: '/v1/messages', headers: { ...h, 'idempotency-key': k }, payload });
    const first = await send({ conversationId, text: 'hello' });
    expect(first.statusCode).toBe(201);
    expect(first.json()).toMatchObject({ status: 'queued', direction: 'outbound', body: 'hello', sessionId });
    const again = await send({ conversationId, text: 'hello' });
    expect(again.statusCode).toBe(200);
    expect(again.json().id).toBe(first.json().id);
    const other = await send({ conversationId, text: 'different' });
    expect(other.json().error.code).toBe('idempotency_key_mismatch');
    const queue = new Queue(QUEUE_NAMES.outbound(sessionId), {
      connection: redis,
      prefix: queuePrefix(`sb:${slugA}:`),
    });
    try {
      const jobs = await queue.getJobs(['waiting', 'delayed', 'active', 'prioritized']);
      const mine = jobs.filter((j) => j.data.messageId === first.json().id);
      expect(mine).toHaveLength(1);
      expect(mine[0]!.id).toBe(`send-${first.json().id}`);
      expect(outboundJobSchema.parse(mine[0]!.data)).toEqual({
        kind: 'send',
        tenantId,
        messageId: first.json().id,
      });
    } finally {
      await queue.close();
    }
    const status = await app.inject({ method: 'GET', url: `/v1/messages/${first.json().id}`, headers: h });
    expect(status.json().status).toBe('queued');
    const missingKey = await app.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: h,
      payload: { conversationId, text: 'x' },
    });
    expect(missingKey.statusCode).toBe(400);
    const foreign = await send({ conversationId: seeded.b.conversationId, text: 'hi' }, `${key}-b`);
    expect(foreign.statusCode).toBe(404);
  });
});

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

describe('realtime', () => {
  async function* events(url: string, token: string, lastEventId?: string) {
    const res = await fetch(url, {
      headers: { ...bearer(token), ...(lastEventId ? { 'last-event-id': lastEventId } : {}) },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const decoder = new TextDecoder();
    let buffer = '';
    const reader = res.body!.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const id = /^id: (.+)$/m.exec(block)?.[1];
          const data = /^data: (.+)$/m.exec(block)?.[1];
          if (id && data) yield { id, event: JSON.parse(data) };
          else if (block.startsWith(': connected')) yield { id: 'connected', event: null };
          end = buffer.indexOf('\n\n');
        }
      }
    } finally {
      await reader.cancel();
    }
  }
  const event = (conversationId: string) => ({
    type: 'conversation.updated' as const,
    at: new Date().toISOString(),
    data: { conversationId },
  });

  it("streams only the caller's tenant and resumes after Last-Event-ID without losing events", async () => {
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const url = `${address}/v1/realtime`;
    const token = await tokenFor('a', 'viewer');
    const keyA = `sb:${slugA}:`;
    const keyB = `sb:${slugB}:`;
    const stream = events(url, token);
    expect((await stream.next()).value?.id).toBe('connected');
    await publishRealtimeEvent(redis, keyB, event(seeded.b.conversationId));
    const firstId = await publishRealtimeEvent(redis, keyA, event(seeded.a.conversationId));
    const first = (await stream.next()).value!;
    expect(first).toEqual({
      id: firstId,
      event: expect.objectContaining({ data: { conversationId: seeded.a.conversationId } }),
    });
    await stream.return(undefined);
    // While disconnected, two more events; the reconnect asks for everything after the first.
    const missed = [randomUUID(), randomUUID()];
    for (const id of missed) await publishRealtimeEvent(redis, keyA, event(id));
    const resumed = events(url, token, firstId);
    expect((await resumed.next()).value?.id).toBe('connected');
    const got = [(await resumed.next()).value!, (await resumed.next()).value!];
    expect(got.map((g) => g.event.data.conversationId)).toEqual(missed);
    await resumed.return(undefined);
    const bad = await app.inject({
      method: 'GET',
      url: '/v1/realtime',
      headers: { ...bearer(token), 'last-event-id': 'nope' },
    });
    expect(bad.statusCode).toBe(400);
  });
});

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
    expect(openSealedSecret(row.secretCiphertext!, INTERNAL_TOKEN, WEBHOOK_SECRET_PURPOSE)).toBe(hook.secret);

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

describe('internal status', () => {
  it("summarizes the configured tenant's sessions for the INTERNAL_TOKEN only", async () => {
    const denied = await app.inject({
      method: 'GET',
      url: '/internal/status',
      headers: bearer(await tokenFor('a', 'owner')),
    });
    expect(denied.statusCode).toBe(401);
    const res = await app.inject({
      method: 'GET',
      url: '/internal/status',
      headers: bearer(INTERNAL_TOKEN),
    });
    expect(res.statusCode).toBe(200);
    const count = await withTenant(db, seeded.a.tenantId, (tx) =>
      tx.session.count({ where: { state: 'unpaired' } }),
    );
    expect(res.json()).toMatchObject({
      tenant: slugA,
      sessions: { byState: { unpaired: count, connected: 0 } },
    });
    expect(res.json().sessions.total).toBe(
      await withTenant(db, seeded.a.tenantId, (tx) => tx.session.count()),
    );
  });
});

/** Creates a Cloud API session with a contact and a conversation on it in tenant A. */
async function cloudConversation(name: string): Promise<{ sessionId: string; conversationId: string }> {
  const { tenantId } = seeded.a;
  return withTenant(db, tenantId, async (tx) => {
    const session = await tx.session.create({ data: { tenantId, name, channel: 'cloud_api' } });
    const contact = await tx.contact.create({ data: { tenantId, pushName: `Cloud ${name}` } });
    const conversation = await tx.conversation.create({
      data: { tenantId, sessionId: session.id, contactId: contact.id },
    });
    return { sessionId: session.id, conversationId: conversation.id };
  });
}

function tenantQueue(name: string): Queue {
  return new Queue(name, { connection: redis, prefix: queuePrefix(`sb:${slugA}:`) });
}

async function auditCount(action: string, targetId: string): Promise<number> {
  return withTenant(db, seeded.a.tenantId, (tx) => tx.auditLogEntry.count({ where: { action, targetId } }));
}

describe('dead letters', () => {
  it("lists a session's failed sends with their error and replays one once, for admins only", async () => {
    const admin = await tokenFor('a', 'admin');
    const { sessionId, messageId, tenantId } = seeded.a;
    const queue = tenantQueue(QUEUE_NAMES.outbound(sessionId));
    await withTenant(db, tenantId, (tx) =>
      tx.message.update({
        where: { id: messageId },
        data: { status: 'failed', failureReason: 'INVALID_NUMBER' },
      }),
    );
    // A consumer that fails the job for good, as the worker's does for an unrecoverable error.
    const worker = new Worker(
      QUEUE_NAMES.outbound(sessionId),
      async () => {
        throw new UnrecoverableError('INVALID_NUMBER: not on WhatsApp');
      },
      {
        connection: new Redis({ ...redisOptions(), maxRetriesPerRequest: null }),
        prefix: queuePrefix(`sb:${slugA}:`),
      },
    );
    const jobId = `send-${messageId}`;
    await queue.add('send', { kind: 'send', tenantId, messageId }, { jobId, attempts: 3 });
    await eventually('the job is failed', async () => (await queue.getJobState(jobId)) === 'failed', 10_000);
    await worker.close();
    await worker.disconnect();

    const url = `/v1/sessions/${sessionId}/dead-letters`;
    expect(
      (await app.inject({ method: 'GET', url, headers: bearer(await tokenFor('a', 'agent')) })).statusCode,
    ).toBe(403);
    const list = await app.inject({ method: 'GET', url, headers: bearer(admin) });
    expect(list.statusCode).toBe(200);
    const mine = (body: { items: { jobId: string }[] }) => body.items.filter((item) => item.jobId === jobId);
    expect(mine(list.json())).toEqual([
      expect.objectContaining({
        jobId,
        kind: 'send',
        messageId,
        scheduledMessageId: null,
        failedReason: 'INVALID_NUMBER: not on WhatsApp',
        attemptsMade: 1,
      }),
    ]);
    const replay = () =>
      app.inject({ method: 'POST', url: `${url}/${jobId}/replay`, headers: bearer(admin) });
    expect((await replay()).statusCode).toBe(202);
    expect(await queue.getJobState(jobId)).toBe('waiting');
    const message = await withTenant(db, tenantId, (tx) =>
      tx.message.findUniqueOrThrow({ where: { id: messageId } }),
    );
    expect(message).toMatchObject({ status: 'queued', failureReason: null });
    expect(await auditCount('dead_letter.replayed', sessionId)).toBe(1);
    // Not failed any more: a second click is refused, and the list is empty.
    expect((await replay()).statusCode).toBe(409);
    expect(mine((await app.inject({ method: 'GET', url, headers: bearer(admin) })).json())).toEqual([]);
    const missing = await app.inject({
      method: 'POST',
      url: `${url}/send-${randomUUID()}/replay`,
      headers: bearer(admin),
    });
    expect(missing.statusCode).toBe(404);
    const bad = await app.inject({ method: 'POST', url: `${url}/nope/replay`, headers: bearer(admin) });
    expect(bad.json().error.message).toContain('params.jobId');
    await queue.obliterate({ force: true });
    await queue.close();
  });
});

describe('session commands', () => {
  it('queues one logout command per session however often it is asked, and refuses Cloud API sessions', async () => {
    const admin = await tokenFor('a', 'admin');
    const { sessionId, tenantId } = seeded.a;
    const logout = (id: string, token = admin) =>
      app.inject({ method: 'POST', url: `/v1/sessions/${id}/logout`, headers: bearer(token) });
    const first = await logout(sessionId);
    expect(first.statusCode).toBe(202);
    expect(first.json()).toEqual({ status: 'accepted', commandId: `logout-${sessionId}` });
    expect((await logout(sessionId)).json().commandId).toBe(`logout-${sessionId}`);
    const queue = tenantQueue(QUEUE_NAMES.sessionCommands(sessionId));
    try {
      const jobs = await queue.getJobs(['waiting', 'delayed', 'active', 'prioritized']);
      const logouts = jobs.filter((j) => j.data.type === 'logout');
      expect(logouts).toHaveLength(1);
      expect(logouts[0]!.id).toBe(`logout-${sessionId}`);
      expect(sessionCommandSchema.parse(logouts[0]!.data)).toEqual({
        type: 'logout',
        tenantId,
        sessionId,
        requestedBy: seeded.a.users.admin.id,
      });
    } finally {
      await queue.close();
    }
    expect(await auditCount('session.logout_requested', sessionId)).toBe(2);
    expect((await logout(sessionId, await tokenFor('a', 'agent'))).statusCode).toBe(403);
    const cloud = await cloudConversation(`cloud-logout-${suffix}`);
    const refused = await logout(cloud.sessionId);
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error.message).toContain('Cloud API');
    const cloudQueue = tenantQueue(QUEUE_NAMES.sessionCommands(cloud.sessionId));
    try {
      expect(await cloudQueue.count()).toBe(0);
    } finally {
      await cloudQueue.close();
    }
  });

  it('queues one pairing-code command per number and refuses bad numbers and connected sessions', async () => {
    const h = bearer(await tokenFor('a', 'owner'));
    const { tenantId } = seeded.a;
    const session = await withTenant(db, tenantId, (tx) =>
      tx.session.create({ data: { tenantId, name: `pair-${suffix}`, channel: 'baileys', state: 'pairing' } }),
    );
    const ask = (phoneNumber: unknown, id = session.id) =>
      app.inject({
        method: 'POST',
        url: `/v1/sessions/${id}/pairing-code`,
        headers: h,
        payload: { phoneNumber },
      });
    expect((await ask('4915112345678')).statusCode).toBe(202);
    expect((await ask('4915112345678')).json().commandId).toBe(`pairing-code-${session.id}-4915112345678`);
    expect((await ask('4915199999999')).statusCode).toBe(202);
    const bad = await ask('+49 151 1234');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.issues[0].path).toBe('body.phoneNumber');
    const queue = tenantQueue(QUEUE_NAMES.sessionCommands(session.id));
    try {
      const jobs = await queue.getJobs(['waiting', 'delayed', 'active', 'prioritized']);
      expect(jobs.map((j) => j.id).sort()).toEqual([
        `pairing-code-${session.id}-4915112345678`,
        `pairing-code-${session.id}-4915199999999`,
      ]);
      const job = jobs.find((j) => j.id?.endsWith('4915112345678'))!;
      expect(sessionCommandSchema.parse(job.data)).toEqual({
        type: 'pairing-code',
        tenantId,
        sessionId: session.id,
        phoneNumber: '4915112345678',
        requestedBy: seeded.a.users.owner.id,
      });
    } finally {
      await queue.close();
    }
    expect(await auditCount('session.pairing_code_requested', session.id)).toBe(3);
    await withTenant(db, tenantId, (tx) =>
      tx.session.update({ where: { id: session.id }, data: { state: 'connected' } }),
    );
    expect((await ask('4915112345678')).statusCode).toBe(409);
  });
});

describe('scheduled messages', () => {
  it('stores the row with a delayed job, lists by status, and cancels removing the job', async () => {
    const h = bearer(await tokenFor('a', 'agent'));
    const { conversationId, sessionId, tenantId } = seeded.a;
    const schedule = (payload: object, headers = h) =>
      app.inject({ method: 'POST', url: '/v1/scheduled-messages', headers, payload });
    const sendAt = new Date(Date.now() + 3_600_000).toISOString();
    const created = await schedule({ conversationId, content: { type: 'text', text: 'later' }, sendAt });
    expect(created.statusCode).toBe(201);
    const row = created.json();
    expect(row).toMatchObject({ status: 'scheduled', sessionId, conversationId, sendAt, messageId: null });
    expect(row.content).toEqual({ type: 'text', text: 'later' });
    const queue = tenantQueue(QUEUE_NAMES.outbound(sessionId));
    try {
      const job = await queue.getJob(`scheduled-${row.id}`);
      expect(job, 'the delayed job').toBeDefined();
      expect(outboundJobSchema.parse(job!.data)).toEqual({
        kind: 'scheduled',
        tenantId,
        scheduledMessageId: row.id,
      });
      expect(await job!.isDelayed()).toBe(true);
      expect(job!.opts.delay).toBeGreaterThan(0);
      expect(job!.opts.delay).toBeLessThanOrEqual(3_600_000);

      for (const [payload, path] of [
        [
          {
            conversationId,
            content: { type: 'text', text: 'x' },
            sendAt: new Date(Date.now() - 1000).toISOString(),
          },
          'body.sendAt',
        ],
        [
          {
            conversationId,
            content: { type: 'text', text: 'x' },
            sendAt: new Date(Date.now() + 800 * 86_400_000).toISOString(),
          },
          'body.sendAt',
        ],
        [{ conversationId, content: { type: 'text', text: '' }, sendAt }, 'body.content.text'],
        [{ conversationId, content: { type: 'sticker' }, sendAt }, 'body.content.type'],
      ] as const) {
        const res = await schedule(payload);
        expect(res.statusCode, JSON.stringify(payload)).toBe(400);
        expect(res.json().error.issues.map((i: { path: string }) => i.path)).toContain(path);
      }
      const foreign = await schedule({
        conversationId: seeded.b.conversationId,
        content: { type: 'text', text: 'x' },
        sendAt,
      });
      expect(foreign.statusCode).toBe(404);
      const viewer = await schedule(
        { conversationId, content: { type: 'text', text: 'x' }, sendAt },
        bearer(await tokenFor('a', 'viewer')),
      );
      expect(viewer.statusCode).toBe(403);

      const list = (status: string) =>
        app.inject({ method: 'GET', url: `/v1/scheduled-messages?status=${status}`, headers: h });
      expect((await list('scheduled')).json().items.map((i: { id: string }) => i.id)).toContain(row.id);
      expect((await list('cancelled')).json().items.map((i: { id: string }) => i.id)).not.toContain(row.id);

      const cancel = () =>
        app.inject({ method: 'POST', url: `/v1/scheduled-messages/${row.id}/cancel`, headers: h });
      const cancelled = await cancel();
      expect(cancelled.statusCode).toBe(200);
      expect(cancelled.json().status).toBe('cancelled');
      expect(await queue.getJob(`scheduled-${row.id}`)).toBeUndefined();
      expect((await cancel()).statusCode).toBe(409);
      expect((await list('cancelled')).json().items.map((i: { id: string }) => i.id)).toContain(row.id);
      const got = await app.inject({ method: 'GET', url: `/v1/scheduled-messages/${row.id}`, headers: h });
      expect(got.json().status).toBe('cancelled');
    } finally {
      await queue.close();
    }
    expect(await auditCount('scheduled_message.created', row.id)).toBe(1);
    expect(await auditCount('scheduled_message.cancelled', row.id)).toBe(1);
  });
});

describe('template sends', () => {
  it('sends templates through Cloud API sessions only, checked against the stored template', async () => {
    const h = bearer(await tokenFor('a', 'agent'));
    const { tenantId } = seeded.a;
    const cloud = await cloudConversation(`cloud-tpl-${suffix}`);
    await withTenant(db, tenantId, (tx) =>
      tx.messageTemplate.create({
        data: { tenantId, name: 'order_update', language: 'en_US', body: 'Order {{1}} ships {{2}}' },
      }),
    );
    const send = (payload: object) =>
      app.inject({
        method: 'POST',
        url: '/v1/messages',
        headers: { ...h, 'idempotency-key': `tpl-${randomBytes(6).toString('hex')}` },
        payload,
      });
    const components = [
      {
        type: 'body',
        parameters: [
          { type: 'text', text: 'A-17' },
          { type: 'text', text: 'today' },
        ],
      },
    ];
    const sent = await send({
      conversationId: cloud.conversationId,
      type: 'template',
      name: 'order_update',
      language: 'en_US',
      components,
    });
    expect(sent.statusCode, sent.body).toBe(201);
    expect(sent.json()).toMatchObject({
      type: 'template',
      body: 'Order A-17 ships today',
      status: 'queued',
      sessionId: cloud.sessionId,
      template: { name: 'order_update', language: 'en_US', components },
    });
    const stored = await withTenant(db, tenantId, (tx) =>
      tx.message.findUniqueOrThrow({ where: { id: sent.json().id } }),
    );
    expect(stored.type).toBe('template');
    expect(stored.template).toEqual({ name: 'order_update', language: 'en_US', components });
    const queue = tenantQueue(QUEUE_NAMES.outbound(cloud.sessionId));
    try {
      expect(await queue.getJob(`send-${sent.json().id}`)).toBeDefined();
    } finally {
      await queue.close();
    }

    const tooFew = await send({
      conversationId: cloud.conversationId,
      type: 'template',
      name: 'order_update',
      language: 'en_US',
      components: [{ type: 'body', parameters: [{ type: 'text', text: 'A-17' }] }],
    });
    expect(tooFew.statusCode).toBe(400);
    expect(tooFew.json().error.message).toContain('2 body parameter');
    const misspelt = await send({
      conversationId: cloud.conversationId,
      type: 'template',
      name: 'order_update',
      language: 'en_US',
      components: [{ type: 'body', parameters: [{ type: 'text', txt: 'A-17' }] }],
    });
    expect(misspelt.statusCode).toBe(400);
    const unknownHere = await send({
      conversationId: cloud.conversationId,
      type: 'template',
      name: 'promo_winter',
      language: 'de',
    });
    expect(unknownHere.statusCode).toBe(201);
    expect(unknownHere.json().body).toBe('[template promo_winter (de)]');

    const baileys = await send({
      conversationId: seeded.a.conversationId,
      type: 'template',
      name: 'order_update',
      language: 'en_US',
      components,
    });
    expect(baileys.statusCode).toBe(422);
    expect(baileys.json().error.code).toBe('channel_unsupported');
    expect(baileys.json().error.message).toContain('Cloud API session');
  });
});

/** A multipart/form-data body with `fields` and an optional file part named `file`. */
function form(fields: Record<string, string>, file?: { name: string; type: string; data: Buffer }) {
  const boundary = `----sb${randomBytes(8).toString('hex')}`;
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) {
    parts.push(
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`),
    );
  }
  if (file) {
    parts.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${file.name}"\r\nContent-Type: ${file.type}\r\n\r\n`,
      ),
      file.data,
      Buffer.from('\r\n'),
    );
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return {
    payload: Buffer.concat(parts),
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  };
}

const PDF = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(500)]);
// A Windows executable's header (MZ, then the DOS stub), as a renamed .exe would start.
const EXE = Buffer.concat([Buffer.from([0x4d, 0x5a, 0x90, 0x00, 0x03, 0x00]), randomBytes(500)]);

describe('media', () => {
  it('uploads, checks type and content, stores under the tenant, enqueues, and serves the file back', async () => {
    const h = bearer(await tokenFor('a', 'agent'));
    const { conversationId, sessionId, tenantId } = seeded.a;
    const upload = (
      fields: Record<string, string>,
      file?: Parameters<typeof form>[1],
      key: string = randomUUID(),
    ) => {
      const body = form(fields, file);
      return app.inject({
        method: 'POST',
        url: '/v1/messages/media',
        headers: { ...h, ...body.headers, 'idempotency-key': key },
        payload: body.payload,
      });
    };
    const key = `media-${suffix}`;
    const photo = { name: 'photo.jpg', type: 'image/jpeg', data: JPEG };
    const sent = await upload({ conversationId, caption: 'look' }, photo, key);
    expect(sent.statusCode, sent.body).toBe(201);
    const message = sent.json();
    expect(message).toMatchObject({
      type: 'image',
      body: 'look',
      status: 'queued',
      sessionId,
      media: {
        mimeType: 'image/jpeg',
        sizeBytes: JPEG.length,
        sha256: createHash('sha256').update(JPEG).digest('hex'),
        fileName: 'photo.jpg',
      },
    });
    const row = await withTenant(db, tenantId, (tx) =>
      tx.message.findUniqueOrThrow({ where: { id: message.id } }),
    );
    expect(row.mediaStorageKey).toBe(`tenants/${tenantId}/outbound/${message.id}`);
    expect(Buffer.from((await mediaStorage.get(row.mediaStorageKey!))!)).toEqual(JPEG);
    const queue = tenantQueue(QUEUE_NAMES.outbound(sessionId));
    try {
      expect(await queue.getJob(`send-${message.id}`)).toBeDefined();
    } finally {
      await queue.close();
    }
    const replay = await upload({ conversationId, caption: 'look' }, photo, key);
    expect(replay.statusCode).toBe(200);
    expect(replay.json().id).toBe(message.id);
    const otherFile = await upload(
      { conversationId, caption: 'look' },
      { ...photo, data: Buffer.concat([JPEG, Buffer.from('x')]) },
      key,
    );
    expect(otherFile.json().error.code).toBe('idempotency_key_mismatch');

    const download = await app.inject({ method: 'GET', url: `/v1/messages/${message.id}/media`, headers: h });
    expect(download.statusCode).toBe(200);
    expect(download.rawPayload).toEqual(JPEG);
    expect(download.headers['content-type']).toBe('image/jpeg');
    expect(download.headers['x-content-type-options']).toBe('nosniff');
    expect(download.headers['content-disposition']).toMatch(/^inline; filename="photo.jpg"/);

    const pdf = await upload({ conversationId }, { name: 'invoice.pdf', type: 'application/pdf', data: PDF });
    expect(pdf.statusCode).toBe(201);
    expect(pdf.json().type).toBe('document');
    const pdfDownload = await app.inject({
      method: 'GET',
      url: `/v1/messages/${pdf.json().id}/media`,
      headers: h,
    });
    expect(pdfDownload.headers['content-disposition']).toMatch(/^attachment; filename="invoice.pdf"/);
    expect(pdfDownload.headers['content-type']).toBe('application/pdf');

    const renamed = await upload({ conversationId }, { name: 'cute-cat.jpg', type: 'image/jpeg', data: EXE });
    expect(renamed.statusCode).toBe(422);
    expect(renamed.json().error).toMatchObject({ code: 'media_type_mismatch' });
    expect(renamed.json().error.message).toContain('not image/jpeg');
    const exe = await upload(
      { conversationId },
      { name: 'setup.exe', type: 'application/x-msdownload', data: EXE },
    );
    expect(exe.statusCode).toBe(415);
    expect(exe.json().error.message).toContain('application/x-msdownload is not accepted');
    const huge = await upload(
      { conversationId },
      { name: 'big.jpg', type: 'image/jpeg', data: Buffer.concat([JPEG, randomBytes(MEDIA_MAX_BYTES)]) },
    );
    expect(huge.statusCode).toBe(413);
    expect(huge.json().error.code).toBe('payload_too_large');
    const noConversation = await upload({}, photo);
    expect(noConversation.statusCode).toBe(400);
    expect(noConversation.json().error.issues[0].path).toBe('body.conversationId');
    const noFile = await upload({ conversationId });
    expect(noFile.statusCode).toBe(400);
    expect(noFile.json().error.issues[0].path).toBe('body.file');
    const json = await app.inject({
      method: 'POST',
      url: '/v1/messages/media',
      headers: { ...h, 'idempotency-key': randomUUID() },
      payload: { conversationId },
    });
    expect(json.statusCode).toBe(415);
    const foreign = await upload({ conversationId: seeded.b.conversationId }, photo);
    expect(foreign.statusCode).toBe(404);
    const viewer = await app.inject({
      method: 'POST',
      url: '/v1/messages/media',
      headers: {
        ...bearer(await tokenFor('a', 'viewer')),
        ...form({ conversationId }, photo).headers,
        'idempotency-key': randomUUID(),
      },
      payload: form({ conversationId }, photo).payload,
    });
    expect(viewer.statusCode).toBe(403);

    const textOnly = await app.inject({
      method: 'GET',
      url: `/v1/messages/${seeded.a.messageId}/media`,
      headers: h,
    });
    expect(textOnly.statusCode).toBe(404);
    expect(textOnly.json().error.message).toContain('no stored media');
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
});

describe('conversation search pages', () => {
  it('follows the cursor through a search instead of repeating its first page', async () => {
    const h = bearer(await tokenFor('a', 'viewer'));
    const { tenantId, sessionId } = seeded.a;
    const ids = await withTenant(db, tenantId, async (tx) => {
      const out: string[] = [];
      for (let i = 0; i < 3; i++) {
        const contact = await tx.contact.create({ data: { tenantId, pushName: `Pager ${suffix} ${i}` } });
        const c = await tx.conversation.create({
          data: {
            tenantId,
            sessionId,
            contactId: contact.id,
            lastMessageAt: new Date(Date.now() - i * 1000),
          },
        });
        out.push(c.id);
      }
      return out;
    });
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let pageNo = 0; pageNo < 5; pageNo++) {
      const res: { items: { id: string }[]; nextCursor: string | null } = (
        await app.inject({
          method: 'GET',
          url: `/v1/conversations?search=${encodeURIComponent(`Pager ${suffix}`)}&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
          headers: h,
        })
      ).json();
      seen.push(...res.items.map((i) => i.id));
      cursor = res.nextCursor;
      if (!cursor) break;
    }
    expect(seen).toEqual(ids);
  });
});
