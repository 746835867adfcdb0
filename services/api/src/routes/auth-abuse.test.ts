// Abuse of the public auth routes: cheap rejections before expensive work, and a lockout that
// parallel attempts cannot overrun. hashPassword is the real one, wrapped to count its calls.
import { randomBytes } from 'node:crypto';
import { withTenant } from '@switchboard/db';
import { hashPassword } from '@switchboard/passwords';
import { describe, expect, it, vi } from 'vitest';
import { settledPasswordResets } from '../services/auth.ts';
import {
  app,
  bearer,
  db,
  login,
  PASSWORD,
  resets,
  SCRYPT,
  seeded,
  setupApi,
  slugA,
  tokenFor,
} from '../testing/api-fixture.ts';

vi.mock('@switchboard/passwords', async (importOriginal) => {
  const actual = await importOriginal<typeof import('@switchboard/passwords')>();
  return { ...actual, hashPassword: vi.fn(actual.hashPassword) };
});

setupApi();

const confirm = (token: string) =>
  app.inject({
    method: 'POST',
    url: '/v1/auth/password-reset/confirm',
    payload: { token, password: 'a brand new password 123' },
  });

describe('password reset confirm', () => {
  it('refuses an unknown or used token without hashing the new password', async () => {
    const hashes = vi.mocked(hashPassword);
    const before = hashes.mock.calls.length;
    const unknown = await confirm(`${slugA}.${randomBytes(32).toString('base64url')}`);
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().error.code).toBe('invalid_reset_token');
    expect(hashes.mock.calls.length).toBe(before);

    const email = seeded.a.users.viewer.email;
    await app.inject({ method: 'POST', url: '/v1/auth/password-reset', payload: { tenant: slugA, email } });
    await settledPasswordResets();
    const delivery = resets.find((r) => r.email === email)!;
    expect((await confirm(delivery.token)).statusCode).toBe(204);
    const afterUse = hashes.mock.calls.length;
    expect(afterUse).toBe(before + 1);
    const reused = await confirm(delivery.token);
    expect(reused.json().error.code).toBe('invalid_reset_token');
    expect(hashes.mock.calls.length).toBe(afterUse);
  });
});

describe('login lockout', () => {
  it('lets exactly the limit of parallel wrong passwords past the check', async () => {
    // loginMaxFailures is 3 in the fixture; a fresh address and IP of this test's own.
    const email = `parallel-${randomBytes(4).toString('hex')}@${slugA}.test`;
    const answers = await Promise.all(
      Array.from({ length: 12 }, () => login(slugA, email, 'wrong password', '10.77.0.1')),
    );
    const codes = answers.map((a) => a.json().error.code);
    expect(codes.filter((c) => c === 'invalid_credentials')).toHaveLength(3);
    expect(codes.filter((c) => c === 'account_locked')).toHaveLength(9);
  });
});

describe('API keys belong to a member', () => {
  it('cannot be minted by an API key, and die when their creator is removed', async () => {
    const tenantId = seeded.a.tenantId;
    const email = `keymaker-${randomBytes(3).toString('hex')}@${slugA}.test`;
    const passwordHash = await hashPassword(PASSWORD, SCRYPT);
    const creatorId = await withTenant(db, tenantId, async (tx) => {
      const user = await tx.user.create({ data: { tenantId, email, displayName: 'keymaker', passwordHash } });
      await tx.membership.create({ data: { tenantId, userId: user.id, role: 'admin' } });
      return user.id;
    });
    const token = (await login(slugA, email, PASSWORD, '10.78.0.1')).json().accessToken;
    const created = await app.inject({
      method: 'POST',
      url: '/v1/api-keys',
      headers: bearer(token),
      payload: { name: 'ops', scopes: ['read', 'manage'] },
    });
    expect(created.statusCode).toBe(201);
    const key = created.json().key as string;
    const minted = await app.inject({
      method: 'POST',
      url: '/v1/api-keys',
      headers: { 'x-api-key': key },
      payload: { name: 'child', scopes: ['manage'] },
    });
    expect(minted.statusCode).toBe(403);
    const use = () => app.inject({ method: 'GET', url: '/v1/sessions', headers: { 'x-api-key': key } });
    expect((await use()).statusCode).toBe(200);
    // Through the team route, as a removal is made: every process's kept key goes stale at once
    // (one removed by hand in the database is refused within the credential cache's TTL,
    // auth-sessions.test.ts).
    const removed = await app.inject({
      method: 'DELETE',
      url: `/v1/team/${creatorId}`,
      headers: bearer(await tokenFor('a', 'owner')),
    });
    expect(removed.statusCode, removed.body).toBe(204);
    const after = await use();
    expect(after.statusCode).toBe(401);
    expect(after.json().error.code).toBe('unauthenticated');
  });
});
