import { withTenant } from '@switchboard/db';
import { describe, expect, it } from 'vitest';
import {
  app,
  bearer,
  db,
  INTERNAL_TOKEN,
  login,
  seeded,
  setupApi,
  slugA,
  tokenFor,
} from '../testing/api-fixture.ts';

setupApi();

const status = () => app.inject({ method: 'GET', url: '/internal/status', headers: bearer(INTERNAL_TOKEN) });
const ownerInvite = (email: string) =>
  app.inject({
    method: 'POST',
    url: '/internal/owner-invite',
    headers: bearer(INTERNAL_TOKEN),
    payload: { email },
  });
const accept = (token: string, password: string) =>
  app.inject({ method: 'POST', url: '/v1/auth/invite/accept', payload: { token, password } });

describe('internal status', () => {
  it("summarizes the configured tenant's sessions for the INTERNAL_TOKEN only", async () => {
    const denied = await app.inject({
      method: 'GET',
      url: '/internal/status',
      headers: bearer(await tokenFor('a', 'owner')),
    });
    expect(denied.statusCode).toBe(401);
    const res = await status();
    expect(res.statusCode).toBe(200);
    const count = await withTenant(db, seeded.a.tenantId, (tx) =>
      tx.session.count({ where: { state: 'unpaired' } }),
    );
    expect(res.json()).toMatchObject({
      tenant: slugA,
      sessions: { byState: { unpaired: count, connected: 0 } },
      owner: { active: true },
    });
    expect(res.json().sessions.total).toBe(
      await withTenant(db, seeded.a.tenantId, (tx) => tx.session.count()),
    );
    // Each session by name, the declared ones first.
    expect(res.json().sessions.items.slice(0, 2)).toEqual([
      { name: 'declared', state: 'unpaired', declared: true },
      { name: 'main', state: 'unpaired', declared: false },
    ]);
  });
});

describe('the first owner', () => {
  it('is invited while no owner can sign in; a renewal spends the older link; then it is refused', async () => {
    const denied = await app.inject({
      method: 'POST',
      url: '/internal/owner-invite',
      headers: bearer(await tokenFor('a', 'owner')),
      payload: { email: 'x@example.com' },
    });
    expect(denied.statusCode).toBe(401);
    // Tenant A's seeded owner can sign in: no invite.
    const refused = await ownerInvite(`first@${slugA}.test`);
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error.code).toBe('owner_exists');

    // Without an owner who can sign in (as on a fresh tenant), the invite is made.
    const { tenantId } = seeded.a;
    await withTenant(db, tenantId, (tx) =>
      tx.membership.updateMany({ where: { role: 'owner' }, data: { role: 'admin' } }),
    );
    try {
      const typo = await ownerInvite(`typo@${slugA}.test`);
      expect(typo.statusCode).toBe(201);
      expect((await status()).json().owner).toEqual({ active: false });
      // The spec's email corrected before anyone accepted: the typo's invite stops working.
      const first = await ownerInvite(`First@${slugA}.test`);
      expect(first.statusCode).toBe(201);
      expect(first.json().email).toBe(`first@${slugA}.test`);
      expect(Date.parse(first.json().expiresAt)).toBeGreaterThan(Date.now() + 6 * 86_400_000);
      const renewed = await ownerInvite(`first@${slugA}.test`);
      expect((await accept(typo.json().token, 'typo password 12345')).statusCode).toBe(400);
      expect((await accept(first.json().token, 'owner password 12345')).statusCode).toBe(400);
      expect((await accept(renewed.json().token, 'owner password 12345')).statusCode).toBe(204);
      expect((await status()).json().owner).toEqual({ active: true });
      const owner = await login(slugA, `first@${slugA}.test`, 'owner password 12345', '10.95.0.1');
      expect(owner.statusCode).toBe(200);
      const me = await app.inject({
        method: 'GET',
        url: '/v1/auth/me',
        headers: bearer(owner.json().accessToken),
      });
      expect(me.json()).toMatchObject({ role: 'owner', tenant: slugA });
      const owners = await withTenant(db, tenantId, (tx) =>
        tx.membership.findMany({ where: { role: 'owner' }, include: { user: true } }),
      );
      expect(owners.map((o) => o.user.email)).toEqual([`first@${slugA}.test`]);
      expect((await ownerInvite(`someone@${slugA}.test`)).json().error.code).toBe('owner_exists');
    } finally {
      await withTenant(db, tenantId, (tx) =>
        tx.membership.updateMany({ where: { userId: seeded.a.users.owner.id }, data: { role: 'owner' } }),
      );
    }
  });

  it('refuses a body that is not an email with a 400', async () => {
    const res = await ownerInvite('not an email');
    expect(res.statusCode).toBe(400);
  });
});
