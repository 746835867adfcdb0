// Single sign-on against a real OpenID Connect provider (oidc-provider on loopback, started here):
// the redirects are driven with fetch through the provider's own login page, the API is the app
// over the file's database and Redis. Two apps share tenant A: one that provisions members and
// limits domains, one that does neither and allows password sign-in to owners only (ssoOnly).
import { randomBytes, randomUUID } from 'node:crypto';
import { withTenant } from '@switchboard/db';
import { createLogger } from '@switchboard/telemetry';
import { startOidcProvider, type TestOidcProvider } from '@switchboard/testing/oidc';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../app.ts';
import type { SsoSettings } from '../sso/index.ts';
import {
  app,
  bearer,
  db,
  login,
  PASSWORD,
  redis,
  SCRYPT,
  seeded,
  setupApi,
  slugA,
  tokenFor,
} from '../testing/api-fixture.ts';
import { SSO_BINDING_COOKIE } from './sso.ts';

setupApi();

const CLIENT_ID = 'switchboard-inbox';
const CLIENT_SECRET = randomBytes(24).toString('base64url');
const REDIRECT_URI = 'https://acme.inbox.test/sso/callback';

let idp: TestOidcProvider;
/** Provisions as viewer, allows tenant A's and acme.test's addresses, password sign-in as usual. */
let open: FastifyInstance;
/** Provisions nobody, allows any domain, password sign-in for owners only. */
let strict: FastifyInstance;
const logLines: string[] = [];

function settings(overrides: Partial<SsoSettings>): SsoSettings {
  return {
    issuer: idp.issuer,
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    redirectUri: REDIRECT_URI,
    allowedDomains: [],
    autoProvision: false,
    defaultRole: 'agent',
    ssoOnly: false,
    ...overrides,
  };
}

const buildSsoApp = (sso: SsoSettings, logged = false) =>
  buildApp({
    db,
    redis,
    tenant: { slug: slugA, displayName: 'Tenant A' },
    jwtSigningKey: randomBytes(32).toString('hex'),
    scrypt: SCRYPT,
    rateLimitPerMinute: 100_000,
    inboxDir: null,
    sso,
    ...(logged
      ? {
          logger: createLogger({
            name: 'api',
            level: 'debug',
            destination: { write: (line: string) => void logLines.push(line) },
          }),
        }
      : {}),
  });

beforeAll(async () => {
  const domain = `${slugA}.test`;
  idp = await startOidcProvider({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    redirectUris: [REDIRECT_URI],
    accounts: {
      ada: { password: 'ada-pass', email: `admin@${domain}`, emailVerified: true, name: 'Ada at the IdP' },
      agent: { password: 'agent-pass', email: `agent@${domain}`, emailVerified: true },
      newbie: { password: 'newbie-pass', email: 'newbie@acme.test', emailVerified: true, name: 'New Bie' },
      stranger: { password: 'stranger-pass', email: 'stranger@acme.test', emailVerified: true },
      unverified: { password: 'unverified-pass', email: 'unverified@acme.test', emailVerified: false },
      outsider: { password: 'outsider-pass', email: 'someone@elsewhere.test', emailVerified: true },
      // A second account with the agent's address (a mailbox the provider gave to someone new).
      successor: { password: 'successor-pass', email: `agent@${domain}`, emailVerified: true },
    },
  });
  open = await buildSsoApp(
    settings({ allowedDomains: [domain, 'acme.test'], autoProvision: true, defaultRole: 'viewer' }),
    true,
  );
  strict = await buildSsoApp(settings({ ssoOnly: true }));
}, 60_000);

afterAll(async () => {
  await open?.close();
  await strict?.close();
  await idp?.close();
});

