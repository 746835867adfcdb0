import { SealingKeyring, type SecretProviderSettings, secretProviderEnvSchema } from '@switchboard/secrets';
import { z } from 'zod';
import { fieldRegistry, hostPortList, logLevel, secret, url } from './fields.ts';

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
