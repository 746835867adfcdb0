// Invites (send, resend, revoke, accept), security notices, mails in the member's language,
// transient SMTP failures retried, and the identity events in the audit log and its JSON-lines
// export: the API over its own Postgres and Redis, its delivery hooks wired to a Mailer on the
// nodemailer adapter as server.ts wires them, against a real SMTP server (smtp-server) on loopback.
import { randomBytes } from 'node:crypto';
import { createDb, type Db, ensureTenant, withTenant } from '@switchboard/db';
import { hashPassword } from '@switchboard/passwords';
import { createLogger, MetricsRegistry } from '@switchboard/telemetry';
import {
  createTestDatabase,
  deleteKeysWithPrefix,
  redisOptions,
  type TestDatabase,
} from '@switchboard/testing';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import type { ParsedMail } from 'mailparser';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../app.ts';
import { EXPORT_BATCH } from '../services/audit-log.ts';
import { settledPasswordResets } from '../services/auth.ts';
import {
  createSmtpTransport,
  Mailer,
  mailLocaleOf,
  securityNoticeMail,
  sendSecurityNotice,
  settledSecurityNotices,
} from './index.ts';
import { type Relay, startRelay, stopRelay } from './test-relay.ts';

const SCRYPT = { N: 1024, r: 8, p: 1 };
const PASSWORD = 'correct horse battery staple';
const PUBLIC_URL = 'https://inbox.identity-mail.example';
const slug = `idmail-${randomBytes(3).toString('hex')}`;
const owner = `owner@${slug}.test`;
const agent = `agent@${slug}.test`;

let database: TestDatabase;
let db: Db;
let redis: Redis;
let app: FastifyInstance;
let relay: Relay;
let mailer: Mailer;
let metrics: MetricsRegistry;
let tenantId: string;
const ids: { owner: string; agent: string } = { owner: '', agent: '' };
const logLines: string[] = [];

/** Handled: every reset request and notice handed over, and every mail sent or failed. */
async function settled(): Promise<void> {
  await settledPasswordResets();
  await settledSecurityNotices();
  await mailer.settled();
}

async function counted(kind: string, outcome: string): Promise<number> {
  const metric = await metrics.registry.getSingleMetric('switchboard_api_mails_total')?.get();
  return metric?.values.find((v) => v.labels.kind === kind && v.labels.outcome === outcome)?.value ?? 0;
}

function tokenOfLink(text: string | undefined): string {
  const match = /https:\/\/inbox\.identity-mail\.example\/accept-invite#token=(\S+)/.exec(text ?? '');
  if (!match?.[1]) throw new Error(`no accept-invite link in: ${text}`);
  return decodeURIComponent(match[1]);
}

/** The mails that arrived for `to` since the test began. */
function mailsTo(to: string): ParsedMail[] {
  return relay.received.filter((_, i) => relay.envelopes[i]?.includes(to));
}

async function login(email: string, password: string, userAgent = 'test-browser/1') {
  return app.inject({
    method: 'POST',
    url: '/v1/auth/login',
    headers: { 'user-agent': userAgent },
    payload: { tenant: slug, email, password },
  });
}

async function bearer(email: string, password = PASSWORD): Promise<{ authorization: string }> {
  const res = await login(email, password);
  expect(res.statusCode).toBe(200);
  return { authorization: `Bearer ${res.json().accessToken}` };
}

async function actions(userId: string): Promise<string[]> {
  const rows = await withTenant(db, tenantId, (tx) =>
    tx.auditLogEntry.findMany({
      // A sign-in's target is the session it started; its actor is the user.
      where: { OR: [{ targetId: userId }, { actorId: userId, action: 'auth.sign_in' }] },
      orderBy: [{ at: 'asc' }, { id: 'asc' }],
    }),
  );
  return rows.map((r) => r.action);
}

