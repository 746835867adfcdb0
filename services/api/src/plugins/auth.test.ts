import { withTenant } from '@switchboard/db';
import { describe, expect, it } from 'vitest';
import { app, bearer, db, ROLES, seeded, setupApi, tokenFor } from '../testing/api-fixture.ts';

setupApi();

describe('roles', () => {
  // [method, url, body, the least role allowed]; each row is tried with every role.
  const matrix: [string, string, unknown, (typeof ROLES)[number]][] = [
    ['GET', '/v1/sessions', undefined, 'viewer'],
    ['GET', '/v1/conversations', undefined, 'viewer'],
    ['GET', '/v1/contacts', undefined, 'viewer'],
    ['GET', '/v1/team', undefined, 'viewer'],
    ['POST', '/v1/conversations/{conversation}/read', undefined, 'agent'],
    ['PATCH', '/v1/contacts/{contact}', { displayName: 'Named' }, 'agent'],
    ['GET', '/v1/api-keys', undefined, 'admin'],
    ['GET', '/v1/audit-log', undefined, 'admin'],
    ['GET', '/v1/sessions/{session}/pairing', undefined, 'admin'],
    ['PATCH', '/v1/team/{viewer}', { role: 'owner' }, 'owner'],
  ];
  const order = ['viewer', 'agent', 'admin', 'owner'];
  for (const [method, url, body, minimum] of matrix) {
    for (const role of ROLES) {
      const allowed = order.indexOf(role) >= order.indexOf(minimum);
      it(`${method} ${url} as ${role} is ${allowed ? 'allowed' : 'forbidden'}`, async () => {
        const a = seeded.a;
        const path = url
          .replace('{conversation}', a.conversationId)
          .replace('{contact}', a.contactId)
          .replace('{session}', a.sessionId)
          .replace('{viewer}', a.users.viewer.id);
        const res = await app.inject({
          method: method as 'GET',
          url: path,
          headers: bearer(await tokenFor('a', role)),
          ...(body ? { payload: body as object } : {}),
        });
        if (allowed) expect(res.statusCode, res.body).not.toBe(403);
        else {
          expect(res.statusCode).toBe(403);
          expect(res.json().error.code).toBe('forbidden');
        }
        // Restore what the owner's row changed, so later rows see the seeded roles.
        if (allowed && url.startsWith('/v1/team/')) {
          await withTenant(db, a.tenantId, (tx) =>
            tx.membership.updateMany({ where: { userId: a.users.viewer.id }, data: { role: 'viewer' } }),
          );
        }
      });
    }
  }
});
