// Email delivery against a real SMTP server (smtp-server) on loopback, read back with mailparser:
// the API over its own database and Redis, its reset and invite hooks wired to a Mailer on the
// nodemailer adapter, as server.ts wires them.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
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
import forge from 'node-forge';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../app.ts';
import { settledPasswordResets } from '../services/auth.ts';
import { createSmtpTransport, Mailer, type SmtpSettings } from './index.ts';
import { type Relay, startRelay, stopRelay } from './test-relay.ts';

const SCRYPT = { N: 1024, r: 8, p: 1 };
const PASSWORD = 'correct horse battery staple';
const PUBLIC_URL = 'https://inbox.mail-test.example';
const slug = `mail-${randomBytes(3).toString('hex')}`;
const owner = `owner@${slug}.test`;

let database: TestDatabase;
let db: Db;
let redis: Redis;
let app: FastifyInstance;
let relay: Relay;
let metrics: MetricsRegistry;
const logLines: string[] = [];
const logger = createLogger({
  level: 'info',
  name: 'api-mail-test',
  destination: { write: (l) => logLines.push(l) },
});
/** The Mailer the app's hooks use: each test points it at the relay it needs. */
let mailer: Mailer;

function mailerFor(settings: Partial<SmtpSettings>): Mailer {
  return new Mailer({
    transport: createSmtpTransport({
      host: '127.0.0.1',
      tls: 'none',
      from: 'Switchboard <no-reply@mail-test.example>',
      ...settings,
    }),
    publicUrl: PUBLIC_URL,
    tenantName: 'Mail Test Co',
    locale: 'en',
    // Transient failures are retried twice, at once: the retry path runs without waiting.
    retryDelaysMs: [0, 0],
    logger,
    metrics,
  });
}

async function counted(kind: string, outcome: string): Promise<number> {
  const metric = await metrics.registry.getSingleMetric('switchboard_api_mails_total')?.get();
  return metric?.values.find((v) => v.labels.kind === kind && v.labels.outcome === outcome)?.value ?? 0;
}

/** Handled: every reset request started (token stored, hook called) and every mail handed over. */
async function settled(): Promise<void> {
  await settledPasswordResets();
  await mailer.settled();
}

function tokenOfLink(text: string): string {
  const match = /https:\/\/inbox\.mail-test\.example\/accept-invite#token=(\S+)/.exec(text);
  if (!match?.[1]) throw new Error(`no accept-invite link in: ${text}`);
  return decodeURIComponent(match[1]);
}

async function login(email: string, password: string) {
  return app.inject({ method: 'POST', url: '/v1/auth/login', payload: { tenant: slug, email, password } });
}

