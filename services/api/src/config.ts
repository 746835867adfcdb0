import {
  type ConfigOf,
  databaseConfigSchema,
  defineConfig,
  duration,
  integer,
  list,
  loggingConfigSchema,
  port,
  redisConfigSchema,
  secret,
  telemetryConfigSchema,
  tenantConfigSchema,
} from '@switchboard/config';
import { z } from 'zod';

/**
 * Every variable the API reads, once, at start (server.ts). The operator sets them from the
 * tenant's ConfigMap and Secrets. A bad one stops the process with its name and what is wrong.
 */
export const apiConfigSchema = defineConfig(
  loggingConfigSchema,
  telemetryConfigSchema.extend({
    OTEL_SERVICE_NAME: z
      .string()
      .min(1)
      .default('switchboard-api')
      .describe('Service name on logs, metrics and traces.'),
  }),
  databaseConfigSchema,
  redisConfigSchema,
  tenantConfigSchema,
  z.object({
    PORT: port().default(8080).describe('Port the API listens on.'),
    HOST: z.string().min(1).default('0.0.0.0').describe('Address the API binds to.'),
    JWT_SIGNING_KEY: secret(z.string().min(32, 'must be at least 32 characters')).describe(
      'HS256 key signing access tokens (at least 32 characters).',
    ),
    ACCESS_TOKEN_TTL: duration().default(900_000).describe('Lifetime of an access token (default 15m).'),
    REFRESH_TOKEN_TTL: duration()
      .default(30 * 86_400_000)
      .describe('Lifetime of a refresh token (default 30d).'),
    CORS_ORIGINS: list(z.string().min(1))
      .default([])
      .describe('Origins allowed to call the API from a browser (comma-separated); none when empty.'),
    RATE_LIMIT_PER_MINUTE: integer({ min: 1, max: 1_000_000 })
      .default(600)
      .describe('Requests per minute allowed per credential (or per IP when unauthenticated).'),
    LOGIN_MAX_FAILURES: integer({ min: 1, max: 1000 })
      .default(5)
      .describe('Failed logins per account (and 4x that per IP) before a lockout.'),
    LOGIN_LOCKOUT: duration().default(900_000).describe('How long a lockout lasts (default 15m).'),
    CLOUD_API_APP_SECRET: secret(z.string().min(1))
      .optional()
      .describe(
        "The Meta app's secret (verifies X-Hub-Signature-256); the Cloud API webhook is off when unset.",
      ),
    CLOUD_API_VERIFY_TOKEN: secret(z.string().min(1))
      .optional()
      .describe("The token Meta's webhook handshake must present (hub.verify_token)."),
    INTERNAL_TOKEN: secret(z.string().min(16))
      .optional()
      .describe('Bearer token of /internal/status; the route is off when unset.'),
  }),
);

/** The parsed API configuration. */
export type ApiConfig = ConfigOf<typeof apiConfigSchema>;
