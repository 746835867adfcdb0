// The worker's Postgres pool from its config (DATABASE_POOL_SIZE, DATABASE_POOL_TIMEOUT,
// DATABASE_STATEMENT_TIMEOUT, as the API reads them): the defaults, bad values refused by name,
// and a pool made from the settings really has them.
import { ConfigError, loadConfig } from '@switchboard/config';
import { createDb } from '@switchboard/db';
import { createTestDatabase, type TestDatabase } from '@switchboard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workerConfigSchema, workerPoolSettings } from './config.ts';

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase({ label: 'worker-config' });
});

afterAll(async () => {
  await database?.drop();
});

function load(env: Record<string, string>) {
  return loadConfig(workerConfigSchema, {
    env: {
      SWITCHBOARD_TENANT: 'pool-co',
      DATABASE_URL: database.appUrl,
      REDIS_MODE: 'standalone',
      REDIS_URL: 'redis://127.0.0.1:6379/0',
      ...env,
    },
  });
}

describe("the worker's database pool", () => {
  it('defaults to the same pool as the API: 10 connections, 5s to get one, 5s per statement', async () => {
    expect(workerPoolSettings(await load({}))).toEqual({
      maxConnections: 10,
      poolTimeoutMs: 5_000,
      statementTimeoutMs: 5_000,
    });
  });

  it('takes its size and timeouts from the environment, and a pool made from them has them', async () => {
    const config = await load({
      DATABASE_POOL_SIZE: '3',
      DATABASE_POOL_TIMEOUT: '1500ms',
      DATABASE_STATEMENT_TIMEOUT: '750ms',
    });
    const settings = workerPoolSettings(config);
    expect(settings).toEqual({ maxConnections: 3, poolTimeoutMs: 1_500, statementTimeoutMs: 750 });
    const db = createDb({ databaseUrl: config.DATABASE_URL, ...settings });
    try {
      const [row] = await db.$queryRaw<{ statement_timeout: string }[]>`SHOW statement_timeout`;
      expect(row?.statement_timeout).toBe('750ms');
      // A statement past the timeout is cancelled by Postgres instead of holding a connection.
      await expect(db.$queryRaw`SELECT pg_sleep(5)`).rejects.toThrow(/statement timeout/i);
    } finally {
      await db.$disconnect();
    }
  });

  it('refuses bad values, naming each variable', async () => {
    const error = await load({
      DATABASE_POOL_SIZE: '1',
      DATABASE_POOL_TIMEOUT: 'soon',
      DATABASE_STATEMENT_TIMEOUT: '1h',
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.variable).sort()).toEqual([
      'DATABASE_POOL_SIZE',
      'DATABASE_POOL_TIMEOUT',
      'DATABASE_STATEMENT_TIMEOUT',
    ]);
  });
});
