// Signed-in sessions on the real stack (Postgres, Redis, HTTP): listing and ending them, the
// admin's end of a member's, what an ended session's tokens and realtime streams do, and the
// auth plugin's credential cache staying exact across API processes.
import { randomUUID } from 'node:crypto';
import { withTenant } from '@switchboard/db';
import { hashPassword } from '@switchboard/passwords';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { decodeJwt } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../app.ts';
import { CredentialCache } from '../auth/credential-cache.ts';
import { signAccessToken } from '../plugins/auth.ts';
import {
  app,
  auditCount,
  bearer,
  db,
  PASSWORD,
  redis,
  SCRYPT,
  seeded,
  setupApi,
  slugA,
  tokenFor,
} from '../testing/api-fixture.ts';

setupApi();

const FIREFOX_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';
const CHROME_MAC =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

/** A fresh agent (or `role`) of tenant A (so no other test's sessions show up in its list). */
async function newAgent(role: 'agent' | 'admin' = 'agent'): Promise<{ id: string; email: string }> {
  const email = `s-${randomUUID().slice(0, 8)}@${slugA}.test`;
  const passwordHash = await hashPassword(PASSWORD, SCRYPT);
  const { tenantId } = seeded.a;
  const id = await withTenant(db, tenantId, async (tx) => {
    const user = await tx.user.create({ data: { tenantId, email, displayName: email, passwordHash } });
    await tx.membership.create({ data: { tenantId, userId: user.id, role } });
    return user.id;
  });
  return { id, email };
}

async function signIn(
  on: FastifyInstance,
  email: string,
  device: { ua: string; ip: string },
): Promise<{ accessToken: string; refreshToken: string; sessionId: string }> {
  const res = await on.inject({
    method: 'POST',
    url: '/v1/auth/login',
    payload: { tenant: slugA, email, password: PASSWORD },
    headers: { 'user-agent': device.ua },
    remoteAddress: device.ip,
  });
  expect(res.statusCode, res.body).toBe(200);
  const body = res.json();
  return { ...body, sessionId: String(decodeJwt(body.accessToken).sid) };
}

const me = (on: FastifyInstance, token: string) =>
  on.inject({ method: 'GET', url: '/v1/auth/me', headers: bearer(token) });
const refresh = (refreshToken: string) =>
  app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken } });

/** Another API process of the same deployment: its own credential cache, the same database and Redis. */
async function otherProcess(cache?: { ttlMs?: number; now?: () => number }): Promise<FastifyInstance> {
  return await buildApp({
    db,
    redis,
    tenant: { slug: slugA, displayName: 'Tenant A' },
    jwtSigningKey: new TextDecoder().decode(app.sb.jwtKey),
    scrypt: SCRYPT,
    rateLimitPerMinute: 100_000,
    inboxDir: null,
    ...(cache ? { credentialCache: cache } : {}),
  });
}

