import { SealingKeyring, type SecretProviderSettings, secretProviderEnvSchema } from '@switchboard/secrets';
import { z } from 'zod';
import { duration, fieldRegistry, hostPortList, integer, logLevel, secret, url } from './fields.ts';

/**
 * Schema parts every service composes with `defineConfig`. Names follow the
 * conventions of the tools they configure (OTEL_*, SENTRY_*), so the operator and
 * anyone who knows those tools set them the usual way.
 */

/** LOG_LEVEL, read by the telemetry logger. */
export const loggingConfigSchema = z.object({
  LOG_LEVEL: logLevel()
    .default('info')
    .describe('Lowest level written to the log: fatal, error, warn, info, debug, trace or silent.'),
});

/** Parsed `loggingConfigSchema`. */
export type LoggingConfig = z.output<typeof loggingConfigSchema>;

/** OpenTelemetry and Sentry settings, read by `startTelemetry`. */
export const telemetryConfigSchema = z.object({
  OTEL_SERVICE_NAME: z
    .string()
    .min(1)
    .describe('Service name on logs, metrics, traces and Sentry events, e.g. switchboard-api.'),
  OTEL_EXPORTER_OTLP_ENDPOINT: url({ protocols: ['http', 'https'] })
    .optional()
    .describe(
      'Base URL of an OTLP/HTTP collector, e.g. http://otel-collector:4318; tracing is off when unset.',
    ),
  SENTRY_DSN: url({ protocols: ['http', 'https'] })
    .optional()
    .describe('Sentry DSN errors are reported to; error reporting is off when unset.'),
  SENTRY_ENVIRONMENT: z
    .string()
    .min(1)
    .default('development')
    .describe('Environment name on Sentry events, e.g. production or staging.'),
});

/** Parsed `telemetryConfigSchema`. */
export type TelemetryConfig = z.output<typeof telemetryConfigSchema>;

/** How a service reaches Redis. */
export const REDIS_MODES = ['standalone', 'sentinel', 'cluster'] as const;

/** One of `REDIS_MODES`. */
export type RedisMode = (typeof REDIS_MODES)[number];

const REQUIRED_BY_MODE: Record<RedisMode, readonly string[]> = {
  standalone: ['REDIS_URL'],
  sentinel: ['REDIS_SENTINELS', 'REDIS_SENTINEL_NAME'],
  cluster: ['REDIS_CLUSTER_NODES'],
};

/**
 * Redis connection settings for all three topologies; which variables are required
 * depends on REDIS_MODE. The check runs even when other variables are invalid (`when`)
 * so one start reports everything.
 */
export const redisConfigSchema = z
  .object({
    REDIS_MODE: z
      .enum(REDIS_MODES, { error: `expected one of ${REDIS_MODES.join(', ')}` })
      .default('standalone')
      .describe('Redis topology: standalone, sentinel (operator-run Sentinel group) or cluster.'),
    REDIS_URL: url({ protocols: ['redis', 'rediss'] })
      .optional()
      .describe('Redis URL, e.g. redis://redis:6379/0; required when REDIS_MODE=standalone.'),
    REDIS_SENTINELS: hostPortList()
      .optional()
      .describe(
        'Sentinel addresses, e.g. sentinel-0:26379,sentinel-1:26379; required when REDIS_MODE=sentinel.',
      ),
    REDIS_SENTINEL_NAME: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Name of the primary the Sentinels monitor, e.g. mymaster; required when REDIS_MODE=sentinel.',
      ),
    REDIS_USERNAME: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected an ACL user name: 1-64 of [A-Za-z0-9_-]')
      .optional()
      .describe(
        "Redis ACL user of this service on Redis and its Sentinels (the operator's: api or worker); unset: the default user.",
      ),
    REDIS_PASSWORD: secret()
      .optional()
      .describe('Password of REDIS_USERNAME on Redis and its Sentinels; give a secret:// reference.'),
    REDIS_CLUSTER_NODES: hostPortList()
      .optional()
      .describe('Cluster seed nodes, e.g. redis-0:6379,redis-1:6379; required when REDIS_MODE=cluster.'),
  })
  .superRefine(
    (config, ctx) => {
      const required = REQUIRED_BY_MODE[config.REDIS_MODE];
      // An invalid mode is already reported by the enum.
      if (required === undefined) return;
      for (const name of required) {
        if (config[name as keyof typeof config] === undefined) {
          ctx.addIssue({
            code: 'custom',
            path: [name],
            message: `is required when REDIS_MODE=${config.REDIS_MODE}`,
          });
        }
      }
    },
    { when: () => true },
  );

/** Parsed `redisConfigSchema`. */
export type RedisConfig = z.output<typeof redisConfigSchema>;

/** The tenant database. */
export const databaseConfigSchema = z.object({
  DATABASE_URL: secret(url({ protocols: ['postgres', 'postgresql'] })).describe(
    'Postgres connection URL including credentials; give a secret:// reference.',
  ),
});

/** Parsed `databaseConfigSchema`. */
export type DatabaseConfig = z.output<typeof databaseConfigSchema>;

// The durations' bounds, checked below: under 100 ms a busy moment fails requests that would
// have succeeded; over 10 minutes a request would long have been given up by its client.
const DURATION_BOUNDS = { min: 100, max: 600_000 };

/**
 * The database pool of a request-serving process (the API): its size, how long a request may
 * wait for a connection and run a statement, and how many of its connections searches may hold.
 * A slow statement is cancelled by Postgres at DATABASE_STATEMENT_TIMEOUT, a request that finds
 * the pool busy gives up at DATABASE_POOL_TIMEOUT, and at most DATABASE_SEARCH_CONCURRENCY
 * searches run at once, so the other routes always have connections left.
 */