beforeAll(async () => {
  database = await createTestDatabase({ label: 'api-idmail' });
  db = createDb({ databaseUrl: database.appUrl, applicationName: 'api-idmail-test' });
  redis = new Redis({ ...redisOptions(), maxRetriesPerRequest: 1 });
  metrics = new MetricsRegistry({ service: 'api-idmail-test', collectDefaultMetrics: false });
  relay = await startRelay();
  const logger = createLogger({
    level: 'info',
    name: 'api-idmail-test',
    destination: { write: (l) => logLines.push(l) },
  });
  mailer = new Mailer({
    transport: createSmtpTransport({
      host: '127.0.0.1',
      port: relay.port,
      tls: 'none',
      from: 'Switchboard <no-reply@identity-mail.example>',
    }),
    publicUrl: PUBLIC_URL,
    tenantName: 'Mail Co',
    locale: 'en',
    // Transient failures are retried twice, at once: the retry path runs without waiting.
    retryDelaysMs: [0, 0],
    logger,
    metrics,
  });
  app = await buildApp({
    db,
    redis,
    tenant: { slug, displayName: 'Mail Co' },
    jwtSigningKey: randomBytes(32).toString('hex'),
    scrypt: SCRYPT,
    rateLimitPerMinute: 100_000,
    loginMaxFailures: 50,
    inboxDir: null,
    logger,
    onPasswordReset: (delivery) => mailer.passwordReset(delivery),
    onInvite: (delivery) => mailer.invite(delivery),
    onSecurityNotice: (delivery) => mailer.securityNotice(delivery),
  });
  tenantId = await ensureTenant(db, { slug, displayName: 'Mail Co' });
  const passwordHash = await hashPassword(PASSWORD, SCRYPT);
  await withTenant(db, tenantId, async (tx) => {
    for (const [key, email, role] of [
      ['owner', owner, 'owner'],
      ['agent', agent, 'agent'],
    ] as const) {
      const user = await tx.user.create({ data: { tenantId, email, displayName: key, passwordHash } });
      await tx.membership.create({ data: { tenantId, userId: user.id, role } });
      ids[key] = user.id;
    }
  });
});

afterAll(async () => {
  await app?.close();
  await mailer?.close();
  await stopRelay(relay);
  if (redis) await deleteKeysWithPrefix(redis, `sb:${slug}:`);
  redis?.disconnect();
  await db?.$disconnect();
  await database?.drop();
});

beforeEach(async () => {
  await settled();
  relay.received.length = 0;
  relay.envelopes.length = 0;
  relay.refuseNext.length = 0;
  // Reset limits and remembered devices do not carry over between tests.
  await deleteKeysWithPrefix(redis, `sb:${slug}:`);
});

