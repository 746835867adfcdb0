import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { app, bearer, seeded, setupApi, slugA, tokenFor } from '../testing/api-fixture.ts';
import { signAccessToken } from './auth.ts';

setupApi();

describe('the credential check', () => {
  it('refuses a signed token whose subject is not a user id with a 401, not a database error', async () => {
    const token = await signAccessToken(
      app.sb.jwtKey,
      { userId: 'not-a-uuid', tenantId: seeded.a.tenantId, slug: slugA, sessionId: randomUUID() },
      60_000,
    );
    const res = await app.inject({ method: 'GET', url: '/v1/auth/me', headers: bearer(token) });
    expect(res.statusCode, res.body).toBe(401);
    expect(res.json().error.code).toBe('unauthenticated');
  });

  it("answers /v1/auth/me with the member's own row and current role", async () => {
    const res = await app.inject({
      method: 'GET',
      url: '/v1/auth/me',
      headers: bearer(await tokenFor('a', 'agent')),
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({
      id: seeded.a.users.agent.id,
      email: seeded.a.users.agent.email,
      displayName: expect.any(String),
      role: 'agent',
      tenant: slugA,
      locale: null,
    });
  });
});
