import { describe, expect, it } from 'vitest';
import {
  databaseConfigSchema,
  redisConfigSchema,
  secretsConfigSchema,
  telemetryConfigSchema,
} from './base.ts';
import { renderConfigMarkdown } from './docs.ts';
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
