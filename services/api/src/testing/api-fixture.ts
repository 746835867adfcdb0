// The API test files' shared fixture: one app over a database of the file's own (two seeded
// tenants, A and B, with a member of every role), Redis, local media storage, and the helpers the
// tests share. Each test file calls setupApi() once at its top level; the bindings below are set
// by its beforeAll (ES module bindings are live, so importers see the values).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDb, type Db, ensureTenant, withTenant } from '@switchboard/db';
import { LocalMediaStorage, queuePrefix } from '@switchboard/messaging/producer';
import { hashPassword } from '@switchboard/passwords';
import { SealingKeyring } from '@switchboard/secrets';
import {
  createRedisRoleUser,
  createTestDatabase,
  deleteKeysWithPrefix,
  type RedisRoleUser,
  redisOptions,
  type TestDatabase,
} from '@switchboard/testing';
import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect } from 'vitest';
import { buildApp } from '../app.ts';
import type { PasswordResetDelivery } from '../context.ts';

/** Waits until `probe` holds, polling every 50 ms, or throws after `timeoutMs`. */
export async function eventually(
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
export const SCRYPT = { N: 1024, r: 8, p: 1 };
export const PASSWORD = 'correct horse battery staple';
export const STREAMING = '/v1/realtime';
export const CLOUD_SECRET = 'meta-app-secret';
export const ROLES = ['owner', 'admin', 'agent', 'viewer'] as const;
export const INTERNAL_TOKEN = 'internal-token-0123456789';
/** The API's SEALING_KEYS in tests: webhook secrets are sealed with k1. */
export const SEALING_KEYS = `k1:${Buffer.alloc(32, 11).toString('base64')}`;
export const MEDIA_MAX_BYTES = 64 * 1024;
export const JPEG = Buffer.concat([
  Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10]),
  Buffer.from('JFIF'),
  randomBytes(2000),
]);
export let mediaDir: string;
export let mediaStorage: LocalMediaStorage;

export let database: TestDatabase;
export let db: Db;
/** The tests' own Redis client (the server's administrator: seeding, checks, cleanup). */
export let redis: Redis;
/** The app's client: the operator's `api` ACL user for both tenants' prefixes, so every test runs under its rules. */
let apiRedis: Redis;
let apiRedisUser: RedisRoleUser | undefined;
export let app: FastifyInstance;
export const resets: PasswordResetDelivery[] = [];
/** While `hold` is set, the reset delivery hook records the delivery, then waits for it. */
export const resetGate: { hold: Promise<void> | undefined } = { hold: undefined };
export const suffix = randomBytes(3).toString('hex');
export const slugA = `api-a-${suffix}`;
export const slugB = `api-b-${suffix}`;

export interface Seeded {
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
export const seeded: Record<'a' | 'b', Seeded> = {} as never;

export async function seed(slug: string): Promise<Seeded> {
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

export async function login(slug: string, email: string, password = PASSWORD, ip = '10.0.0.1') {
  return app.inject({
    method: 'POST',
    url: '/v1/auth/login',
    payload: { tenant: slug, email, password },
    remoteAddress: ip,
  });
}
export const tokens: Record<string, string> = {};
export async function tokenFor(tenant: 'a' | 'b', role: (typeof ROLES)[number]): Promise<string> {
  const key = `${tenant}:${role}`;
  if (!tokens[key]) {
    const res = await login(tenant === 'a' ? slugA : slugB, seeded[tenant].users[role].email);
    expect(res.statusCode).toBe(200);
    tokens[key] = res.json().accessToken;
  }
  return tokens[key]!;
}
export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Starts the app and seeds both tenants before the file's tests; closes and removes everything after. */
export function setupApi(): void {
  beforeAll(async () => {
    mediaDir = await mkdtemp(join(tmpdir(), 'api-media-'));
    mediaStorage = new LocalMediaStorage(mediaDir);
    database = await createTestDatabase({ label: 'api' });
    db = createDb({ databaseUrl: database.appUrl, applicationName: 'api-test' });
    redis = new Redis({ ...redisOptions(), maxRetriesPerRequest: 1 });
    apiRedisUser = await createRedisRoleUser('api', [`sb:${slugA}:`, `sb:${slugB}:`]);
    apiRedis = new Redis({
      ...redisOptions(),
      username: apiRedisUser.username,
      password: apiRedisUser.password,
      maxRetriesPerRequest: 1,
    });
    app = await buildApp({
      db,
      redis: apiRedis,
      tenant: { slug: slugA, displayName: 'Tenant A' },
      jwtSigningKey: randomBytes(32).toString('hex'),
      scrypt: SCRYPT,
      loginMaxFailures: 3,
      rateLimitPerMinute: 100_000,
      internalToken: INTERNAL_TOKEN,
      sealingKeys: SealingKeyring.parse(SEALING_KEYS),
      // Names the tests register receivers under (no DNS here); everything else must resolve publicly.
      webhookAllowedHosts: ['a.example', 'b.example', 'attacker.example'],
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
      onPasswordReset: async (delivery) => {
        resets.push(delivery);
        await resetGate.hold;
      },
    });
    seeded.a = await seed(slugA);
    seeded.b = await seed(slugB);
  });

  afterAll(async () => {
    await app?.close();
    for (const slug of [slugA, slugB]) await deleteKeysWithPrefix(redis, `sb:${slug}:`);
    apiRedis?.disconnect();
    await apiRedisUser?.remove();
    redis?.disconnect();
    await db?.$disconnect();
    await database?.drop();
    if (mediaDir) await rm(mediaDir, { recursive: true, force: true });
  });
}

/** Creates a Cloud API session with a contact and a conversation on it in tenant A. */
export async function cloudConversation(
  name: string,
): Promise<{ sessionId: string; conversationId: string }> {
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

export function tenantQueue(name: string): Queue {
  return new Queue(name, { connection: redis, prefix: queuePrefix(`sb:${slugA}:`) });
}

export async function auditCount(action: string, targetId: string): Promise<number> {
  return withTenant(db, seeded.a.tenantId, (tx) => tx.auditLogEntry.count({ where: { action, targetId } }));
}

/** A multipart/form-data body with `fields` and an optional file part named `file`. */
export function form(fields: Record<string, string>, file?: { name: string; type: string; data: Buffer }) {
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

export const PDF = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(500)]);
// A Windows executable's header (MZ, then the DOS stub), as a renamed .exe would start.
export const EXE = Buffer.concat([Buffer.from([0x4d, 0x5a, 0x90, 0x00, 0x03, 0x00]), randomBytes(500)]);