beforeAll(async () => {
  database = await createTestDatabase({ label: 'api-mail' });
  db = createDb({ databaseUrl: database.appUrl, applicationName: 'api-mail-test' });
  redis = new Redis({ ...redisOptions(), maxRetriesPerRequest: 1 });
  metrics = new MetricsRegistry({ service: 'api-mail-test', collectDefaultMetrics: false });
  relay = await startRelay();
  mailer = mailerFor({ port: relay.port });
  app = await buildApp({
    db,
    redis,
    tenant: { slug, displayName: 'Mail Test Co' },
    jwtSigningKey: randomBytes(32).toString('hex'),
    scrypt: SCRYPT,
    rateLimitPerMinute: 100_000,
    inboxDir: null,
    logger,
    onPasswordReset: (delivery) => mailer.passwordReset(delivery),
    onInvite: (delivery) => mailer.invite(delivery),
  });
  const tenantId = await ensureTenant(db, { slug, displayName: 'Mail Test Co' });
  const passwordHash = await hashPassword(PASSWORD, SCRYPT);
  await withTenant(db, tenantId, async (tx) => {
    const user = await tx.user.create({
      data: { tenantId, email: owner, displayName: 'Owner', passwordHash },
    });
    await tx.membership.create({ data: { tenantId, userId: user.id, role: 'owner' } });
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
  // The reset limit (3 per account per token lifetime) must not carry over between tests.
  await deleteKeysWithPrefix(redis, `sb:${slug}:`);
});

describe('password reset mail', () => {
  it('delivers one mail whose link sets the password through the API', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/auth/password-reset',
      payload: { tenant: slug, email: owner },
    });
    expect(res.statusCode).toBe(202);
    await settled();
    expect(relay.received).toHaveLength(1);
    expect(relay.envelopes[0]).toEqual([owner]);
    const mail = relay.received[0]!;
    expect(mail.subject).toBe('Reset your Mail Test Co password');
    expect(mail.from?.value[0]?.address).toBe('no-reply@mail-test.example');
    const token = tokenOfLink(mail.text ?? '');
    // The HTML part carries the same link (escaped in the attribute).
    expect(mail.html).toContain(`href="${PUBLIC_URL}/accept-invite#token=${encodeURIComponent(token)}"`);
    const confirm = await app.inject({
      method: 'POST',
      url: '/v1/auth/password-reset/confirm',
      payload: { token, password: 'a new password from the mail' },
    });
    expect(confirm.statusCode).toBe(204);
    expect((await login(owner, 'a new password from the mail')).statusCode).toBe(200);
    // Back to the seeded password for the other tests, through a second mailed link.
    await app.inject({
      method: 'POST',
      url: '/v1/auth/password-reset',
      payload: { tenant: slug, email: owner },
    });
    await settled();
    const again = tokenOfLink(relay.received[1]?.text ?? '');
    const reset = await app.inject({
      method: 'POST',
      url: '/v1/auth/password-reset/confirm',
      payload: { token: again, password: PASSWORD },
    });
    expect(reset.statusCode).toBe(204);
    // The mail's token never reaches the log.
    expect(logLines.join('')).not.toContain(token);
  });

  it('delivers nothing for an unknown address, with the same answer', async () => {
    const before = await counted('password_reset', 'sent');
    const reset = (email: string) =>
      app.inject({ method: 'POST', url: '/v1/auth/password-reset', payload: { tenant: slug, email } });
    const unknown = await reset(`nobody@${slug}.test`);
    const known = await reset(owner);
    expect(unknown.statusCode).toBe(202);
    expect(unknown.body).toBe(known.body);
    expect(unknown.headers['content-length']).toBe(known.headers['content-length']);
    await settled();
    // Only the known address's mail arrived.
    expect(relay.envelopes).toEqual([[owner]]);
    expect(await counted('password_reset', 'sent')).toBe(before + 1);
  });
});

describe('invite mail', () => {
  it('delivers the invite link, which sets the new member’s password', async () => {
    const token = (await login(owner, PASSWORD)).json().accessToken as string;
    const email = `new-agent@${slug}.test`;
    const res = await app.inject({
      method: 'POST',
      url: '/v1/team',
      headers: { authorization: `Bearer ${token}` },
      payload: { email, displayName: 'Ada <Agent>', role: 'agent' },
    });
    expect(res.statusCode).toBe(201);
    await settled();
    expect(relay.received).toHaveLength(1);
    expect(relay.envelopes[0]).toEqual([email]);
    const mail = relay.received[0]!;
    expect(mail.subject).toBe('You are invited to Mail Test Co');
    expect(mail.text).toContain(
      'Hello Ada <Agent>, you are invited to the Mail Test Co inbox on Switchboard as agent.',
    );
    // The member's name is text in the HTML part, never markup.
    expect(mail.html).toContain('Ada &lt;Agent&gt;');
    const inviteToken = tokenOfLink(mail.text ?? '');
    expect(inviteToken).toBe(res.json().invite.token);
    const accept = await app.inject({
      method: 'POST',
      url: '/v1/auth/invite/accept',
      payload: { token: inviteToken, password: 'the agent chose this one' },
    });
    expect(accept.statusCode).toBe(204);
    expect((await login(email, 'the agent chose this one')).statusCode).toBe(200);
  });
});

