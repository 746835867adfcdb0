// Two-factor sign-in over the real stack (Postgres, Redis): enrolment with a sealed secret and
// recovery codes shown once, the sign-in's second step (replay within a step refused, ±1 step
// of skew, recovery codes single use), rate limits answered 429 with Retry-After, disabling,
// the tenant's policy for admins and owners (enrol-only token), and API keys untouched. TOTP
// steps come from an injected clock, so nothing depends on when the test runs.
import { randomBytes } from 'node:crypto';
import { withTenant } from '@switchboard/db';
import { hashPassword } from '@switchboard/passwords';
import { SealingKeyring } from '@switchboard/secrets';
import type { FastifyInstance } from 'fastify';
import * as OTPAuth from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../app.ts';
import { ATTEMPTS_PER_CHALLENGE, FAILURES_PER_USER, USER_WINDOW_MS } from '../services/two-factor.ts';
import {
  db,
  PASSWORD,
  redis,
  SCRYPT,
  SEALING_KEYS,
  seeded,
  setupApi,
  slugA,
} from '../testing/api-fixture.ts';

setupApi();

// A fixed instant, far from the real one: the codes prove the app reads the injected clock.
const clock = { now: Date.UTC(2031, 4, 6, 12, 0, 0) };
const STEP_MS = 30_000;
let app: FastifyInstance;

beforeAll(async () => {
  app = await buildApp({
    db,
    redis,
    tenant: { slug: slugA, displayName: 'Tenant A' },
    jwtSigningKey: randomBytes(32).toString('hex'),
    scrypt: SCRYPT,
    rateLimitPerMinute: 100_000,
    sealingKeys: SealingKeyring.parse(SEALING_KEYS),
    inboxDir: null,
    twoFactorClock: () => clock.now,
  });
});

afterAll(async () => {
  await app?.close();
});

type Role = 'owner' | 'admin' | 'agent' | 'viewer';

async function newMember(role: Role): Promise<{ id: string; email: string }> {
  const { tenantId } = seeded.a;
  const email = `${role}-${randomBytes(4).toString('hex')}@${slugA}.test`;
  const passwordHash = await hashPassword(PASSWORD, SCRYPT);
  const id = await withTenant(db, tenantId, async (tx) => {
    const user = await tx.user.create({ data: { tenantId, email, displayName: role, passwordHash } });
    await tx.membership.create({ data: { tenantId, userId: user.id, role } });
    return user.id;
  });
  return { id, email };
}

const post = (url: string, payload: unknown, token?: string) =>
  app.inject({
    method: 'POST',
    url,
    payload: payload as object,
    ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}),
  });
const login = (email: string) => post('/v1/auth/login', { tenant: slugA, email, password: PASSWORD });
const codeAt = (secret: string, at = clock.now) =>
  new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret) }).generate({ timestamp: at });

async function auditActions(userId: string): Promise<string[]> {
  const rows = await withTenant(db, seeded.a.tenantId, (tx) =>
    tx.auditLogEntry.findMany({ where: { targetId: userId }, orderBy: { at: 'asc' } }),
  );
  return rows.map((r) => r.action);
}

/** Signs in (no second factor yet), enrols and confirms; the secret, the codes and a token. */
async function enrolled(role: Role = 'agent') {
  const member = await newMember(role);
  const signedIn = await login(member.email);
  expect(signedIn.statusCode).toBe(200);
  const token: string = signedIn.json().accessToken;
  const started = await post('/v1/auth/two-factor/enrol', {}, token);
  expect(started.statusCode).toBe(200);
  const { secret } = started.json() as { secret: string };
  const confirmed = await post('/v1/auth/two-factor/confirm', { code: codeAt(secret) }, token);
  expect(confirmed.statusCode).toBe(200);
  const { recoveryCodes } = confirmed.json() as { recoveryCodes: string[] };
  // The confirming code's step is spent: the next sign-in starts a step later.
  clock.now += STEP_MS;
  return { ...member, secret, recoveryCodes, token };
}

async function challengeFor(email: string): Promise<string> {
  const res = await login(email);
  expect(res.statusCode).toBe(200);
  expect(res.json().status).toBe('two_factor_required');
  expect(res.json()).not.toHaveProperty('accessToken');
  return res.json().challenge;
}

const verify = (challenge: string, code: string) => post('/v1/auth/two-factor/verify', { challenge, code });

