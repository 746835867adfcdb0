import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecretResolver } from '@switchboard/secrets';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import {
  databaseConfigSchema,
  loggingConfigSchema,
  redisConfigSchema,
  telemetryConfigSchema,
} from './base.ts';
import { boolean, duration, list, port, secret, url } from './fields.ts';
import { ConfigError, defineConfig, loadConfig, loadConfigOrExit } from './load.ts';

const serviceSchema = defineConfig(
  loggingConfigSchema,
  telemetryConfigSchema,
  redisConfigSchema,
  databaseConfigSchema,
  z.object({
    PORT: port().default(3000).describe('Port the API listens on.'),
    SHUTDOWN_GRACE: duration().default(30_000).describe('Time to drain before exit.'),
    INBOX_ENABLED: boolean().default(true).describe('Serve the built inbox.'),
    CORS_ORIGINS: list(url()).default([]).describe('Origins allowed to call the API from a browser.'),
  }),
);

const validEnv = {
  OTEL_SERVICE_NAME: 'switchboard-api',
  REDIS_URL: 'redis://redis:6379/0',
  DATABASE_URL: 'postgres://app:pw@db:5432/acme',
};

async function configError(promise: Promise<unknown>): Promise<ConfigError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cst-config-load-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('loadConfig', () => {
  it('parses, applies defaults, ignores unrelated variables and freezes the result', async () => {
    const config = await loadConfig(serviceSchema, {
      env: {
        ...validEnv,
        PORT: '8080',
        SHUTDOWN_GRACE: '10s',
        CORS_ORIGINS: 'https://a.example, https://b.example',
        HOME: '/root',
      },
    });
    expect(config).toEqual({
      LOG_LEVEL: 'info',
      OTEL_SERVICE_NAME: 'switchboard-api',
      SENTRY_ENVIRONMENT: 'development',
      REDIS_MODE: 'standalone',
      REDIS_URL: 'redis://redis:6379/0',
      DATABASE_URL: 'postgres://app:pw@db:5432/acme',
      PORT: 8080,
      SHUTDOWN_GRACE: 10_000,
      INBOX_ENABLED: true,
      CORS_ORIGINS: ['https://a.example', 'https://b.example'],
    });
    expect(Object.isFrozen(config)).toBe(true);
    // The composed schema keeps each field's parsed type.
    expectTypeOf(config.PORT).toEqualTypeOf<number>();
    expectTypeOf(config.REDIS_MODE).toEqualTypeOf<'standalone' | 'sentinel' | 'cluster'>();
    expectTypeOf(config.CORS_ORIGINS).toEqualTypeOf<string[]>();
    expectTypeOf(config.OTEL_EXPORTER_OTLP_ENDPOINT).toEqualTypeOf<string | undefined>();
    expectTypeOf(config.LOG_LEVEL).toEqualTypeOf<
      'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
    >();
  });

  it('treats an empty string as unset', async () => {
    const config = await loadConfig(serviceSchema, {
      env: { ...validEnv, OTEL_EXPORTER_OTLP_ENDPOINT: '', PORT: '' },
    });
    expect(config.OTEL_EXPORTER_OTLP_ENDPOINT).toBeUndefined();
    expect(config.PORT).toBe(3000);
  });

  it('lists every bad variable with its problem in one error', async () => {
    const error = await configError(
      loadConfig(serviceSchema, {
        env: {
          LOG_LEVEL: 'loud',
          REDIS_MODE: 'sentinel',
          REDIS_SENTINELS: 'sentinel-0:26379,sentinel-1',
          DATABASE_URL: 'mysql://db/app',
          PORT: '70000',
          SHUTDOWN_GRACE: 'soon',
          INBOX_ENABLED: 'yes',
          CORS_ORIGINS: 'https://ok.example,not-a-url',
          OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318',
        },
      }),
    );
    expect(error.problems).toEqual([
      { variable: 'LOG_LEVEL', problem: 'expected one of fatal, error, warn, info, debug, trace, silent' },
      {
        variable: 'OTEL_SERVICE_NAME',
        problem:
          'is required but not set (Service name on logs, metrics, traces and Sentry events, e.g. switchboard-api.)',
      },
      {
        variable: 'OTEL_EXPORTER_OTLP_ENDPOINT',
        problem: 'expected a URL starting with http:// or https://',
      },
      { variable: 'REDIS_SENTINELS', problem: 'item 2: expected host:port' },
      { variable: 'REDIS_SENTINEL_NAME', problem: 'is required when REDIS_MODE=sentinel' },
      { variable: 'DATABASE_URL', problem: 'expected a URL starting with postgres:// or postgresql://' },
      { variable: 'PORT', problem: 'expected a port number between 1 and 65535' },
      { variable: 'SHUTDOWN_GRACE', problem: expect.stringMatching(/^expected a duration/) },
      { variable: 'INBOX_ENABLED', problem: 'expected true, false, 1 or 0' },
      { variable: 'CORS_ORIGINS', problem: 'item 2: expected an absolute URL' },
    ]);
    expect(error.message.split('\n')[0]).toBe('Invalid configuration: 10 variables have problems');
    expect(error.message).toContain('  - PORT: expected a port number between 1 and 65535');
  });

  it('still reports cross-field problems when another field fails with an aborting zod issue', async () => {
    // z.stringbool() marks its failure as aborting, which makes zod skip object checks.
    const schema = defineConfig(
      redisConfigSchema,
      z.object({ STRICT: z.stringbool().optional().describe('A service-owned flag.') }),
    );
    const error = await configError(loadConfig(schema, { env: { REDIS_MODE: 'cluster', STRICT: 'maybe' } }));
    expect(error.problems.map((p) => p.variable)).toEqual(['REDIS_CLUSTER_NODES', 'STRICT']);
  });

  it('resolves secret references from env and files before validating', async () => {
    await writeFile(join(dir, 'db.json'), JSON.stringify({ url: 'postgres://app:from-file@db/acme' }));
    await writeFile(join(dir, 'redis-password'), 'r3dis-pass\n');
    const resolver = createSecretResolver({ env: { API_PORT_SECRET: '9090' }, fileBaseDir: dir });
    const config = await loadConfig(serviceSchema, {
      env: {
        ...validEnv,
        DATABASE_URL: 'secret://file/db.json#url',
        REDIS_PASSWORD: 'secret://file/redis-password',
        PORT: 'secret://env/API_PORT_SECRET',
      },
      resolver,
    });
    expect(config.DATABASE_URL).toBe('postgres://app:from-file@db/acme');
    expect(config.REDIS_PASSWORD).toBe('r3dis-pass');
    expect(config.PORT).toBe(9090);
  });

  it('reports unresolvable references by variable, with the other problems, and no values', async () => {
    await writeFile(join(dir, 'bad-db-url'), 'mysql://root:very-secret-pw@db/app');
    const resolver = createSecretResolver({ env: {}, fileBaseDir: dir });
    const error = await configError(
      loadConfig(serviceSchema, {
        env: {
          ...validEnv,
          REDIS_PASSWORD: 'secret://vault/kv/redis#password',
          DATABASE_URL: 'secret://file/bad-db-url',
          PORT: 'secret://env/NOT_SET',
          SENTRY_DSN: 'secret://env',
        },
        resolver,
      }),
    );
    expect(error.problems).toEqual([
      {
        variable: 'SENTRY_DSN',
        problem: expect.stringContaining(
          'could not resolve the secret reference: invalid secret reference "secret://env"',
        ),
      },
      {
        variable: 'REDIS_PASSWORD',
        problem: expect.stringMatching(/unknown secret provider "vault".*registered providers: env, file/),
      },
      {
        variable: 'DATABASE_URL',
        problem:
          'expected a URL starting with postgres:// or postgresql:// (value from secret://file/bad-db-url)',
      },
      {
        variable: 'PORT',
        problem:
          'could not resolve the secret reference: secret://env/NOT_SET: env variable "NOT_SET" is not set',
      },
    ]);
    expect(error.message).not.toContain('very-secret-pw');
  });

  it('reports a reference when no resolver is set up', async () => {
    const error = await configError(
      loadConfig(serviceSchema, {
        env: { ...validEnv, REDIS_PASSWORD: 'secret://env/REDIS_PASSWORD_VALUE' },
      }),
    );
    expect(error.problems).toEqual([
      {
        variable: 'REDIS_PASSWORD',
        problem: 'is a secret reference (secret://env/REDIS_PASSWORD_VALUE) but no secret resolver is set up',
      },
    ]);
  });

  it('scrubs secret values even from a custom check that quotes its input', async () => {
    const schema = defineConfig(
      z.object({
        API_TOKEN: secret()
          .superRefine((value, ctx) => {
            if (!value.startsWith('sb_'))
              ctx.addIssue({ code: 'custom', message: `token ${value} lacks the sb_ prefix` });
          })
          .describe('Token for the internal API.'),
      }),
    );
    const error = await configError(loadConfig(schema, { env: { API_TOKEN: 'tok-123456789' } }));
    expect(error.message).not.toContain('tok-123456789');
    expect(error.problems[0]?.problem).toBe('token [value hidden] lacks the sb_ prefix');
  });
});

