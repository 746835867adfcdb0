import {
  type ConfigOf,
  databaseConfigSchema,
  databasePoolConfigSchema,
  defineConfig,
  duration,
  integer,
  list,
  loggingConfigSchema,
  port,
  redisConfigSchema,
  sealingKeys,
  secret,
  telemetryConfigSchema,
  tenantConfigSchema,
  url,
} from '@switchboard/config';
import { mediaStorageSettingsSchema } from '@switchboard/messaging/producer';
import { z } from 'zod';
import { MAIL_LOCALES, SMTP_TLS_MODES } from './mail/index.ts';
import { ssoConfigSchema } from './sso/config.ts';

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
  databasePoolConfigSchema,
  redisConfigSchema,
  tenantConfigSchema,
  // MEDIA_STORAGE, MEDIA_DIR, S3_*: the same names the workers read, so both use one store.
  mediaStorageSettingsSchema,
  z.object({
    TRUST_PROXY_HOPS: integer({ min: 0, max: 10 })
      .default(1)
      .describe(
        'Proxies in front of the API whose X-Forwarded-For is believed (1: the ingress). The client IP for per-IP limits is taken that many hops from the end, so a client cannot choose its own.',
      ),
    PORT: port().default(8080).describe('Port the API listens on.'),
    HOST: z.string().min(1).default('0.0.0.0').describe('Address the API binds to.'),
    METRICS_PORT: port()
      .default(9464)
      .describe(
        'Port of /metrics (and /livez, /readyz again), apart from the public port the Ingress routes to.',
      ),
    METRICS_HOST: z.string().min(1).default('0.0.0.0').describe('Address the metrics port binds to.'),
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
        "The Meta app's secret (verifies X-Hub-Signature-256) for numbers not declared with their own in the sessions file.",
      ),
    CLOUD_API_VERIFY_TOKEN: secret(z.string().min(1))
      .optional()
      .describe("The token Meta's webhook handshake must present (hub.verify_token)."),
    SWITCHBOARD_SESSIONS_FILE: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Path of the declared sessions (sessions.json from the tenant ConfigMap): each Cloud API number's app secret and verify token.",
      ),
    MEDIA_MAX_BYTES: integer({ min: 1024, max: 100 * 1024 * 1024 })
      .default(16 * 1024 * 1024)
      .describe("Largest media upload in bytes (default 16 MiB, WhatsApp's limit for video and audio)."),
    INBOX_DIR: z
      .string()
      .min(1)
      .optional()
      .describe('Directory of the built inbox served at / (default: services/inbox/dist when it exists).'),
    WEBHOOK_ALLOWED_HOSTS: list(z.string().min(1))
      .default([])
      .describe(
        'Webhook receiver hosts (names or addresses, comma-separated) this tenant may register although they are or resolve to loopback/private/link-local addresses; every other receiver must resolve to public addresses only.',
      ),
    REALTIME_MAX_STREAMS_PER_PRINCIPAL: integer({ min: 1, max: 10_000 })
      .default(16)
      .describe(
        'Realtime (SSE) streams one member or API key may have open on one API process; one more answers 429 realtime_stream_limit.',
      ),
    REALTIME_RECHECK_INTERVAL: duration()
      .default(30_000)
      .describe(
        "How often the credential behind every open realtime stream is re-checked (default 30s); a removed member's or revoked key's stream ends then at the latest.",
      ),
    REALTIME_MAX_BUFFERED_BYTES: integer({ min: 1024, max: 64 * 1024 * 1024 })
      .default(256 * 1024)
      .describe(
        'Bytes a realtime stream may have waiting in the API process for a client that does not read before it is dropped (the client resumes with Last-Event-ID); default 256 KiB.',
      ),
    INTERNAL_TOKEN: secret(z.string().min(16))
      .optional()
      .describe('Bearer token of /internal/status; the route is off when unset. Seals nothing.'),
    SMTP_HOST: z
      .string()
      .min(1)
      .optional()
      .describe(
        'SMTP relay that delivers password reset and invite mails; unset: no mail is sent (a reset request is only logged, without its token).',
      ),
    SMTP_PORT: port()
      .optional()
      .describe('Port of SMTP_HOST (default by SMTP_TLS: 25 none, 587 starttls, 465 tls).'),
    SMTP_TLS: z
      .enum(SMTP_TLS_MODES)
      .default('starttls')
      .describe(
        'none (plain text), starttls (upgrade required; a relay without STARTTLS fails the send) or tls (TLS from the first byte). The certificate is always verified.',
      ),
    SMTP_FROM: z
      .string()
      .min(3)
      .max(320)
      .optional()
      .describe('From header of the mails (`Name <address>` or an address); required with SMTP_HOST.'),
    SMTP_USERNAME: z.string().min(1).optional().describe('SMTP AUTH user; with SMTP_PASSWORD.'),
    SMTP_PASSWORD: secret(z.string().min(1))
      .optional()
      .describe('SMTP AUTH password; give a secret:// reference. Never logged.'),
    SMTP_CA_FILE: z
      .string()
      .min(1)
      .optional()
      .describe(
        "PEM file of the certificates to trust for the relay's (a private CA); default: the system's roots.",
      ),
    PUBLIC_URL: url({ protocols: ['https', 'http'] })
      .optional()
      .describe('URL the inbox is reached at; links in mails point under it. Required with SMTP_HOST.'),
    MAIL_LOCALE: z
      .enum(MAIL_LOCALES)
      .default('en')
      .describe(`Language of the mails (${MAIL_LOCALES.join(', ')}).`),
    SEALING_KEYS: sealingKeys()
      .optional()
      .describe(
        'Keys sealing webhook and two-factor secrets in the database: `<id>:<base64 of 32 bytes>` comma-separated, the first seals; give a secret:// reference. Unset: creating webhook subscriptions and enrolling in two-factor sign-in are refused.',
      ),
  }),
  // SSO_*: single sign-on with the tenant's OpenID Connect provider (sso/README.md).
  ssoConfigSchema,
);

/** The parsed API configuration. */
export type ApiConfig = ConfigOf<typeof apiConfigSchema>;