describe('enrolment', () => {
  it('gives a QR code and a sealed, unconfirmed secret; a code confirms it and returns recovery codes once', async () => {
    const member = await newMember('agent');
    const token = (await login(member.email)).json().accessToken as string;
    const started = await post('/v1/auth/two-factor/enrol', {}, token);
    expect(started.statusCode).toBe(200);
    const body = started.json() as { secret: string; otpauthUri: string; qrCode: string };
    expect(body.otpauthUri).toMatch(/^otpauth:\/\/totp\//);
    expect(new URL(body.otpauthUri).searchParams.get('secret')).toBe(body.secret);
    expect(body.qrCode).toMatch(/^data:image\/svg\+xml;base64,/);
    expect(Buffer.from(body.qrCode.split(',')[1]!, 'base64').toString()).toContain('<svg');
    const row = await withTenant(db, seeded.a.tenantId, (tx) =>
      tx.twoFactorCredential.findFirstOrThrow({ where: { userId: member.id } }),
    );
    expect(row.confirmedAt).toBeNull();
    expect(Buffer.from(row.secretCiphertext).toString('latin1')).not.toContain(body.secret);
    // Unconfirmed: signing in still gives tokens.
    expect((await login(member.email)).json()).toHaveProperty('accessToken');

    const wrong = await post(
      '/v1/auth/two-factor/confirm',
      { code: codeAt(body.secret, clock.now + 5 * STEP_MS) },
      token,
    );
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json().error.code).toBe('two_factor_code_invalid');

    // Two confirmations at once: one turns it on, the other is refused.
    const [first, second] = await Promise.all([
      post('/v1/auth/two-factor/confirm', { code: codeAt(body.secret) }, token),
      post('/v1/auth/two-factor/confirm', { code: codeAt(body.secret) }, token),
    ]);
    expect([first.statusCode, second.statusCode].sort()).toEqual([200, 409]);
    const confirmed = first.statusCode === 200 ? first : second;
    const { recoveryCodes } = confirmed.json() as { recoveryCodes: string[] };
    expect(recoveryCodes).toHaveLength(10);
    expect(new Set(recoveryCodes).size).toBe(10);
    for (const code of recoveryCodes) expect(code).toMatch(/^[a-z2-7]{4}(-[a-z2-7]{4}){3}$/);
    const stored = await withTenant(db, seeded.a.tenantId, (tx) =>
      tx.twoFactorCredential.findFirstOrThrow({ where: { userId: member.id } }),
    );
    expect(stored.recoveryCodeHashes).toHaveLength(10);
    for (const code of recoveryCodes)
      expect(stored.recoveryCodeHashes.join()).not.toContain(code.replace(/-/g, ''));
    // Once: confirming again, or starting over, is refused while two-factor is on.
    expect((await post('/v1/auth/two-factor/confirm', { code: codeAt(body.secret) }, token)).statusCode).toBe(
      409,
    );
    expect((await post('/v1/auth/two-factor/enrol', {}, token)).statusCode).toBe(409);
    const status = await app.inject({
      method: 'GET',
      url: '/v1/auth/two-factor',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(status.json()).toEqual({
      enabled: true,
      pendingEnrolment: false,
      recoveryCodesLeft: 10,
      required: false,
    });
    expect(await auditActions(member.id)).toContain('two_factor.enrolled');
    clock.now += STEP_MS;
  });
});

describe('a repeated start', () => {
  it('answers the pending key again (at once or later), so the code of the key shown first confirms', async () => {
    const member = await newMember('agent');
    const token = (await login(member.email)).json().accessToken as string;
    const [one, two] = await Promise.all([
      post('/v1/auth/two-factor/enrol', {}, token),
      post('/v1/auth/two-factor/enrol', {}, token),
    ]);
    expect([one.statusCode, two.statusCode]).toEqual([200, 200]);
    const secret = (one.json() as { secret: string }).secret;
    expect((two.json() as { secret: string }).secret).toBe(secret);
    const again = await post('/v1/auth/two-factor/enrol', {}, token);
    expect((again.json() as { secret: string }).secret).toBe(secret);
    const rows = await withTenant(db, seeded.a.tenantId, (tx) =>
      tx.twoFactorCredential.count({ where: { userId: member.id } }),
    );
    expect(rows).toBe(1);
    const confirmed = await post('/v1/auth/two-factor/confirm', { code: codeAt(secret) }, token);
    expect(confirmed.statusCode).toBe(200);
    clock.now += STEP_MS;
  });

  it('replaces a pending key older than ten minutes', async () => {
    const member = await newMember('agent');
    const token = (await login(member.email)).json().accessToken as string;
    const first = (await post('/v1/auth/two-factor/enrol', {}, token)).json() as { secret: string };
    await withTenant(
      db,
      seeded.a.tenantId,
      (tx) =>
        tx.$executeRaw`UPDATE two_factor_credentials SET updated_at = now() - interval '11 minutes'
                      WHERE user_id = ${member.id}::uuid`,
    );
    const second = (await post('/v1/auth/two-factor/enrol', {}, token)).json() as { secret: string };
    expect(second.secret).not.toBe(first.secret);
    const stale = await post('/v1/auth/two-factor/confirm', { code: codeAt(first.secret) }, token);
    expect(stale.statusCode).toBe(400);
    const confirmed = await post('/v1/auth/two-factor/confirm', { code: codeAt(second.secret) }, token);
    expect(confirmed.statusCode).toBe(200);
    clock.now += STEP_MS;
  });
});

describe('the sign-in second step', () => {
  it('gives a challenge instead of tokens, and tokens for the challenge and a code', async () => {
    const member = await enrolled();
    const challenge = await challengeFor(member.email);
    // The challenge is no access token.
    const asBearer = await app.inject({
      method: 'GET',
      url: '/v1/auth/me',
      headers: { authorization: `Bearer ${challenge}` },
    });
    expect(asBearer.statusCode).toBe(401);
    const res = await verify(challenge, codeAt(member.secret));
    expect(res.statusCode).toBe(200);
    const me = await app.inject({
      method: 'GET',
      url: '/v1/auth/me',
      headers: { authorization: `Bearer ${res.json().accessToken}` },
    });
    expect(me.json().email).toBe(member.email);
    // A challenge signs in once, even with the next step's good code.
    clock.now += STEP_MS;
    const again = await verify(challenge, codeAt(member.secret));
    expect(again.statusCode).toBe(401);
    expect(again.json().error.code).toBe('unauthenticated');
  });

  it('refuses a code used within its step, accepts ±1 step of skew, and audits the failure', async () => {
    const member = await enrolled();
    const used = codeAt(member.secret);
    expect((await verify(await challengeFor(member.email), used)).statusCode).toBe(200);
    const replay = await verify(await challengeFor(member.email), used);
    expect(replay.statusCode).toBe(400);
    expect(replay.json().error.code).toBe('two_factor_code_invalid');
    expect(await auditActions(member.id)).toContain('auth.sign_in_failed');
    // Two steps ahead is too far; one step ahead (a phone's clock running fast) is accepted.
    expect(
      (await verify(await challengeFor(member.email), codeAt(member.secret, clock.now + 2 * STEP_MS)))
        .statusCode,
    ).toBe(400);
    expect(
      (await verify(await challengeFor(member.email), codeAt(member.secret, clock.now + STEP_MS))).statusCode,
    ).toBe(200);
    // That spent the next step too: its code no longer works once the clock gets there.
    clock.now += STEP_MS;
    expect((await verify(await challengeFor(member.email), codeAt(member.secret))).statusCode).toBe(400);
    clock.now += STEP_MS;
    expect((await verify(await challengeFor(member.email), codeAt(member.secret))).statusCode).toBe(200);
  });

  it('takes a recovery code once (typed in any case, without dashes), and audits its use', async () => {
    const member = await enrolled();
    const [code] = member.recoveryCodes;
    const typed = code!.replace(/-/g, '').toUpperCase();
    expect((await verify(await challengeFor(member.email), typed)).statusCode).toBe(200);
    const second = await verify(await challengeFor(member.email), code!);
    expect(second.statusCode).toBe(400);
    expect(second.json().error.code).toBe('two_factor_code_invalid');
    const actions = await auditActions(member.id);
    expect(actions.filter((a) => a === 'two_factor.recovery_code_used')).toHaveLength(1);
    expect(actions).toContain('auth.sign_in_failed');
  });

  it('spends each recovery code, and each code, once when several are used at the same time', async () => {
    const member = await enrolled();
    const [one, two, three] = member.recoveryCodes;
    const challenges = await Promise.all([1, 2, 3, 4].map(() => challengeFor(member.email)));
    const answers = await Promise.all([
      verify(challenges[0]!, one!),
      verify(challenges[1]!, two!),
      verify(challenges[2]!, three!),
      verify(challenges[3]!, three!),
    ]);
    expect(answers.slice(0, 2).map((a) => a.statusCode)).toEqual([200, 200]);
    expect(
      answers
        .slice(2)
        .map((a) => a.statusCode)
        .sort(),
    ).toEqual([200, 400]);
    const left = await withTenant(db, seeded.a.tenantId, (tx) =>
      tx.twoFactorCredential.findFirstOrThrow({ where: { userId: member.id } }),
    );
    expect(left.recoveryCodeHashes).toHaveLength(7);
    // The same TOTP code on two challenges at once signs in once.
    clock.now += STEP_MS;
    const [c1, c2] = [await challengeFor(member.email), await challengeFor(member.email)];
    const both = await Promise.all([verify(c1, codeAt(member.secret)), verify(c2, codeAt(member.secret))]);
    expect(both.map((a) => a.statusCode).sort()).toEqual([200, 400]);
    for (const used of [one, two, three])
      expect((await verify(await challengeFor(member.email), used!)).statusCode).toBe(400);
  });

  it('limits codes per challenge and per member with 429 and Retry-After', async () => {
    const member = await enrolled();
    const wrong = codeAt(member.secret, clock.now + 10 * STEP_MS);
    const first = await challengeFor(member.email);
    for (let i = 0; i < ATTEMPTS_PER_CHALLENGE; i++)
      expect((await verify(first, wrong)).statusCode).toBe(400);
    const limited = await verify(first, codeAt(member.secret));
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.code).toBe('rate_limited');
    const retry = Number(limited.headers['retry-after']);
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(300);
    // The member's own limit holds across new challenges.
    for (let i = ATTEMPTS_PER_CHALLENGE; i < FAILURES_PER_USER; i++) {
      const challenge = await challengeFor(member.email);
      expect((await verify(challenge, wrong)).statusCode).toBe(400);
    }
    const paused = await verify(await challengeFor(member.email), codeAt(member.secret));
    expect(paused.statusCode).toBe(429);
    expect(Number(paused.headers['retry-after'])).toBeGreaterThan(300);
    expect(Number(paused.headers['retry-after'])).toBeLessThanOrEqual(USER_WINDOW_MS / 1000);
  });

  it('answers a malformed or forged challenge or code with a clear 4xx', async () => {
    const member = await enrolled();
    const challenge = await challengeFor(member.email);
    const bad = await verify(challenge, '12');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.issues[0].path).toBe('body.code');
    const forged = await verify(`${challenge.slice(0, -4)}AAAA`, codeAt(member.secret));
    expect(forged.statusCode).toBe(401);
    expect(forged.json().error.message).toContain('body.challenge');
    expect((await verify(challenge, 'not-a-recovery-code')).statusCode).toBe(400);
  });
});

