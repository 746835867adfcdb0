import { describe, expect, it } from 'vitest';
import { tenantFixture } from '../testing/fixtures.ts';
import { buildManagedDatabaseSecret, databaseSecretName } from './database-secret.ts';
import { buildGeneratedSecret } from './generated-secret.ts';

const decode = (data: Record<string, string> | undefined) =>
  Object.fromEntries(
    Object.entries(data ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64').toString()]),
  );

describe('buildGeneratedSecret', () => {
  it('holds the given values under the services’ variable names', () => {
    const secret = buildGeneratedSecret(tenantFixture({}), {
      jwtSigningKey: 'j',
      internalToken: 'i',
      redisPassword: 'r',
      authStateKeys: 'k1:a',
    });
    expect(secret.metadata?.name).toBe('acme-internal');
    expect(decode(secret.data)).toEqual({
      JWT_SIGNING_KEY: 'j',
      INTERNAL_TOKEN: 'i',
      REDIS_PASSWORD: 'r',
      AUTH_STATE_KEYS: 'k1:a',
    });
    expect(secret).not.toHaveProperty('stringData');
  });
});

describe('database Secret', () => {
  it('is the operator’s in managed mode and the tenant’s in external mode', () => {
    const managed = tenantFixture({});
    expect(databaseSecretName(managed)).toBe('acme-db');
    const secret = buildManagedDatabaseSecret(managed, {
      ownerUrl: 'postgres://o',
      appUrl: 'postgres://a',
      appRole: 'acme_app',
    });
    expect(decode(secret.data)).toEqual({
      ownerUrl: 'postgres://o',
      appUrl: 'postgres://a',
      appRole: 'acme_app',
    });
    const external = tenantFixture({
      database: { mode: 'external', external: { secretRef: { name: 'theirs' } } },
    });
    expect(databaseSecretName(external)).toBe('theirs');
  });
});
