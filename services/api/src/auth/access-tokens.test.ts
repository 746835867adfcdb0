import { webcrypto } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../errors.ts';
import { signAccessToken } from '../plugins/auth.ts';
import { AccessTokens } from './access-tokens.ts';

const SECRET = new TextEncoder().encode('an access-token signing key of 32+ bytes');
const CLAIMS = {
  userId: '11111111-1111-4111-8111-111111111111',
  tenantId: '22222222-2222-4222-8222-222222222222',
  slug: 'acme',
  sessionId: '33333333-3333-4333-8333-333333333333',
};

async function verifyingKey(secret = SECRET): Promise<webcrypto.CryptoKey> {
  return webcrypto.subtle.importKey('raw', secret, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApiError);
  return (error as ApiError).code;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('AccessTokens', () => {
  it('answers the claims of a token it signed, checking its signature once while it is valid', async () => {
    const tokens = new AccessTokens({ key: await verifyingKey() });
    const token = await signAccessToken(SECRET, CLAIMS, 60_000);
    const hmac = vi.spyOn(globalThis.crypto.subtle, 'verify');
    const first = await tokens.verify(token);
    const second = await tokens.verify(token);
    expect(first).toMatchObject({
      sub: CLAIMS.userId,
      tid: CLAIMS.tenantId,
      ten: 'acme',
      sid: CLAIMS.sessionId,
    });
    expect(second).toEqual(first);
    expect(hmac).toHaveBeenCalledTimes(1);
  });

  it('refuses a kept token as expired once the clock passes its expiry', async () => {
    let now = Date.now();
    const tokens = new AccessTokens({ key: await verifyingKey(), now: () => now });
    const token = await signAccessToken(SECRET, CLAIMS, 60_000);
    await tokens.verify(token);
    expect(tokens.size).toBe(1);
    now += 61_000;
    expect(await refusal(tokens.verify(token))).toBe('token_expired');
    expect(tokens.size).toBe(0);
    // Checked again from the signature, still expired.
    expect(await refusal(tokens.verify(token))).toBe('token_expired');
  });

  it('refuses, and does not keep, a token with another key, another issuer, no expiry, or altered', async () => {
    const tokens = new AccessTokens({ key: await verifyingKey() });
    const otherKey = await signAccessToken(
      new TextEncoder().encode('another key, also 32 bytes or more'),
      CLAIMS,
      60_000,
    );
    const otherIssuer = await new SignJWT({ tid: CLAIMS.tenantId })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('someone-else')
      .setAudience('switchboard')
      .setExpirationTime('1m')
      .sign(SECRET);
    const good = await signAccessToken(SECRET, CLAIMS, 60_000);
    const [header, body, signature] = good.split('.');
    const altered = `${header}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body!, 'base64url').toString()), ten: 'evil' })).toString('base64url')}.${signature}`;
    for (const token of [otherKey, otherIssuer, altered, 'not-a-jwt'])
      expect(await refusal(tokens.verify(token))).toBe('unauthenticated');
    expect(tokens.size).toBe(0);
    // A token without an expiry is valid to jose but never kept: every use checks it again.
    const noExpiry = await new SignJWT({ tid: CLAIMS.tenantId })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('switchboard-api')
      .setAudience('switchboard')
      .sign(SECRET);
    await tokens.verify(noExpiry);
    expect(tokens.size).toBe(0);
  });

  it('keeps at most maxEntries tokens', async () => {
    const tokens = new AccessTokens({ key: await verifyingKey(), maxEntries: 3 });
    for (let i = 0; i < 5; i++)
      await tokens.verify(
        await signAccessToken(
          SECRET,
          { ...CLAIMS, sessionId: `${CLAIMS.sessionId.slice(0, -1)}${i}` },
          60_000,
        ),
      );
    expect(tokens.size).toBe(3);
  });
});