describe('a rotated sealing key', () => {
  it('moves a secret onto the current key when one of its codes is accepted', async () => {
    const member = await enrolled();
    const rotated = await buildApp({
      db,
      redis,
      tenant: { slug: slugA, displayName: 'Tenant A' },
      jwtSigningKey: randomBytes(32).toString('hex'),
      scrypt: SCRYPT,
      rateLimitPerMinute: 100_000,
      sealingKeys: SealingKeyring.parse(`k2:${Buffer.alloc(32, 22).toString('base64')},${SEALING_KEYS}`),
      inboxDir: null,
      twoFactorClock: () => clock.now,
    });
    try {
      const keyId = async () =>
        SealingKeyring.keyIdOf(
          (
            await withTenant(db, seeded.a.tenantId, (tx) =>
              tx.twoFactorCredential.findFirstOrThrow({ where: { userId: member.id } }),
            )
          ).secretCiphertext,
        );
      expect(await keyId()).toBe('k1');
      const signIn = await rotated.inject({
        method: 'POST',
        url: '/v1/auth/login',
        payload: { tenant: slugA, email: member.email, password: PASSWORD },
      });
      const done = await rotated.inject({
        method: 'POST',
        url: '/v1/auth/two-factor/verify',
        payload: { challenge: signIn.json().challenge, code: codeAt(member.secret) },
      });
      expect(done.statusCode).toBe(200);
      expect(await keyId()).toBe('k2');
    } finally {
      await rotated.close();
    }
  });
});