describe('when the SMTP server is down', () => {
  it('answers as usual, and logs and counts the failed mail', async () => {
    const down = await startRelay();
    await stopRelay(down);
    const working = mailer;
    mailer = mailerFor({ port: down.port });
    try {
      const failedBefore = await counted('password_reset', 'failed');
      const retriedBefore = await counted('password_reset', 'retried');
      const res = await app.inject({
        method: 'POST',
        url: '/v1/auth/password-reset',
        payload: { tenant: slug, email: owner },
      });
      // The same answer as with the relay up.
      expect(res.statusCode).toBe(202);
      expect(res.body).toBe('null');
      const inviteFailedBefore = await counted('invite', 'failed');
      const token = (await login(owner, PASSWORD)).json().accessToken as string;
      const invited = await app.inject({
        method: 'POST',
        url: '/v1/team',
        headers: { authorization: `Bearer ${token}` },
        payload: { email: `while-down@${slug}.test`, displayName: 'Down', role: 'viewer' },
      });
      expect(invited.statusCode).toBe(201);
      await settled();
      // A refused connection is transient: tried three times (two retries), then failed.
      expect(await counted('password_reset', 'failed')).toBe(failedBefore + 1);
      expect(await counted('password_reset', 'retried')).toBe(retriedBefore + 2);
      expect(await counted('invite', 'failed')).toBe(inviteFailedBefore + 1);
      const failures = logLines.filter((l) => l.includes('mail delivery failed'));
      expect(failures.length).toBeGreaterThanOrEqual(2);
      expect(failures.join('')).not.toContain(invited.json().invite.token);
    } finally {
      await mailer.close();
      mailer = working;
    }
  });
});

describe('STARTTLS', () => {
  let cert: string;
  let key: string;

  beforeAll(() => {
    // A self-signed certificate for 127.0.0.1, made for this run: the key by node:crypto, the
    // certificate signed with it by node-forge.
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    key = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const certificate = forge.pki.createCertificate();
    certificate.publicKey = forge.pki.publicKeyFromPem(
      pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    );
    certificate.serialNumber = randomBytes(8)
      .toString('hex')
      .replace(/^[89a-f]/, '1');
    certificate.validity.notBefore = new Date(Date.now() - 60_000);
    certificate.validity.notAfter = new Date(Date.now() + 86_400_000);
    const subject = [{ name: 'commonName', value: '127.0.0.1' }];
    certificate.setSubject(subject);
    certificate.setIssuer(subject);
    certificate.setExtensions([
      { name: 'basicConstraints', cA: true },
      { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] },
    ]);
    certificate.sign(forge.pki.privateKeyFromPem(key), forge.md.sha256.create());
    cert = forge.pki.certificateToPem(certificate);
  });

  it('upgrades, verifies the relay against the given CA, authenticates and delivers', async () => {
    const tlsRelay = await startRelay({ key, cert, authOptional: false });
    const tlsMailer = mailerFor({
      port: tlsRelay.port,
      tls: 'starttls',
      ca: cert,
      auth: { user: 'mailer', pass: 'relay-password' },
    });
    try {
      tlsMailer.invite({
        email: `tls@${slug}.test`,
        displayName: 'TLS',
        role: 'viewer',
        token: 'tok',
        expiresAt: new Date(),
      });
      await tlsMailer.settled();
      expect(tlsRelay.received).toHaveLength(1);
      expect(tlsRelay.auths).toEqual([{ username: 'mailer', password: 'relay-password' }]);
      expect(await counted('invite', 'sent')).toBeGreaterThanOrEqual(1);
    } finally {
      await tlsMailer.close();
      await stopRelay(tlsRelay);
    }
  });

  it('refuses a relay whose certificate it cannot verify, and one without STARTTLS', async () => {
    const tlsRelay = await startRelay({ key, cert });
    const plainRelay = await startRelay();
    const untrusting = mailerFor({ port: tlsRelay.port, tls: 'starttls' });
    const requiring = mailerFor({ port: plainRelay.port, tls: 'starttls' });
    try {
      const before = await counted('invite', 'failed');
      for (const m of [untrusting, requiring])
        m.invite({
          email: `x@${slug}.test`,
          displayName: 'X',
          role: 'viewer',
          token: 'tok',
          expiresAt: new Date(),
        });
      await untrusting.settled();
      await requiring.settled();
      expect(tlsRelay.received).toHaveLength(0);
      expect(plainRelay.received).toHaveLength(0);
      expect(await counted('invite', 'failed')).toBe(before + 2);
    } finally {
      await untrusting.close();
      await requiring.close();
      await stopRelay(tlsRelay);
      await stopRelay(plainRelay);
    }
  });
});