describe('signed-in sessions', () => {
  const others: FastifyInstance[] = [];
  afterAll(async () => {
    for (const other of others) await other.close();
  });

  it("lists the caller's sessions with device, IP and times, the current one marked, and audits each sign-in", async () => {
    const agent = await newAgent();
    const one = await signIn(app, agent.email, { ua: FIREFOX_LINUX, ip: '10.9.0.1' });
    const two = await signIn(app, agent.email, { ua: CHROME_MAC, ip: '10.9.0.2' });
    const res = await app.inject({
      method: 'GET',
      url: '/v1/auth/sessions',
      headers: bearer(one.accessToken),
    });
    expect(res.statusCode, res.body).toBe(200);
    const items = res.json().items as { id: string; current: boolean }[];
    expect(items).toHaveLength(2);
    expect(items).toEqual(
      expect.arrayContaining([
        {
          id: one.sessionId,
          browser: 'Firefox 133',
          os: 'Linux',
          ip: '10.9.0.1',
          createdAt: expect.any(String),
          lastSeenAt: expect.any(String),
          current: true,
        },
        expect.objectContaining({
          id: two.sessionId,
          browser: 'Chrome 131',
          os: 'macOS 10.15',
          ip: '10.9.0.2',
          current: false,
        }),
      ]),
    );
    expect(await auditCount('auth.sign_in', one.sessionId)).toBe(1);
    expect(await auditCount('auth.sign_in', two.sessionId)).toBe(1);
    // A refresh keeps the session (the family is the session): the new token names the same one.
    const refreshed = await refresh(one.refreshToken);
    expect(refreshed.statusCode).toBe(200);
    expect(decodeJwt(refreshed.json().accessToken).sid).toBe(one.sessionId);
  });

  it('ends one of my sessions: its refresh token and access token stop at once, on every API process', async () => {
    const agent = await newAgent();
    const other = await otherProcess();
    others.push(other);
    const mine = await signIn(app, agent.email, { ua: FIREFOX_LINUX, ip: '10.9.1.1' });
    const lost = await signIn(app, agent.email, { ua: CHROME_MAC, ip: '10.9.1.2' });
    // Both processes hold the lost session in their caches.
    expect((await me(app, lost.accessToken)).statusCode).toBe(200);
    expect((await me(other, lost.accessToken)).statusCode).toBe(200);

    const ended = await app.inject({
      method: 'DELETE',
      url: `/v1/auth/sessions/${lost.sessionId}`,
      headers: bearer(mine.accessToken),
    });
    expect(ended.statusCode, ended.body).toBe(204);
    for (const on of [app, other]) {
      const res = await me(on, lost.accessToken);
      expect(res.statusCode).toBe(401);
      expect(res.json().error).toMatchObject({
        code: 'unauthenticated',
        message: 'this session was ended; sign in again',
      });
    }
    expect((await refresh(lost.refreshToken)).statusCode).toBe(401);
    // The other session is untouched, and the list no longer shows the ended one.
    expect((await me(other, mine.accessToken)).statusCode).toBe(200);
    const list = await app.inject({
      method: 'GET',
      url: '/v1/auth/sessions',
      headers: bearer(mine.accessToken),
    });
    expect(list.json().items.map((s: { id: string }) => s.id)).toEqual([mine.sessionId]);
    expect(await auditCount('auth.session_ended', lost.sessionId)).toBe(1);
    const row = await withTenant(db, seeded.a.tenantId, (tx) =>
      tx.authSession.findUniqueOrThrow({ where: { id: lost.sessionId } }),
    );
    expect(row.endedReason).toBe('ended_by_user');
    // Ending it again, or someone else's session, or a session id that does not exist: 404.
    for (const id of [lost.sessionId, randomUUID()]) {
      const again = await app.inject({
        method: 'DELETE',
        url: `/v1/auth/sessions/${id}`,
        headers: bearer(mine.accessToken),
      });
      expect(again.statusCode).toBe(404);
    }
    const notMine = await app.inject({
      method: 'DELETE',
      url: `/v1/auth/sessions/${mine.sessionId}`,
      headers: bearer(await tokenFor('a', 'owner')),
    });
    expect(notMine.statusCode).toBe(404);
    expect((await me(app, mine.accessToken)).statusCode).toBe(200);
    const bad = await app.inject({
      method: 'DELETE',
      url: '/v1/auth/sessions/nope',
      headers: bearer(mine.accessToken),
    });
    expect(bad.statusCode).toBe(400);
  });

  it("an admin ends every session of a member; only an owner ends an owner's", async () => {
    const agent = await newAgent();
    const sessions = [
      await signIn(app, agent.email, { ua: FIREFOX_LINUX, ip: '10.9.2.1' }),
      await signIn(app, agent.email, { ua: CHROME_MAC, ip: '10.9.2.2' }),
    ];
    const url = `/v1/team/members/${agent.id}/sessions`;
    const asAgent = await app.inject({ method: 'DELETE', url, headers: bearer(sessions[0]!.accessToken) });
    expect(asAgent.statusCode).toBe(403);
    const admin = await tokenFor('a', 'admin');
    const res = await app.inject({ method: 'DELETE', url, headers: bearer(admin) });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ ended: 2 });
    for (const s of sessions) {
      expect((await me(app, s.accessToken)).statusCode).toBe(401);
      expect((await refresh(s.refreshToken)).statusCode).toBe(401);
    }
    expect(await auditCount('auth.sessions_ended', agent.id)).toBe(1);
    // Signing in again works: the member is signed out, not locked out.
    const again = await signIn(app, agent.email, { ua: FIREFOX_LINUX, ip: '10.9.2.3' });
    expect((await me(app, again.accessToken)).statusCode).toBe(200);

    const ownerUrl = `/v1/team/members/${seeded.a.users.owner.id}/sessions`;
    expect((await app.inject({ method: 'DELETE', url: ownerUrl, headers: bearer(admin) })).statusCode).toBe(
      403,
    );
    const unknown = `/v1/team/members/${randomUUID()}/sessions`;
    expect((await app.inject({ method: 'DELETE', url: unknown, headers: bearer(admin) })).statusCode).toBe(
      404,
    );
    // A member of tenant B is no member of A.
    const other = `/v1/team/members/${seeded.b.users.agent.id}/sessions`;
    expect((await app.inject({ method: 'DELETE', url: other, headers: bearer(admin) })).statusCode).toBe(404);
  });

  it('logout and a reused refresh token end the session, and so does a password reset', async () => {
    const agent = await newAgent();
    const out = await signIn(app, agent.email, { ua: FIREFOX_LINUX, ip: '10.9.3.1' });
    expect((await me(app, out.accessToken)).statusCode).toBe(200);
    const logout = await app.inject({
      method: 'POST',
      url: '/v1/auth/logout',
      payload: { refreshToken: out.refreshToken },
    });
    expect(logout.statusCode).toBe(204);
    expect((await me(app, out.accessToken)).statusCode).toBe(401);

    const reused = await signIn(app, agent.email, { ua: FIREFOX_LINUX, ip: '10.9.3.2' });
    const rotated = await refresh(reused.refreshToken);
    expect((await me(app, rotated.json().accessToken)).statusCode).toBe(200);
    expect((await refresh(reused.refreshToken)).json().error.code).toBe('refresh_token_reused');
    expect((await me(app, rotated.json().accessToken)).statusCode).toBe(401);
    const row = await withTenant(db, seeded.a.tenantId, (tx) =>
      tx.authSession.findUniqueOrThrow({ where: { id: reused.sessionId } }),
    );
    expect(row.endedReason).toBe('refresh_token_reused');
  });

  it('moves last seen and the IP at most once a minute', async () => {
    const agent = await newAgent();
    const s = await signIn(app, agent.email, { ua: FIREFOX_LINUX, ip: '10.9.4.1' });
    const { tenantId } = seeded.a;
    const hourAgo = new Date(Date.now() - 3_600_000);
    await withTenant(db, tenantId, (tx) =>
      tx.authSession.update({ where: { id: s.sessionId }, data: { lastSeenAt: hourAgo } }),
    );
    // The process's cached entry would answer without the database: make it stale, as any change does.
    await app.sb.credentialCache.invalidate(slugA, tenantId);
    const res = await app.inject({
      method: 'GET',
      url: '/v1/auth/me',
      headers: bearer(s.accessToken),
      remoteAddress: '10.9.4.2',
    });
    expect(res.statusCode).toBe(200);
    const row = await withTenant(db, tenantId, (tx) =>
      tx.authSession.findUniqueOrThrow({ where: { id: s.sessionId } }),
    );
    expect(row.lastSeenAt.getTime()).toBeGreaterThan(hourAgo.getTime() + 3_000_000);
    expect(row.ip).toBe('10.9.4.2');
    // Within the minute: a read from the database again leaves it alone.
    await app.sb.credentialCache.invalidate(slugA, tenantId);
    await app.inject({
      method: 'GET',
      url: '/v1/auth/me',
      headers: bearer(s.accessToken),
      remoteAddress: '10.9.4.3',
    });
    const after = await withTenant(db, tenantId, (tx) =>
      tx.authSession.findUniqueOrThrow({ where: { id: s.sessionId } }),
    );
    expect(after.lastSeenAt).toEqual(row.lastSeenAt);
    expect(after.ip).toBe('10.9.4.2');
  });

  it('a token without a session asks for a refresh, and a refresh makes an old login a session', async () => {
    const agent = await newAgent();
    const { tenantId } = seeded.a;
    const legacy = await signAccessToken(
      app.sb.jwtKey,
      { userId: agent.id, tenantId, slug: slugA, sessionId: '' },
      60_000,
    );
    const res = await me(app, legacy);
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe('token_expired');
    // A refresh token of a family from before sessions existed: no auth_sessions row.
    const s = await signIn(app, agent.email, { ua: FIREFOX_LINUX, ip: '10.9.5.1' });
    await withTenant(db, tenantId, (tx) => tx.authSession.delete({ where: { id: s.sessionId } }));
    const adopted = await app.inject({
      method: 'POST',
      url: '/v1/auth/refresh',
      payload: { refreshToken: s.refreshToken },
      headers: { 'user-agent': CHROME_MAC },
      remoteAddress: '10.9.5.2',
    });
    expect(adopted.statusCode, adopted.body).toBe(200);
    expect(decodeJwt(adopted.json().accessToken).sid).toBe(s.sessionId);
    const row = await withTenant(db, tenantId, (tx) =>
      tx.authSession.findUniqueOrThrow({ where: { id: s.sessionId } }),
    );
    expect(row).toMatchObject({ browser: 'Chrome 131', ip: '10.9.5.2', endedAt: null });
    expect((await me(app, adopted.json().accessToken)).statusCode).toBe(200);
  });

  it("an ended session's open realtime stream ends with stream.closed session_ended; the member's other stream stays", async () => {
    const agent = await newAgent();
    const keep = await signIn(app, agent.email, { ua: FIREFOX_LINUX, ip: '10.9.9.1' });
    const lost = await signIn(app, agent.email, { ua: CHROME_MAC, ip: '10.9.9.2' });
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    const open = async (token: string) => {
      const controller = new AbortController();
      const res = await fetch(`${base}/v1/realtime`, { headers: bearer(token), signal: controller.signal });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      let text = '';
      const decoder = new TextDecoder();
      /** Reads until `marker` arrived (or the stream ended): all text so far. */
      const until = async (marker: string) => {
        while (!text.includes(marker)) {
          const { done, value } = await reader.read();
          if (done) break;
          text += decoder.decode(value, { stream: true });
        }
        return text;
      };
      return { until, ended: async () => (await reader.read()).done, abort: () => controller.abort() };
    };
    const kept = await open(keep.accessToken);
    const closing = await open(lost.accessToken);
    await kept.until(': connected');
    await closing.until(': connected');
    const ended = await app.inject({
      method: 'DELETE',
      url: `/v1/auth/sessions/${lost.sessionId}`,
      headers: bearer(keep.accessToken),
    });
    expect(ended.statusCode).toBe(204);
    const text = await closing.until('event: stream.closed');
    const final = /event: stream\.closed\ndata: (.*)\n/.exec(text);
    expect(JSON.parse(final![1]!)).toEqual({
      type: 'stream.closed',
      reason: 'session_ended',
      message: 'this signed-in session was ended; sign in again',
    });
    expect(await closing.ended()).toBe(true);
    // The member's other session's stream is still open.
    expect(app.realtime.stats().streams).toBe(1);
    kept.abort();
  });

  it('a role change and a removal through the team routes reach a cached member at once', async () => {
    const agent = await newAgent();
    const s = await signIn(app, agent.email, { ua: FIREFOX_LINUX, ip: '10.9.6.1' });
    const other = await otherProcess();
    others.push(other);
    expect((await me(other, s.accessToken)).json().role).toBe('agent');
    const admin = await tokenFor('a', 'admin');
    const changed = await app.inject({
      method: 'PATCH',
      url: `/v1/team/${agent.id}`,
      headers: bearer(admin),
      payload: { role: 'viewer' },
    });
    expect(changed.statusCode, changed.body).toBe(200);
    expect((await me(other, s.accessToken)).json().role).toBe('viewer');
    const removed = await app.inject({
      method: 'DELETE',
      url: `/v1/team/${agent.id}`,
      headers: bearer(admin),
    });
    expect(removed.statusCode, removed.body).toBe(204);
    expect((await me(other, s.accessToken)).statusCode).toBe(401);
  });

  it('a change made past the API (no generation move) takes effect within the cache TTL', async () => {
    let now = 1_000_000;
    const other = await otherProcess({ ttlMs: 10_000, now: () => now });
    others.push(other);
    const agent = await newAgent();
    const s = await signIn(app, agent.email, { ua: FIREFOX_LINUX, ip: '10.9.7.1' });
    expect((await me(other, s.accessToken)).statusCode).toBe(200);
    await withTenant(db, seeded.a.tenantId, (tx) =>
      tx.authSession.update({
        where: { id: s.sessionId },
        data: { endedAt: new Date(), endedReason: 'ended_by_admin' },
      }),
    );
    now += 9_999;
    expect((await me(other, s.accessToken)).statusCode).toBe(200);
    now += 1;
    expect((await me(other, s.accessToken)).statusCode).toBe(401);
  });

  it('without Redis the cache tells nothing (so the database answers) and an invalidation says it failed', async () => {
    // A client to a port nothing listens on: every command fails at once.
    const down = new Redis({
      host: '127.0.0.1',
      port: 1,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
    });
    const cache = new CredentialCache({ redis: down });
    const member = { role: 'agent', email: 'x@y.test', displayName: 'X', locale: null } as const;
    let loads = 0;
    const load = async () => {
      loads++;
      return member;
    };
    expect(await cache.member(slugA, 'k', load)).toEqual(member);
    expect(await cache.member(slugA, 'k', load)).toEqual(member);
    // Nothing kept: each read went to the database.
    expect(loads).toBe(2);
    expect(await cache.generation(slugA)).toBeUndefined();
    expect(await cache.invalidate(slugA, seeded.a.tenantId)).toBe(false);
    down.disconnect();
  });
});

