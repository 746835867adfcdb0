// The API runs as the operator's `api` Redis ACL user (api-fixture.ts), which reaches only keys
// under its own tenant's prefix: a login naming a tenant this API does not serve is an ordinary
// wrong login, counted under the API's own prefix, never a NOPERM turned into a 500.
import { describe, expect, it } from 'vitest';
import { hashCredential } from '../auth/tokens.ts';
import { app, PASSWORD, redis, setupApi, slugA } from '../testing/api-fixture.ts';

setupApi();

describe('login failure counters under the api Redis user', () => {
  it("answers 401 to a login naming another tenant and counts it under the API's own prefix", async () => {
    const answer = await app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { tenant: 'not-served-here', email: 'someone@example.test', password: PASSWORD },
    });
    expect(answer.statusCode).toBe(401);
    expect(answer.json().error.code).toBe('invalid_credentials');
    const email = 'someone@example.test';
    const own = `sb:${slugA}:api:login-failures:account:${hashCredential(`not-served-here\n${email}`)}`;
    expect(await redis.get(own)).toBe('1');
    expect(await redis.exists(`sb:not-served-here:api:login-failures:account:${hashCredential(email)}`)).toBe(
      0,
    );
  });
});
