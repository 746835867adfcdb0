import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  databaseConfigSchema,
  databasePoolConfigSchema,
  databasePoolSettings,
  redisConfigSchema,
  sealingKeys,
  secretsConfigSchema,
  telemetryConfigSchema,
} from './base.ts';
import { renderConfigMarkdown } from './docs.ts';
import { describeField } from './fields.ts';
import { ConfigError, defineConfig, loadConfig } from './load.ts';

const redis = defineConfig(redisConfigSchema);

async function problems(env: Record<string, string>): Promise<string[]> {
  try {
    await loadConfig(redis, { env });
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems.map((p) => `${p.variable}: ${p.problem}`);
  }
}

describe('redisConfigSchema', () => {
  it('requires what each mode needs', async () => {
    expect(await problems({})).toEqual(['REDIS_URL: is required when REDIS_MODE=standalone']);
    expect(await problems({ REDIS_MODE: 'sentinel' })).toEqual([
      'REDIS_SENTINELS: is required when REDIS_MODE=sentinel',
      'REDIS_SENTINEL_NAME: is required when REDIS_MODE=sentinel',
    ]);
    expect(await problems({ REDIS_MODE: 'cluster' })).toEqual([
      'REDIS_CLUSTER_NODES: is required when REDIS_MODE=cluster',
    ]);
    expect(await problems({ REDIS_MODE: 'replicated' })).toEqual([
      'REDIS_MODE: expected one of standalone, sentinel, cluster',
    ]);
  });

  it('parses a sentinel configuration', async () => {
    const config = await loadConfig(redis, {
      env: {
        REDIS_MODE: 'sentinel',
        REDIS_SENTINELS: 'acme-sentinel-0:26379,acme-sentinel-1:26379',
        REDIS_SENTINEL_NAME: 'mymaster',
        REDIS_PASSWORD: 'pw-from-env',
      },
    });
    expect(config).toMatchObject({
      REDIS_MODE: 'sentinel',
      REDIS_SENTINELS: [
        { host: 'acme-sentinel-0', port: 26379 },
        { host: 'acme-sentinel-1', port: 26379 },
      ],
      REDIS_SENTINEL_NAME: 'mymaster',
      REDIS_PASSWORD: 'pw-from-env',
    });
  });

  it('keeps its mode check when composed with other parts', async () => {
    const schema = defineConfig(telemetryConfigSchema, redisConfigSchema, databaseConfigSchema);
    const error = await loadConfig(schema, {
      env: { OTEL_SERVICE_NAME: 'x', DATABASE_URL: 'postgres://db/app', REDIS_MODE: 'cluster' },
    }).catch((caught: unknown) => caught);
    expect((error as ConfigError).problems).toEqual([
      { variable: 'REDIS_CLUSTER_NODES', problem: 'is required when REDIS_MODE=cluster' },
    ]);
  });
});

describe('secretsConfigSchema', () => {
  it('composes into a service schema, keeps its cross-field checks and documents every variable', async () => {
    const schema = defineConfig(databaseConfigSchema, secretsConfigSchema);
    const error = await loadConfig(schema, {
      env: { DATABASE_URL: 'postgres://app:pw@db/acme', SECRETS_PROVIDER: 'aws' },
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      { variable: 'AWS_REGION', problem: 'is required when SECRETS_PROVIDER=aws' },
    ]);
    const docs = renderConfigMarkdown(schema);
    for (const name of [
      'SECRETS_PROVIDER',
      'VAULT_ADDR',
      'VAULT_ROLE',
      'VAULT_AUTH_MOUNT_PATH',
      'VAULT_TOKEN_PATH',
      'AWS_REGION',
    ]) {
      expect(docs).toContain(`| \`${name}\` |`);
    }
    expect(docs).toMatch(/\| `VAULT_TOKEN` \| no \| {2}\| string \| yes \|/);
    expect(docs).toMatch(/\| `SECRETS_CACHE_TTL` \| no \| `300000` \| duration \(ms, s, m, h, d\) \|/);
  });
});

describe('sealingKeys', () => {
  const schema = defineConfig(
    z.object({ SEALING_KEYS: sealingKeys().optional().describe('Keys sealing webhook secrets.') }),
  );

  it('takes a keyring SealingKeyring reads, and is documented as a secret', async () => {
    const keys = `k2:${Buffer.alloc(32, 2).toString('base64')},k1:${Buffer.alloc(32, 1).toString('base64')}`;
    const config = await loadConfig(schema, { env: { SEALING_KEYS: keys } });
    expect(config.SEALING_KEYS).toBe(keys);
    expect(describeField(schema.shape.SEALING_KEYS).secret).toBe(true);
  });

  it('stops at start on a keyring SealingKeyring refuses, naming the variable and never the value', async () => {
    const short = `k1:${Buffer.alloc(8, 1).toString('base64')}`;
    const error = await loadConfig(schema, { env: { SEALING_KEYS: short } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    const [problem, ...rest] = (error as ConfigError).problems;
    expect(rest).toEqual([]);
    expect(problem?.variable).toBe('SEALING_KEYS');
    expect(problem?.problem).toContain('sealing key k1 must be base64 of exactly 32 bytes');
    expect(problem?.problem).not.toContain(Buffer.alloc(8, 1).toString('base64'));
  });
});

describe('databasePoolConfigSchema', () => {
  const schema = defineConfig(databaseConfigSchema, databasePoolConfigSchema);
  const url = { DATABASE_URL: 'postgres://app:pw@db/acme' };

  it('defaults to 10 connections, 5s to get one, 5s per statement and half the pool for searches', async () => {
    const config = await loadConfig(schema, { env: url });
    expect(databasePoolSettings(config)).toEqual({
      maxConnections: 10,
      poolTimeoutMs: 5_000,
      statementTimeoutMs: 5_000,
      searchConcurrency: 5,
    });
    const small = await loadConfig(schema, {
      env: { ...url, DATABASE_POOL_SIZE: '3', DATABASE_STATEMENT_TIMEOUT: '750ms' },
    });
    expect(databasePoolSettings(small)).toMatchObject({ statementTimeoutMs: 750, searchConcurrency: 1 });
  });

  it('names every bad setting: timeouts out of range, searches that could take the whole pool', async () => {
    const error = await loadConfig(schema, {
      env: {
        ...url,
        DATABASE_POOL_SIZE: '4',
        DATABASE_SEARCH_CONCURRENCY: '4',
        DATABASE_POOL_TIMEOUT: '50ms',
        DATABASE_STATEMENT_TIMEOUT: '1h',
      },
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      { variable: 'DATABASE_POOL_TIMEOUT', problem: 'expected a duration from 100ms to 10m' },
      { variable: 'DATABASE_STATEMENT_TIMEOUT', problem: 'expected a duration from 100ms to 10m' },
      { variable: 'DATABASE_SEARCH_CONCURRENCY', problem: 'must be less than DATABASE_POOL_SIZE (4)' },
    ]);
  });
});