/** Starts a sign-in at `api`: the provider's URL and the binding cookie. */
async function start(api: FastifyInstance) {
  const res = await api.inject({ method: 'GET', url: '/v1/auth/sso/start' });
  expect(res.statusCode).toBe(302);
  const cookie = res.cookies.find((c) => c.name === SSO_BINDING_COOKIE);
  expect(cookie).toBeDefined();
  return { location: new URL(res.headers.location as string), binding: cookie!.value, cookie: cookie! };
}

const finish = (api: FastifyInstance, query: string, binding?: string) =>
  api.inject({
    method: 'POST',
    url: '/v1/auth/sso/callback',
    payload: { query },
    ...(binding ? { cookies: { [SSO_BINDING_COOKIE]: binding } } : {}),
  });

/** A whole sign-in: start, the provider's login page as `username`, the callback. */
async function signIn(api: FastifyInstance, username: string) {
  const started = await start(api);
  const back = await idp.authorize(started.location.toString(), username, idp.accounts[username]!.password);
  return await finish(api, back.search, started.binding);
}

const ssoAudit = (action: string) =>
  withTenant(db, seeded.a.tenantId, (tx) =>
    tx.auditLogEntry.findMany({ where: { action }, orderBy: { at: 'asc' } }),
  );

const me = async (api: FastifyInstance, accessToken: string) =>
  (await api.inject({ method: 'GET', url: '/v1/auth/me', headers: bearer(accessToken) })).json();