describe('disabling', () => {
  it('needs the password and a code, and signing in gives tokens at once afterwards', async () => {
    const member = await enrolled();
    const disable = (payload: object) => post('/v1/auth/two-factor/disable', payload, member.token);
    const badPassword = await disable({ password: 'wrong password', code: codeAt(member.secret) });
    expect(badPassword.statusCode).toBe(400);
    expect(badPassword.json().error.code).toBe('validation_failed');
    expect((await disable({ password: PASSWORD, code: '000000' })).statusCode).toBe(400);
    expect((await disable({ password: PASSWORD, code: codeAt(member.secret) })).statusCode).toBe(204);
    expect(await auditActions(member.id)).toContain('two_factor.disabled');
    expect((await login(member.email)).json()).toHaveProperty('accessToken');
  });
});

describe('the tenant policy', () => {
  it('makes an admin enrol with an enrol-only token, keeps agents and API keys as they were', async () => {
    const admin = await newMember('admin');
    const agent = await newMember('agent');
    const adminToken = (await login(admin.email)).json().accessToken as string;
    const agentToken = (await login(agent.email)).json().accessToken as string;
    const setPolicy = (token: string, value: boolean) =>
      app.inject({
        method: 'PUT',
        url: '/v1/tenant/security',
        headers: { authorization: `Bearer ${token}` },
        payload: { requireTwoFactorForAdmins: value },
      });
    expect((await setPolicy(agentToken, true)).statusCode).toBe(403);
    // An API key made by an admin with two-factor, used while the policy is on.
    const keyMaker = await enrolled('admin');
    const made = await post(
      '/v1/api-keys',
      { name: 'crm', scopes: ['read', 'manage'] },
      (await verify(await challengeFor(keyMaker.email), codeAt(keyMaker.secret))).json().accessToken,
    );
    expect(made.statusCode).toBe(201);
    clock.now += STEP_MS;
    try {
      const set = await setPolicy(adminToken, true);
      expect(set.statusCode).toBe(200);
      expect(set.json()).toEqual({ requireTwoFactorForAdmins: true });

      const apiKey = await app.inject({
        method: 'GET',
        url: '/v1/sessions',
        headers: { 'x-api-key': made.json().key },
      });
      expect(apiKey.statusCode).toBe(200);
      expect((await login(agent.email)).json()).toHaveProperty('accessToken');

      const stopped = await login(admin.email);
      expect(stopped.statusCode).toBe(200);
      expect(stopped.json().status).toBe('two_factor_enrolment_required');
      const { enrolmentToken } = stopped.json() as { enrolmentToken: string };
      // It only enrols: as a bearer token it opens nothing.
      const asBearer = await app.inject({
        method: 'GET',
        url: '/v1/auth/me',
        headers: { authorization: `Bearer ${enrolmentToken}` },
      });
      expect(asBearer.statusCode).toBe(401);
      const started = await post('/v1/auth/two-factor/enrolment/start', { enrolmentToken });
      expect(started.statusCode).toBe(200);
      const { secret } = started.json() as { secret: string };
      const done = await post('/v1/auth/two-factor/enrolment/confirm', {
        enrolmentToken,
        code: codeAt(secret),
      });
      expect(done.statusCode).toBe(200);
      expect(done.json().recoveryCodes).toHaveLength(10);
      const me = await app.inject({
        method: 'GET',
        url: '/v1/auth/me',
        headers: { authorization: `Bearer ${done.json().tokens.accessToken}` },
      });
      expect(me.json().email).toBe(admin.email);
      clock.now += STEP_MS;
      // Required: it can't be turned off while the policy holds.
      const off = await post(
        '/v1/auth/two-factor/disable',
        { password: PASSWORD, code: codeAt(secret) },
        done.json().tokens.accessToken,
      );
      expect(off.statusCode).toBe(403);
      // From now on the admin signs in with a code.
      expect((await verify(await challengeFor(admin.email), codeAt(secret))).statusCode).toBe(200);
      expect(await auditActions(seeded.a.tenantId)).toContain('two_factor.policy_changed');

      // An enrol-only token enrols nobody once its member is removed.
      const removed = await newMember('owner');
      const token = (await login(removed.email)).json().enrolmentToken as string;
      await withTenant(db, seeded.a.tenantId, (tx) =>
        tx.membership.deleteMany({ where: { userId: removed.id } }),
      );
      const refused = await post('/v1/auth/two-factor/enrolment/start', { enrolmentToken: token });
      expect(refused.statusCode).toBe(401);
      expect(refused.json().error.message).toContain('no longer a member');
    } finally {
      expect((await setPolicy(adminToken, false)).statusCode).toBe(200);
    }
  });
});