describe('invites', () => {
  it('are mailed, listed with their expiry, resent (the old link dies) and accepted once', async () => {
    const h = await bearer(owner);
    const email = `ines@${slug}.test`;
    const invited = await app.inject({
      method: 'POST',
      url: '/v1/team',
      headers: h,
      payload: { email, displayName: 'Inés', role: 'agent', locale: 'es' },
    });
    expect(invited.statusCode).toBe(201);
    const userId = invited.json().userId as string;
    await settled();
    // In the language the inviter chose for her.
    const [first] = mailsTo(email);
    expect(first?.subject).toBe('Te invitaron a Mail Co');
    expect(first?.text).toContain('como agente');
    const oldToken = tokenOfLink(first?.text);
    expect(oldToken).toBe(invited.json().invite.token);

    const pending = await app.inject({ method: 'GET', url: '/v1/team/invites', headers: h });
    expect(pending.statusCode).toBe(200);
    expect(pending.json().items).toEqual([
      expect.objectContaining({ userId, email, role: 'agent', expiresAt: invited.json().invite.expiresAt }),
    ]);

    const resent = await app.inject({ method: 'POST', url: `/v1/team/invites/${userId}/resend`, headers: h });
    expect(resent.statusCode).toBe(200);
    await settled();
    const second = mailsTo(email)[1];
    const newToken = tokenOfLink(second?.text);
    expect(newToken).toBe(resent.json().invite.token);
    expect(newToken).not.toBe(oldToken);

    const accept = (token: string) =>
      app.inject({
        method: 'POST',
        url: '/v1/auth/invite/accept',
        payload: { token, password: 'ines chose this password' },
      });
    expect((await accept(oldToken)).json().error.code).toBe('invalid_reset_token');
    expect((await accept(newToken)).statusCode).toBe(204);
    expect((await accept(newToken)).json().error.code).toBe('invalid_reset_token');
    expect((await login(email, 'ines chose this password')).statusCode).toBe(200);
    // Accepted: no longer pending, and no resend for it.
    expect((await app.inject({ method: 'GET', url: '/v1/team/invites', headers: h })).json().items).toEqual(
      [],
    );
    const late = await app.inject({ method: 'POST', url: `/v1/team/invites/${userId}/resend`, headers: h });
    expect(late.statusCode).toBe(409);
    // Accepting an invite is not a password change: no notice.
    await settled();
    expect(mailsTo(email).map((m) => m.subject)).toEqual([
      'Te invitaron a Mail Co',
      'Te invitaron a Mail Co',
    ]);
    expect(await actions(userId)).toEqual([
      'invite.sent',
      'invite.resent',
      'invite.accepted',
      'auth.sign_in',
    ]);
  });

  it('are revoked (every link dies) and the address can be invited again, as can a removed member', async () => {
    const h = await bearer(owner);
    const email = `victor@${slug}.test`;
    const invite = () =>
      app.inject({
        method: 'POST',
        url: '/v1/team',
        headers: h,
        payload: { email, displayName: 'Victor', role: 'viewer' },
      });
    const first = await invite();
    expect(first.statusCode).toBe(201);
    const userId = first.json().userId as string;
    const revoked = await app.inject({ method: 'DELETE', url: `/v1/team/invites/${userId}`, headers: h });
    expect(revoked.statusCode).toBe(204);
    const dead = await app.inject({
      method: 'POST',
      url: '/v1/auth/invite',
      payload: { token: first.json().invite.token },
    });
    expect(dead.json().error.code).toBe('invalid_reset_token');
    expect((await app.inject({ method: 'GET', url: '/v1/team/invites', headers: h })).json().items).toEqual(
      [],
    );
    expect(
      (await app.inject({ method: 'DELETE', url: `/v1/team/invites/${userId}`, headers: h })).statusCode,
    ).toBe(404);

    // Invited again: a new link that works.
    const again = await invite();
    expect(again.statusCode).toBe(201);
    const described = await app.inject({
      method: 'POST',
      url: '/v1/auth/invite',
      payload: { token: again.json().invite.token },
    });
    expect(described.json()).toMatchObject({ email, purpose: 'invite' });
    await app.inject({
      method: 'POST',
      url: '/v1/auth/invite/accept',
      payload: { token: again.json().invite.token, password: 'victor has a password' },
    });
    // A member who signed in is no pending invite: revoke refuses, removal is the way.
    expect(
      (await app.inject({ method: 'DELETE', url: `/v1/team/invites/${userId}`, headers: h })).statusCode,
    ).toBe(409);
    const role = await app.inject({
      method: 'PATCH',
      url: `/v1/team/${userId}`,
      headers: h,
      payload: { role: 'agent' },
    });
    expect(role.statusCode).toBe(200);
    expect((await app.inject({ method: 'DELETE', url: `/v1/team/${userId}`, headers: h })).statusCode).toBe(
      204,
    );
    const third = await invite();
    expect(third.statusCode).toBe(201);
    await settled();
    expect(mailsTo(email)).toHaveLength(3);
    expect(await actions(userId)).toEqual([
      'invite.sent',
      'invite.revoked',
      'invite.sent',
      'invite.accepted',
      'member.role_changed',
      'member.removed',
      'invite.sent',
    ]);
  });

  it('are refused to a member below admin, and an unknown id is a 404', async () => {
    const h = await bearer(agent);
    expect((await app.inject({ method: 'GET', url: '/v1/team/invites', headers: h })).statusCode).toBe(403);
    const owners = await bearer(owner);
    const unknown = await app.inject({
      method: 'POST',
      url: '/v1/team/invites/00000000-0000-4000-8000-000000000000/resend',
      headers: owners,
    });
    expect(unknown.statusCode).toBe(404);
    const bad = await app.inject({ method: 'POST', url: '/v1/team/invites/nope/resend', headers: owners });
    expect(bad.statusCode).toBe(400);
  });
});