describe('single sign-on with OpenID Connect', () => {
  it('says whether it is set up; an app without it refuses to start', async () => {
    expect((await open.inject({ method: 'GET', url: '/v1/auth/sso' })).json()).toEqual({
      enabled: true,
      ssoOnly: false,
    });
    expect((await strict.inject({ method: 'GET', url: '/v1/auth/sso' })).json()).toEqual({
      enabled: true,
      ssoOnly: true,
    });
    expect((await app.inject({ method: 'GET', url: '/v1/auth/sso' })).json()).toEqual({
      enabled: false,
      ssoOnly: false,
    });
    const refused = await app.inject({ method: 'GET', url: '/v1/auth/sso/start' });
    expect(refused.statusCode).toBe(404);
    expect(refused.json().error.code).toBe('sso_not_configured');
  });

  it('starts with the code flow, PKCE S256, state and nonce, bound to the browser by an httpOnly cookie', async () => {
    const { location, cookie } = await start(open);
    expect(location.origin).toBe(idp.issuer);
    const params = location.searchParams;
    expect(params.get('response_type')).toBe('code');
    expect(params.get('client_id')).toBe(CLIENT_ID);
    expect(params.get('redirect_uri')).toBe(REDIRECT_URI);
    expect(params.get('code_challenge_method')).toBe('S256');
    expect(params.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    expect(params.get('state')).toMatch(/^[\w-]{20,}$/);
    expect(params.get('nonce')).toMatch(/^[\w-]{20,}$/);
    expect(params.get('scope')?.split(' ')).toEqual(expect.arrayContaining(['openid', 'email']));
    expect(cookie).toMatchObject({ httpOnly: true, path: '/v1/auth/sso', sameSite: 'Lax', secure: true });
  });

  it("signs in an existing member by verified email, links the provider's account, and audits both", async () => {
    const res = await signIn(open, 'ada');
    expect(res.statusCode).toBe(200);
    const pair = res.json();
    expect(pair).toMatchObject({ tokenType: 'Bearer', accessToken: expect.any(String) });
    expect(await me(open, pair.accessToken)).toMatchObject({ id: seeded.a.users.admin.id, role: 'admin' });
    // The refresh token works like a password login's.
    const refreshed = await open.inject({
      method: 'POST',
      url: '/v1/auth/refresh',
      payload: { refreshToken: pair.refreshToken },
    });
    expect(refreshed.statusCode).toBe(200);
    const link = await withTenant(db, seeded.a.tenantId, (tx) =>
      tx.ssoIdentity.findFirstOrThrow({ where: { userId: seeded.a.users.admin.id } }),
    );
    expect(link).toMatchObject({ issuer: idp.issuer, subject: 'ada', email: `admin@${slugA}.test` });
    expect((await ssoAudit('sso.linked')).map((e) => e.actorId)).toContain(seeded.a.users.admin.id);
    // One entry for the sign-in, as for a password: `auth.sign_in`, with the method's facts.
    const signedIn = await ssoAudit('auth.sign_in');
    expect(signedIn.at(-1)).toMatchObject({ actorType: 'user', actorId: seeded.a.users.admin.id });
    expect(signedIn.at(-1)?.metadata).toMatchObject({ method: 'sso', issuer: idp.issuer, subject: 'ada' });
    expect(await ssoAudit('sso.signed_in')).toEqual([]);
  });

  it('signs in the same member after the address changed at the provider (the link is issuer and subject)', async () => {
    const ada = idp.accounts.ada!;
    const before = ada.email;
    ada.email = 'ada.lovelace@acme.test';
    try {
      const res = await signIn(open, 'ada');
      expect(res.statusCode).toBe(200);
      expect((await me(open, res.json().accessToken)).id).toBe(seeded.a.users.admin.id);
      const link = await withTenant(db, seeded.a.tenantId, (tx) =>
        tx.ssoIdentity.findFirstOrThrow({ where: { subject: 'ada' } }),
      );
      expect(link.email).toBe('ada.lovelace@acme.test');
    } finally {
      ada.email = before;
    }
  });

  it('provisions an unknown verified address with the default role when the tenant allows it', async () => {
    const res = await signIn(open, 'newbie');
    expect(res.statusCode).toBe(200);
    const member = await me(open, res.json().accessToken);
    expect(member).toMatchObject({ email: 'newbie@acme.test', displayName: 'New Bie', role: 'viewer' });
    const provisioned = await ssoAudit('sso.provisioned');
    expect(provisioned.at(-1)).toMatchObject({ actorId: member.id, targetId: member.id });
    expect(provisioned.at(-1)?.metadata).toMatchObject({ email: 'newbie@acme.test', role: 'viewer' });
    // The second time it is a plain sign-in of the same member.
    const again = await signIn(open, 'newbie');
    expect((await me(open, again.json().accessToken)).id).toBe(member.id);
  });

  it('refuses an unknown address when provisioning is off, and audits the refusal', async () => {
    const res = await signIn(strict, 'stranger');
    expect(res.statusCode).toBe(403);
    expect(res.json().error).toMatchObject({ code: 'sso_not_a_member' });
    expect(res.json().error.message).toContain('stranger@acme.test is not a member');
    const refused = await ssoAudit('sso.refused');
    expect(refused.at(-1)?.metadata).toMatchObject({ reason: 'sso_not_a_member', subject: 'stranger' });
    const made = await withTenant(db, seeded.a.tenantId, (tx) =>
      tx.user.count({ where: { email: 'stranger@acme.test' } }),
    );
    expect(made).toBe(0);
  });

  it('refuses an address the provider has not verified, even with provisioning on', async () => {
    const res = await signIn(open, 'unverified');
    expect(res.statusCode).toBe(403);
    expect(res.json().error.code).toBe('sso_email_unverified');
    expect(res.json().error.message).toContain('unverified@acme.test');
    expect((await ssoAudit('sso.refused')).at(-1)?.metadata).toMatchObject({
      reason: 'sso_email_unverified',
    });
  });

  it('refuses an address outside the allowed domains', async () => {
    const res = await signIn(open, 'outsider');
    expect(res.statusCode).toBe(403);
    expect(res.json().error.code).toBe('sso_domain_not_allowed');
    expect(res.json().error.message).toContain('elsewhere.test');
  });

  it('refuses a tampered state, a replayed callback and a callback from another browser', async () => {
    const started = await start(open);
    const back = await idp.authorize(started.location.toString(), 'ada', 'ada-pass');
    const tampered = new URLSearchParams(back.search);
    tampered.set('state', `${tampered.get('state')}x`);
    const bad = await finish(open, tampered.toString(), started.binding);
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('sso_state_invalid');
    // The real state from another browser (no cookie, or another sign-in's) is refused, and spent.
    const elsewhere = await finish(open, back.search, (await start(open)).binding);
    expect(elsewhere.statusCode).toBe(400);
    expect(elsewhere.json().error).toMatchObject({ code: 'sso_state_invalid' });
    expect(elsewhere.json().error.message).toContain('another browser');
    const replayed = await finish(open, back.search, started.binding);
    expect(replayed.statusCode).toBe(400);
    expect(replayed.json().error.message).toContain('already used');
    const none = await finish(open, 'code=abc');
    expect(none.statusCode).toBe(400);
    expect(none.json().error.code).toBe('sso_state_invalid');
  });

  it('refuses an ID token whose nonce is not the sign-in’s (the authorization request was altered)', async () => {
    const started = await start(open);
    const altered = new URL(started.location);
    altered.searchParams.set('nonce', 'a-nonce-the-api-never-made');
    const back = await idp.authorize(altered.toString(), 'ada', 'ada-pass');
    const res = await finish(open, back.search, started.binding);
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('sso_nonce_mismatch');
  });

  it("refuses another sign-in's code (PKCE: its verifier is not this one's)", async () => {
    const mine = await start(open);
    const theirs = await start(open);
    const theirBack = await idp.authorize(theirs.location.toString(), 'ada', 'ada-pass');
    const query = new URLSearchParams(theirBack.search);
    query.set('state', mine.location.searchParams.get('state')!);
    const res = await finish(open, query.toString(), mine.binding);
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('sso_code_rejected');
  });

  it("passes on the provider's refusal as a 400", async () => {
    const started = await start(open);
    const query = new URLSearchParams({
      error: 'access_denied',
      state: started.location.searchParams.get('state')!,
      iss: idp.issuer,
    });
    const res = await finish(open, query.toString(), started.binding);
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toEqual({
      code: 'sso_provider_refused',
      message: 'the identity provider refused the sign-in (access_denied)',
    });
  });

  it('ssoOnly refuses password sign-in to members, not to owners (break-glass), and audits it', async () => {
    const agent = await strict.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { email: seeded.a.users.agent.email, password: PASSWORD },
    });
    expect(agent.statusCode).toBe(403);
    expect(agent.json().error.code).toBe('sso_required');
    expect(agent.json().error.message).toContain('Sign in with SSO');
    expect((await ssoAudit('sso.refused')).at(-1)).toMatchObject({
      actorId: seeded.a.users.agent.id,
      metadata: { reason: 'sso_required', method: 'password' },
    });
    const owner = await strict.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { email: seeded.a.users.owner.email, password: PASSWORD },
    });
    expect(owner.statusCode).toBe(200);
    // The same agent still signs in with SSO there, and with a password where SSO is not required.
    expect((await signIn(strict, 'agent')).statusCode).toBe(200);
    expect((await login(slugA, seeded.a.users.agent.email)).statusCode).toBe(200);
  });

  it("refuses a second provider account with a linked member's address, and a removed member", async () => {
    // The agent's own account is linked (the ssoOnly case signed it in).
    const conflict = await signIn(open, 'successor');
    expect(conflict.statusCode).toBe(409);
    expect(conflict.json().error.code).toBe('sso_identity_conflict');
    const newbie = await withTenant(db, seeded.a.tenantId, (tx) =>
      tx.user.findFirstOrThrow({ where: { email: 'newbie@acme.test' } }),
    );
    await withTenant(db, seeded.a.tenantId, (tx) =>
      tx.membership.deleteMany({ where: { userId: newbie.id } }),
    );
    const removed = await signIn(open, 'newbie');
    expect(removed.statusCode).toBe(403);
    expect(removed.json().error.code).toBe('sso_not_a_member');
    expect((await ssoAudit('sso.refused')).at(-1)).toMatchObject({
      actorId: newbie.id,
      metadata: { reason: 'sso_not_a_member', subject: 'newbie' },
    });
  });

  it("an admin lists and removes a member's link, so the provider's new account for the address signs in", async () => {
    const agent = seeded.a.users.agent;
    const owner = seeded.a.users.owner;
    const admin = bearer(await tokenFor('a', 'admin'));
    const links = (userId: string, headers = admin) =>
      app.inject({ method: 'GET', url: `/v1/team/members/${userId}/sso-identities`, headers });
    const unlink = (userId: string, id: string, headers = admin) =>
      app.inject({ method: 'DELETE', url: `/v1/team/members/${userId}/sso-identities/${id}`, headers });

    // The agent is linked to its first provider account (signed in above); the successor is refused.
    const listed = await links(agent.id);
    expect(listed.statusCode).toBe(200);
    expect(listed.json().items).toEqual([
      {
        id: expect.any(String),
        issuer: idp.issuer,
        subject: 'agent',
        email: agent.email,
        createdAt: expect.any(String),
        lastSignInAt: expect.any(String),
      },
    ]);
    const [link] = listed.json().items as { id: string }[];

    // Members below admin cannot; an admin cannot touch an owner's links; unknown ones are 404.
    const asAgent = bearer(await tokenFor('a', 'agent'));
    expect((await links(agent.id, asAgent)).statusCode).toBe(403);
    expect((await unlink(agent.id, link!.id, asAgent)).statusCode).toBe(403);
    expect((await unlink(owner.id, link!.id)).statusCode).toBe(403);
    expect((await links(randomUUID())).statusCode).toBe(404);
    expect((await unlink(agent.id, randomUUID())).statusCode).toBe(404);
    // Another member's link is not this member's.
    expect((await unlink(seeded.a.users.viewer.id, link!.id)).statusCode).toBe(404);
    expect((await links('not-a-uuid')).statusCode).toBe(400);
    // Tenant B's admin does not see tenant A's member.
    expect((await links(agent.id, bearer(await tokenFor('b', 'admin')))).statusCode).toBe(404);

    expect((await unlink(agent.id, link!.id)).statusCode).toBe(204);
    expect((await links(agent.id)).json().items).toEqual([]);
    expect((await ssoAudit('sso.unlinked')).at(-1)).toMatchObject({
      actorId: seeded.a.users.admin.id,
      targetType: 'user',
      targetId: agent.id,
      metadata: { link: link!.id, issuer: idp.issuer, subject: 'agent', email: agent.email },
    });
    expect((await unlink(agent.id, link!.id)).statusCode).toBe(404);

    // The conflict is gone: the provider's new account with the agent's address signs in as the agent.
    const resolved = await signIn(open, 'successor');
    expect(resolved.statusCode, resolved.body).toBe(200);
    expect(await me(open, resolved.json().accessToken)).toMatchObject({ id: agent.id, role: 'agent' });
    expect((await links(agent.id)).json().items).toMatchObject([{ subject: 'successor' }]);
  });

  it('never logs the code, the state, the tokens or the client secret', async () => {
    const started = await start(open);
    const back = await idp.authorize(started.location.toString(), 'ada', 'ada-pass');
    // The inbox page the provider redirects to is served by this app too: its request is logged.
    await open.inject({ method: 'GET', url: `/sso/callback${back.search}` });
    const res = await finish(open, back.search, started.binding);
    expect(res.statusCode).toBe(200);
    const logs = logLines.join('\n');
    expect(logs).toContain('incoming request');
    for (const secret of [
      back.searchParams.get('code')!,
      back.searchParams.get('state')!,
      res.json().accessToken,
      res.json().refreshToken,
      started.binding,
      CLIENT_SECRET,
    ])
      expect(logs).not.toContain(secret);
  });
});
