import { withTenant } from '@switchboard/db';
import { hashPassword } from '@switchboard/passwords';
import { describe, expect, it } from 'vitest';
import { settledPasswordResets } from '../services/auth.ts';
import {
  app,
  bearer,
  db,
  login,
  PASSWORD,
  resets,
  seeded,
  setupApi,
  slugA,
  slugB,
  tokenFor,
} from '../testing/api-fixture.ts';

setupApi();

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
    await settledPasswordResets();
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
    await settledPasswordResets();
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