export const databasePoolConfigSchema = z
  .object({
    DATABASE_POOL_SIZE: integer({ min: 2, max: 200 })
      .default(10)
      .describe('Connections of the process to Postgres (at least 2: searches never take them all).'),
    DATABASE_POOL_TIMEOUT: duration()
      .default(5_000)
      .describe(
        'Longest a request waits for a connection, free or newly opened (default 5s, 100ms to 10m); past it the API answers 503 database_busy with Retry-After.',
      ),
    DATABASE_STATEMENT_TIMEOUT: duration()
      .default(5_000)
      .describe(
        "Postgres' statement_timeout for every statement of the pool (default 5s, 100ms to 10m); a statement past it is cancelled and the API answers 503 database_busy (422 search_too_broad for a search too short for the index).",
      ),
    DATABASE_SEARCH_CONCURRENCY: integer({ min: 1, max: 199 })
      .optional()
      .describe(
        'Searches of the conversation list one process runs at once (default: half of DATABASE_POOL_SIZE); must be less than DATABASE_POOL_SIZE. A search waits DATABASE_POOL_TIMEOUT for its turn, then answers 503 database_busy.',
      ),
  })
  .superRefine(
    (config, ctx) => {
      for (const name of ['DATABASE_POOL_TIMEOUT', 'DATABASE_STATEMENT_TIMEOUT'] as const) {
        const value = config[name];
        if (typeof value === 'number' && (value < DURATION_BOUNDS.min || value > DURATION_BOUNDS.max))
          ctx.addIssue({ code: 'custom', path: [name], message: 'expected a duration from 100ms to 10m' });
      }
      const search = config.DATABASE_SEARCH_CONCURRENCY;
      const pool = config.DATABASE_POOL_SIZE;
      if (typeof search === 'number' && typeof pool === 'number' && search >= pool)
        ctx.addIssue({
          code: 'custom',
          path: ['DATABASE_SEARCH_CONCURRENCY'],
          message: `must be less than DATABASE_POOL_SIZE (${pool})`,
        });
    },
    { when: () => true },
  );

/** Parsed `databasePoolConfigSchema`. */
export type DatabasePoolConfig = z.output<typeof databasePoolConfigSchema>;

/** The database pool settings as createDb() takes them, and the search concurrency (default: half the pool). */
export function databasePoolSettings(config: DatabasePoolConfig): {
  maxConnections: number;
  poolTimeoutMs: number;
  statementTimeoutMs: number;
  searchConcurrency: number;
} {
  return {
    maxConnections: config.DATABASE_POOL_SIZE,
    poolTimeoutMs: config.DATABASE_POOL_TIMEOUT,
    statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT,
    searchConcurrency:
      config.DATABASE_SEARCH_CONCURRENCY ?? Math.max(1, Math.floor(config.DATABASE_POOL_SIZE / 2)),
  };
}

/** Which tenant a service belongs to: read by the API and the workers alike. */
export const tenantConfigSchema = z.object({
  SWITCHBOARD_TENANT: z
    .string({ error: 'is not set' })
    .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'expected the WhatsAppTenant name (a DNS-1123 label)')
    .describe("The tenant's slug (the WhatsAppTenant's name): its database row and Redis key prefix."),
  SWITCHBOARD_DISPLAY_NAME: z
    .string()
    .trim()
    .min(1)
    .optional()
    .describe("The tenant's display name; the slug when unset."),
});

/** Parsed `tenantConfigSchema`. */
export type TenantConfig = z.output<typeof tenantConfigSchema>;

/**
 * The secret providers' variables (SECRETS_PROVIDER, VAULT_*, AWS_*, SECRETS_CACHE_TTL,
 * SECRETS_MAX_STALE), as the operator writes them from the WhatsAppTenant's `spec.secrets`.
 * `loadConfigFromProcess` reads them for every service before anything else, and
 * `createSecretResolver` registers the Vault or AWS provider from them; a service may also
 * compose this part into its own schema to document them.
 */
export const secretsConfigSchema = secretProviderEnvSchema;

/** Parsed `secretsConfigSchema`. */
export type SecretsConfig = SecretProviderSettings;

// The docs' Format and Secret columns for the variables @switchboard/secrets defines.
for (const [name, info] of Object.entries({
  SECRETS_CACHE_TTL: { format: 'duration (ms, s, m, h, d)' },
  SECRETS_MAX_STALE: { format: 'duration (ms, s, m, h, d)' },
  VAULT_ADDR: { format: 'URL (http://, https://)' },
  AWS_ENDPOINT_URL_SECRETS_MANAGER: { format: 'URL (http://, https://)' },
  VAULT_TOKEN: { secret: true },
  AWS_SECRET_ACCESS_KEY: { secret: true },
  AWS_SESSION_TOKEN: { secret: true },
})) {
  const field = secretsConfigSchema.shape[name as keyof typeof secretsConfigSchema.shape];
  fieldRegistry.add(field, { ...fieldRegistry.get(field), ...info });
}

/**
 * SEALING_KEYS, the keyring sealing webhook secrets in the database (`<id>:<base64 of 32 bytes>`
 * comma-separated, the first seals): a secret, checked as `SealingKeyring.parse` reads it, so a bad
 * keyring stops the service at start with the keyring's own message. The API and the workers read
 * the same keyring; each describes what it does with it.
 */
export function sealingKeys() {
  return secret(
    z.string().superRefine((value, ctx) => {
      try {
        SealingKeyring.parse(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
      }
    }),
  );
}
