// Identity under attack and under concurrency: reset tokens that die together, reset requests
// that say nothing (in content or timing) and are limited per account, owners that two
// concurrent demotions cannot both remove, members invited again after removal, and the invite
// link the accept-invite page takes.
import { randomBytes } from 'node:crypto';
import { withTenant } from '@switchboard/db';
import { hashPassword } from '@switchboard/passwords';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { PASSWORD_RESETS_PER_ACCOUNT, settledPasswordResets } from '../services/auth.ts';
import {
  app,
  bearer,
  database,
  db,
  eventually,
  login,
  PASSWORD,
  resetGate,
  resets,
  SCRYPT,
  seeded,
  setupApi,
  slugA,
  tokenFor,
} from '../testing/api-fixture.ts';

setupApi();

const requestReset = (email: string) =>
  app.inject({ method: 'POST', url: '/v1/auth/password-reset', payload: { tenant: slugA, email } });
const confirm = (token: string, password = 'a brand new password 123') =>
  app.inject({ method: 'POST', url: '/v1/auth/password-reset/confirm', payload: { token, password } });

/** A member of tenant A of its own (with a password), so tests never share an account. */
async function newMember(
  role: 'owner' | 'admin' | 'agent' | 'viewer',
): Promise<{ id: string; email: string }> {
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

describe('password reset tokens', () => {
  it('are all spent when one of them sets the password', async () => {
    const { email } = await newMember('agent');
    await requestReset(email);
    await requestReset(email);
    await settledPasswordResets();
    const [older, newer] = resets.filter((r) => r.email === email);
    expect(older && newer).toBeTruthy();
    expect((await confirm(newer!.token)).statusCode).toBe(204);
    const stale = await confirm(older!.token, 'an attacker password 123');
    expect(stale.statusCode).toBe(400);
    expect(stale.json().error.code).toBe('invalid_reset_token');
    expect((await login(slugA, email, 'a brand new password 123', '10.90.0.1')).statusCode).toBe(200);
  });
});

describe('password reset requests', () => {
  it('are answered before anything that depends on the account happens', async () => {
    const { email } = await newMember('viewer');
    let open!: () => void;
    resetGate.hold = new Promise((resolve) => {
      open = resolve;
    });
    try {
      const answer = requestReset(email);
      // The delivery hook has the token and is held: nothing account-dependent is finished.
      await eventually('the delivery hook to be called', () => resets.some((r) => r.email === email), 10_000);
      const outcome = await Promise.race([
        answer,
        new Promise<'still waiting'>((resolve) => setTimeout(() => resolve('still waiting'), 5_000)),
      ]);
      expect(outcome).not.toBe('still waiting');
      const existing = outcome as Awaited<typeof answer>;
      const missing = await requestReset(`nobody-${randomBytes(4).toString('hex')}@${slugA}.test`);
      const shape = (r: typeof missing) => ({
        status: r.statusCode,
        body: r.body,
        type: r.headers['content-type'],
        length: r.headers['content-length'],
      });
      expect(shape(existing)).toEqual(shape(missing));
      expect(existing.statusCode).toBe(202);
    } finally {
      open();
      resetGate.hold = undefined;
      await settledPasswordResets();
    }
  });

  it('deliver at most the per-account limit of tokens, with the same answer past it', async () => {
    const { email } = await newMember('agent');
    const answers = [];
    for (let i = 0; i < PASSWORD_RESETS_PER_ACCOUNT + 3; i++) answers.push(await requestReset(email));
    await settledPasswordResets();
    expect(answers.map((a) => a.statusCode)).toEqual(answers.map(() => 202));
    expect(resets.filter((r) => r.email === email)).toHaveLength(PASSWORD_RESETS_PER_ACCOUNT);
  });
});

describe('owners', () => {
  it('two concurrent demotions of the last two owners leave one owner', async () => {
    // A tenant A owner set of exactly two: the seeded owner stays an owner only if it is one of them.
    const { tenantId } = seeded.a;
    const first = await newMember('owner');
    const second = await newMember('owner');
    await withTenant(db, tenantId, (tx) =>
      tx.membership.updateMany({
        where: { role: 'owner', userId: { notIn: [first.id, second.id] } },
        data: { role: 'admin' },
      }),
    );
    const firstToken = (await login(slugA, first.email, PASSWORD, '10.91.0.1')).json().accessToken;
    const secondToken = (await login(slugA, second.email, PASSWORD, '10.91.0.2')).json().accessToken;

    // Force the overlap: a transaction of the test's own holds the audit log so that both
    // demotions get past their checks and wait to write their audit entry, both open at once.
    const admin = new pg.Client({ connectionString: database.adminUrl });
    await admin.connect();
    try {
      await admin.query('BEGIN');
      await admin.query('LOCK TABLE audit_log IN SHARE MODE');
      const demote = (token: string, userId: string) =>
        app.inject({
          method: 'PATCH',
          url: `/v1/team/${userId}`,
          headers: bearer(token),
          payload: { role: 'admin' },
        });
      // Each owner demotes the other.
      const answers = Promise.all([demote(firstToken, second.id), demote(secondToken, first.id)]);
      await eventually(
        'both demotions to wait on a lock',
        async () => {
          const { rows } = await admin.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity
              WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`,
          );
          return rows[0]!.n >= 2;
        },
        20_000,
      );
      await admin.query('COMMIT');
      const [a, b] = await answers;
      expect([a.statusCode, b.statusCode].sort()).toEqual([200, 409]);
    } finally {
      await admin.query('ROLLBACK').catch(() => {});
      await admin.end();
    }
    const owners = await withTenant(db, tenantId, (tx) => tx.membership.count({ where: { role: 'owner' } }));
    expect(owners).toBe(1);
    // Give the seeded owner its role back for the other tests of this file.
    await withTenant(db, tenantId, (tx) =>
      tx.membership.updateMany({ where: { userId: seeded.a.users.owner.id }, data: { role: 'owner' } }),
    );
  });
});

describe('invites', () => {
  it('invite a removed member again, through a new invite link only', async () => {
    const admin = await tokenFor('a', 'admin');
    const email = `again-${randomBytes(4).toString('hex')}@${slugA}.test`;
    const invite = () =>
      app.inject({
        method: 'POST',
        url: '/v1/team',
        headers: bearer(admin),
        payload: { email, displayName: 'Again', role: 'agent' },
      });
    const first = await invite();
    expect(first.statusCode).toBe(201);
    const { userId, invite: firstInvite } = first.json();
    expect(firstInvite.token).toMatch(new RegExp(`^${slugA}\\.`));
    expect((await confirm(firstInvite.token, 'first password 12345')).statusCode).toBe(204);
    expect((await login(slugA, email, 'first password 12345', '10.92.0.1')).statusCode).toBe(200);

    expect((await invite()).json().error.code).toBe('conflict');
    const removed = await app.inject({ method: 'DELETE', url: `/v1/team/${userId}`, headers: bearer(admin) });
    expect(removed.statusCode).toBe(204);

    const again = await invite();
    expect(again.statusCode).toBe(201);
    expect(again.json()).toMatchObject({ userId, email, role: 'agent' });
    // The old password does not bring them back; the new invite does.
    expect((await login(slugA, email, 'first password 12345', '10.92.0.2')).statusCode).toBe(401);
    const described = await app.inject({
      method: 'POST',
      url: '/v1/auth/invite',
      payload: { token: again.json().invite.token },
    });
    expect(described.json()).toMatchObject({ email, displayName: 'Again', tenant: slugA });
    const accepted = await app.inject({
      method: 'POST',
      url: '/v1/auth/invite/accept',
      payload: { token: again.json().invite.token, password: 'second password 12345' },
    });
    expect(accepted.statusCode).toBe(204);
    expect((await login(slugA, email, 'second password 12345', '10.92.0.3')).statusCode).toBe(200);
    const spent = await app.inject({
      method: 'POST',
      url: '/v1/auth/invite',
      payload: { token: again.json().invite.token },
    });
    expect(spent.statusCode).toBe(400);
    expect(spent.json().error.code).toBe('invalid_reset_token');
  });
});
