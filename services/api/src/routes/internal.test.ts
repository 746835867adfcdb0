import { withTenant } from '@switchboard/db';
import { describe, expect, it } from 'vitest';
import {
  app,
  bearer,
  db,
  INTERNAL_TOKEN,
  seeded,
  setupApi,
  slugA,
  tokenFor,
} from '../testing/api-fixture.ts';

setupApi();

describe('internal status', () => {
  it("summarizes the configured tenant's sessions for the INTERNAL_TOKEN only", async () => {
    const denied = await app.inject({
      method: 'GET',
      url: '/internal/status',
      headers: bearer(await tokenFor('a', 'owner')),
    });
    expect(denied.statusCode).toBe(401);
    const res = await app.inject({
      method: 'GET',
      url: '/internal/status',
      headers: bearer(INTERNAL_TOKEN),
    });
    expect(res.statusCode).toBe(200);
    const count = await withTenant(db, seeded.a.tenantId, (tx) =>
      tx.session.count({ where: { state: 'unpaired' } }),
    );
    expect(res.json()).toMatchObject({
      tenant: slugA,
      sessions: { byState: { unpaired: count, connected: 0 } },
    });
    expect(res.json().sessions.total).toBe(
      await withTenant(db, seeded.a.tenantId, (tx) => tx.session.count()),
    );
  });
});