describe('API keys through the credential cache', () => {
  const others: FastifyInstance[] = [];
  afterAll(async () => {
    for (const other of others) await other.close();
  });
  const sessions = (on: FastifyInstance, key: string) =>
    on.inject({ method: 'GET', url: '/v1/sessions', headers: { 'x-api-key': key } });

  /** An API key made through the API by a fresh admin (signed in on this process). */
  async function newKey(): Promise<{ key: string; id: string; creatorId: string }> {
    const admin = await newAgent('admin');
    const s = await signIn(app, admin.email, { ua: FIREFOX_LINUX, ip: '10.9.8.1' });
    const created = await app.inject({
      method: 'POST',
      url: '/v1/api-keys',
      headers: bearer(s.accessToken),
      payload: { name: 'crm', scopes: ['read'] },
    });
    expect(created.statusCode, created.body).toBe(201);
    return { key: created.json().key, id: created.json().id, creatorId: admin.id };
  }

  it('a key revoked, or its creator removed, through the API is refused at once by a process that kept it', async () => {
    const other = await otherProcess();
    others.push(other);
    const owner = await tokenFor('a', 'owner');
    const revoked = await newKey();
    const orphaned = await newKey();
    for (const { key } of [revoked, orphaned]) expect((await sessions(other, key)).statusCode).toBe(200);
    const revoke = await app.inject({
      method: 'DELETE',
      url: `/v1/api-keys/${revoked.id}`,
      headers: bearer(owner),
    });
    expect(revoke.statusCode).toBe(204);
    expect((await sessions(other, revoked.key)).statusCode).toBe(401);
    const removed = await app.inject({
      method: 'DELETE',
      url: `/v1/team/${orphaned.creatorId}`,
      headers: bearer(owner),
    });
    expect(removed.statusCode, removed.body).toBe(204);
    expect((await sessions(other, orphaned.key)).statusCode).toBe(401);
  });

  it('a key revoked past the API is kept for at most the TTL; a wrong secret with a kept prefix is refused', async () => {
    let now = 2_000_000;
    const other = await otherProcess({ ttlMs: 10_000, now: () => now });
    others.push(other);
    const { key, id } = await newKey();
    expect((await sessions(other, key)).statusCode).toBe(200);
    // The kept row is checked against the whole key: the prefix alone opens nothing.
    const [prefix] = key.split('.');
    expect((await sessions(other, `${prefix}.${'x'.repeat(43)}`)).statusCode).toBe(401);
    await withTenant(db, seeded.a.tenantId, (tx) =>
      tx.apiKey.update({ where: { id }, data: { revokedAt: new Date() } }),
    );
    now += 9_999;
    expect((await sessions(other, key)).statusCode).toBe(200);
    now += 1;
    expect((await sessions(other, key)).statusCode).toBe(401);
  });
});