describe("the first owner's invite", () => {
  it('is mailed too when the operator asks for it, and its link sets the owner up', async () => {
    // A second API over the same database for a fresh tenant (no owner yet), as the operator finds it.
    const freshSlug = `${slug}-fresh`;
    const internalToken = randomBytes(16).toString('hex');
    const fresh = await buildApp({
      db,
      redis,
      tenant: { slug: freshSlug, displayName: 'Fresh Co' },
      jwtSigningKey: randomBytes(32).toString('hex'),
      scrypt: SCRYPT,
      rateLimitPerMinute: 100_000,
      inboxDir: null,
      internalToken,
      onInvite: (delivery) => mailer.invite(delivery),
    });
    try {
      const email = `first-owner@${slug}.test`;
      const made = await fresh.inject({
        method: 'POST',
        url: '/internal/owner-invite',
        headers: { authorization: `Bearer ${internalToken}` },
        payload: { email },
      });
      expect(made.statusCode).toBe(201);
      await settled();
      const [mail] = mailsTo(email);
      expect(mail?.text).toContain('as owner.');
      const token = tokenOfLink(mail?.text);
      expect(token).toBe(made.json().token);
      const accept = await fresh.inject({
        method: 'POST',
        url: '/v1/auth/invite/accept',
        payload: { token, password: 'the first owner password' },
      });
      expect(accept.statusCode).toBe(204);
    } finally {
      await fresh.close();
      await deleteKeysWithPrefix(redis, `sb:${freshSlug}:`);
    }
  });
});

describe("mail in the member's language", () => {
  it('arrives in the locale the member chose, and in the tenant default without one', async () => {
    const h = await bearer(agent);
    const set = await app.inject({
      method: 'PATCH',
      url: '/v1/auth/me',
      headers: h,
      payload: { locale: 'pt-BR' },
    });
    expect(set.statusCode).toBe(200);
    expect(set.json()).toEqual({ locale: 'pt-BR' });
    const unsupported = await app.inject({
      method: 'PATCH',
      url: '/v1/auth/me',
      headers: h,
      payload: { locale: 'fr' },
    });
    expect(unsupported.statusCode).toBe(400);

    const reset = () =>
      app.inject({ method: 'POST', url: '/v1/auth/password-reset', payload: { tenant: slug, email: agent } });
    await reset();
    await settled();
    const [portuguese] = mailsTo(agent);
    expect(portuguese?.subject).toBe('Redefina sua senha de Mail Co');
    expect(portuguese?.text).toContain('Definir uma nova senha');
    expect(portuguese?.html).toContain('<html lang="pt-BR">');

    // Back to the tenant's default (English here).
    const cleared = await app.inject({
      method: 'PATCH',
      url: '/v1/auth/me',
      headers: h,
      payload: { locale: null },
    });
    expect(cleared.json()).toEqual({ locale: null });
    await reset();
    await settled();
    expect(mailsTo(agent)[1]?.subject).toBe('Reset your Mail Co password');
  });

  it('falls back to the language alone, then to English', () => {
    expect(mailLocaleOf('pt-br')).toBe('pt-BR');
    expect(mailLocaleOf('pt')).toBe('pt-BR');
    expect(mailLocaleOf('es-MX')).toBe('es');
    expect(mailLocaleOf('fr')).toBe('en');
    expect(mailLocaleOf(null, 'es')).toBe('es');
    expect(mailer.localeFor('de-DE')).toBe('en');
  });
});