describe('defineConfig', () => {
  it('lets later parts override earlier ones', async () => {
    const schema = defineConfig(
      telemetryConfigSchema,
      z.object({ OTEL_SERVICE_NAME: z.string().default('switchboard-worker').describe('Service name.') }),
    );
    const config = await loadConfig(schema, { env: {} });
    expect(config.OTEL_SERVICE_NAME).toBe('switchboard-worker');
  });

  it('refuses variables without a one-line description', () => {
    expect(() => defineConfig(z.object({ A: z.string(), B: port(), C: z.string().describe('ok') }))).toThrow(
      'configuration variables need a .describe() line: A, B',
    );
    expect(() => defineConfig(z.object({ A: z.string().describe('two\nlines') }))).toThrow(
      /must be one line: A/,
    );
  });
});

describe('loadConfigOrExit', () => {
  it('writes the message to stderr and exits with code 1', async () => {
    let written = '';
    const exited: number[] = [];
    await expect(
      loadConfigOrExit(
        serviceSchema,
        { env: {} },
        {
          stderr: { write: (text: string) => (written += text) },
          exit: (code: number): never => {
            exited.push(code);
            throw new Error('exited');
          },
        },
      ),
    ).rejects.toThrow('exited');
    expect(exited).toEqual([1]);
    expect(written).toContain('  - DATABASE_URL: is required but not set');
  });

  it('returns the config when it is valid', async () => {
    const config = await loadConfigOrExit(serviceSchema, { env: validEnv });
    expect(config.REDIS_URL).toBe('redis://redis:6379/0');
  });
});
