import { SealingKeyring } from '@switchboard/secrets';
import { describe, expect, it } from 'vitest';
import { tenantFixture } from '../testing/fixtures.ts';
import { buildManagedDatabaseSecret, databaseSecretName } from './database-secret.ts';
import { buildGeneratedSecret, GENERATED_SECRET_KEYS, newGeneratedSecretValues } from './generated-secret.ts';

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
      redisApiPassword: 'ra',
      redisWorkerPassword: 'rw',
      redisReplicationPassword: 'rr',
      redisSentinelPassword: 'rs',
      authStateKeys: 'k1:a',
      sealingKeys: 'k1:s',
    });
    expect(secret.metadata?.name).toBe('acme-internal');
    expect(decode(secret.data)).toEqual({
      JWT_SIGNING_KEY: 'j',
      INTERNAL_TOKEN: 'i',
      REDIS_PASSWORD: 'r',
      REDIS_API_PASSWORD: 'ra',
      REDIS_WORKER_PASSWORD: 'rw',
      REDIS_REPLICATION_PASSWORD: 'rr',
      REDIS_SENTINEL_PASSWORD: 'rs',
      AUTH_STATE_KEYS: 'k1:a',
      SEALING_KEYS: 'k1:s',
    });
    expect(secret).not.toHaveProperty('stringData');
  });
});

describe('newGeneratedSecretValues', () => {
  it('makes every value, fresh each time, in the form its reader parses', () => {
    const a = newGeneratedSecretValues();
    const b = newGeneratedSecretValues();
    expect(Object.keys(a).sort()).toEqual(Object.keys(GENERATED_SECRET_KEYS).sort());
    for (const key of Object.keys(a) as (keyof typeof a)[]) expect(a[key]).not.toBe(b[key]);
    // Written into redis.conf and sentinel.conf by the start scripts: no spaces, no shell specials.
    for (const key of [
      'redisPassword',
      'redisApiPassword',
      'redisWorkerPassword',
      'redisReplicationPassword',
      'redisSentinelPassword',
    ] as const)
      expect(a[key]).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(SealingKeyring.parse(a.sealingKeys).currentKeyId).toBe('k1');
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