describe('security notices', () => {
  it('escape what the client sent (the User-Agent) in the HTML part', () => {
    const mail = securityNoticeMail('en', {
      kind: 'new_sign_in',
      email: 'x@example.com',
      displayName: 'X',
      tenant: 'T & Co',
      link: `${PUBLIC_URL}/`,
      at: new Date('2026-01-02T03:04:05Z'),
      ip: '192.0.2.1',
      device: '<img src=x onerror=alert(1)>',
    });
    expect(mail.html).not.toContain('<img');
    expect(mail.html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(mail.html).toContain('T &amp; Co');
    expect(mail.text).toContain('When: 2 January 2026 at 03:04 UTC');
  });

  it('mail a sign-in from a new device, once, and never the first sign-in', async () => {
    const noticesBefore = await counted('security_notice', 'sent');
    expect((await login(owner, PASSWORD, 'Browser A')).statusCode).toBe(200);
    expect((await login(owner, PASSWORD, 'Browser A')).statusCode).toBe(200);
    await settled();
    expect(mailsTo(owner)).toHaveLength(0);
    expect((await login(owner, PASSWORD, 'Browser B on a new laptop')).statusCode).toBe(200);
    expect((await login(owner, PASSWORD, 'Browser B on a new laptop')).statusCode).toBe(200);
    await settled();
    const notices = mailsTo(owner);
    expect(notices.map((m) => m.subject)).toEqual(['New sign-in to Mail Co']);
    expect(notices[0]?.text).toContain('Device: Browser B on a new laptop');
    expect(notices[0]?.text).toContain('IP address: 127.0.0.1');
    expect(notices[0]?.text).toContain(`${PUBLIC_URL}/`);
    expect(await counted('security_notice', 'sent')).toBe(noticesBefore + 1);
  });

  it('mail a password change after a reset, in the member language', async () => {
    await withTenant(db, tenantId, (tx) =>
      tx.user.update({ where: { id: ids.agent }, data: { locale: 'es' } }),
    );
    await app.inject({
      method: 'POST',
      url: '/v1/auth/password-reset',
      payload: { tenant: slug, email: agent },
    });
    await settled();
    const token = tokenOfLink(mailsTo(agent)[0]?.text);
    const confirm = await app.inject({
      method: 'POST',
      url: '/v1/auth/password-reset/confirm',
      payload: { token, password: PASSWORD },
    });
    expect(confirm.statusCode).toBe(204);
    await settled();
    expect(mailsTo(agent).map((m) => m.subject)).toEqual([
      'Restablece tu contraseña de Mail Co',
      'Tu contraseña de Mail Co cambió',
    ]);
    await withTenant(db, tenantId, (tx) =>
      tx.user.update({ where: { id: ids.agent }, data: { locale: null } }),
    );
  });

  it('mail a two-factor change through sendSecurityNotice, which never throws', async () => {
    sendSecurityNotice(app.sb, {
      tenantId,
      userId: ids.owner,
      kind: 'two_factor_changed',
      change: 'disabled',
      ip: '192.0.2.7',
    });
    // A member who does not exist gets nothing, and the caller sees nothing either.
    sendSecurityNotice(app.sb, {
      tenantId,
      userId: '00000000-0000-4000-8000-000000000000',
      kind: 'password_changed',
    });
    await settled();
    expect(relay.received.map((m) => m.subject)).toEqual(['Two-factor sign-in changed on Mail Co']);
    expect(relay.received[0]?.text).toContain('two-factor sign-in of your Mail Co account');
    expect(relay.received[0]?.text).toContain('was turned off');
    expect(relay.received[0]?.text).toContain('IP address: 192.0.2.7');
  });
});

describe('transient SMTP failures', () => {
  it('are retried (a 451 answer), permanent ones (550) are not', async () => {
    const [retried, sent, failed] = [
      await counted('password_reset', 'retried'),
      await counted('password_reset', 'sent'),
      await counted('password_reset', 'failed'),
    ];
    relay.refuseNext.push(451);
    await app.inject({
      method: 'POST',
      url: '/v1/auth/password-reset',
      payload: { tenant: slug, email: owner },
    });
    await settled();
    expect(mailsTo(owner)).toHaveLength(1);
    expect(await counted('password_reset', 'retried')).toBe(retried + 1);
    expect(await counted('password_reset', 'sent')).toBe(sent + 1);

    relay.refuseNext.push(550);
    await app.inject({
      method: 'POST',
      url: '/v1/auth/password-reset',
      payload: { tenant: slug, email: owner },
    });
    await settled();
    expect(mailsTo(owner)).toHaveLength(1);
    expect(await counted('password_reset', 'retried')).toBe(retried + 1);
    expect(await counted('password_reset', 'failed')).toBe(failed + 1);
    const failures = logLines.filter((l) => l.includes('mail delivery failed'));
    expect(failures.some((l) => l.includes('"responseCode":550'))).toBe(true);
    expect(failures.join('')).not.toContain(owner);
  });
});

describe('the audit log', () => {
  it('records sign-ins, failures and password resets', async () => {
    const userId = ids.agent;
    const before = (await actions(userId)).length;
    expect((await login(agent, 'not the password')).statusCode).toBe(401);
    expect((await login(`nobody@${slug}.test`, 'not the password')).statusCode).toBe(401);
    expect((await login(agent, PASSWORD)).statusCode).toBe(200);
    await app.inject({
      method: 'POST',
      url: '/v1/auth/password-reset',
      payload: { tenant: slug, email: agent },
    });
    await settled();
    const token = tokenOfLink(mailsTo(agent)[0]?.text);
    await app.inject({
      method: 'POST',
      url: '/v1/auth/password-reset/confirm',
      payload: { token, password: PASSWORD },
    });
    expect((await actions(userId)).slice(before)).toEqual([
      'auth.sign_in_failed',
      'auth.sign_in',
      'auth.password_reset_requested',
      'auth.password_reset_completed',
    ]);
    const unknown = await withTenant(db, tenantId, (tx) =>
      tx.auditLogEntry.findFirstOrThrow({ where: { action: 'auth.sign_in_failed', actorType: 'system' } }),
    );
    // The unknown address is kept as a hash only.
    expect(unknown.targetType).toBe('email_hash');
    expect(JSON.stringify(unknown)).not.toContain('nobody@');
    expect(unknown.metadata).toEqual({ reason: 'invalid_credentials', ip: '127.0.0.1' });
  });

  it('exports a range as JSON lines, streamed in batches without gaps or repeats, to admins only', async () => {
    // More entries than one batch, all at the same instant: the batches' keyset must break ties by id.
    const at = new Date('2001-02-03T04:05:06.789Z');
    const count = EXPORT_BATCH * 2 + 17;
    await withTenant(db, tenantId, (tx) =>
      tx.auditLogEntry.createMany({
        data: Array.from({ length: count }, (_, i) => ({
          tenantId,
          actorType: 'system' as const,
          action: 'test.bulk',
          targetType: 'n',
          targetId: String(i),
          at,
        })),
      }),
    );
    const h = await bearer(owner);
    const all = await app.inject({ method: 'GET', url: '/v1/audit-log/export', headers: h });
    expect(all.statusCode).toBe(200);
    expect(all.headers['content-type']).toBe('application/x-ndjson');
    const lines = all.body
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const bulk = lines.filter((l) => l.action === 'test.bulk');
    expect(bulk).toHaveLength(count);
    expect(new Set(bulk.map((l) => l.targetId)).size).toBe(count);
    expect(new Set(lines.map((l) => l.id)).size).toBe(lines.length);
    // Oldest first; the identity events of the other tests are there.
    const times = lines.map((l) => l.at as string);
    expect([...times].sort()).toEqual(times);
    for (const action of [
      'auth.sign_in',
      'auth.sign_in_failed',
      'invite.sent',
      'invite.revoked',
      'member.removed',
    ])
      expect(lines.some((l) => l.action === action)).toBe(true);
    expect(Object.keys(lines[0]!).sort()).toEqual(
      ['action', 'actorId', 'actorType', 'at', 'id', 'metadata', 'targetId', 'targetType'].sort(),
    );

    // A range: only the bulk entries' instant.
    const ranged = await app.inject({
      method: 'GET',
      url: `/v1/audit-log/export?from=${encodeURIComponent(at.toISOString())}&to=2001-02-03T04:05:07Z`,
      headers: h,
    });
    expect(ranged.body.trimEnd().split('\n')).toHaveLength(count);
    const empty = await app.inject({
      method: 'GET',
      url: '/v1/audit-log/export?from=1990-01-01T00:00:00Z&to=1990-01-02T00:00:00Z',
      headers: h,
    });
    expect(empty.statusCode).toBe(200);
    expect(empty.body).toBe('');

    const backwards = await app.inject({
      method: 'GET',
      url: '/v1/audit-log/export?from=2001-01-02T00:00:00Z&to=2001-01-01T00:00:00Z',
      headers: h,
    });
    expect(backwards.statusCode).toBe(400);
    const notADate = await app.inject({
      method: 'GET',
      url: '/v1/audit-log/export?from=yesterday',
      headers: h,
    });
    expect(notADate.statusCode).toBe(400);
    const agents = await bearer(agent);
    expect(
      (await app.inject({ method: 'GET', url: '/v1/audit-log/export', headers: agents })).statusCode,
    ).toBe(403);
  });
});
