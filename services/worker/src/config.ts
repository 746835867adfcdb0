import { AuthStateSealer } from '@switchboard/channels';
import {
  boolean,
  type ConfigOf,
  databaseConfigSchema,
  databasePoolConfigSchema,
  databasePoolSettings,
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
import { mediaStorageSettingsSchema } from '@switchboard/messaging';
import { z } from 'zod';

/**
 * Every variable a worker reads, once, at start (server.ts). The operator sets them from the
 * tenant's ConfigMap and Secrets (operator/src/specs/service-env.ts, config-map.ts); `make demo`
 * sets them itself. A bad one stops the process with its name and what is wrong.
 */
export const workerConfigSchema = defineConfig(
  loggingConfigSchema,
  telemetryConfigSchema.extend({
    OTEL_SERVICE_NAME: z
      .string()
      .min(1)
      .default('switchboard-worker')
      .describe('Service name on logs, metrics and traces.'),
  }),
  databaseConfigSchema,
  // DATABASE_POOL_SIZE, DATABASE_POOL_TIMEOUT, DATABASE_STATEMENT_TIMEOUT: the API's names and
  // defaults (DATABASE_SEARCH_CONCURRENCY is read and checked too, but the worker runs no searches).
  databasePoolConfigSchema,
  redisConfigSchema,
  tenantConfigSchema,
  // MEDIA_STORAGE, MEDIA_DIR, S3_*: the same names the API reads, so both use one store.
  mediaStorageSettingsSchema,
  z.object({
    MEDIA_DOWNLOAD_MAX_BYTES: integer({ min: 1024, max: 2 * 1024 * 1024 * 1024 })
      .default(64 * 1024 * 1024)
      .describe('Largest inbound media file downloaded into storage, in bytes (larger ones fail for good).'),
    SWITCHBOARD_SESSIONS_FILE: z
      .string()
      .min(1)
      .optional()
      .describe('Path of the declared sessions (sessions.json from the tenant ConfigMap); none when unset.'),
    POD_NAME: z
      .string()
      .min(1)
      .default('worker-local')
      .describe("This worker's identity as a session lease holder, in logs and metrics (the pod name)."),
    MAX_SESSIONS_PER_WORKER: integer({ min: 1, max: 10_000 })
      .default(50)
      .describe('Most sessions one worker holds; the fair share is capped by it.'),
    SESSION_LEASE_TTL: duration()
      .default(15_000)
      .describe(
        "Session lease TTL: a crashed worker's sessions move after about this long (renewed every third).",
      ),
    METRICS_PORT: port().default(9464).describe('Port of /metrics, /livez and /readyz.'),
    METRICS_HOST: z.string().min(1).default('0.0.0.0').describe('Address /metrics and the probes bind to.'),
    WEBHOOK_ALLOWED_HOSTS: list(z.string().min(1))
      .default([])
      .describe(
        'Webhook receiver hosts (names or addresses, comma-separated) delivered to although they are or resolve to loopback/private/link-local addresses; the same list the API checks registrations against.',
      ),
    SEALING_KEYS: sealingKeys()
      .optional()
      .describe(
        'Keys sealing webhook secrets in the database: `<id>:<base64 of 32 bytes>` comma-separated, current first, previous ones still read (and re-sealed at start); give a secret:// reference. Unset: only secretRef subscriptions are delivered.',
      ),
    INTERNAL_TOKEN: secret()
      .optional()
      .describe(
        "The tenant's generated internal token; only opens webhook secrets sealed before SEALING_KEYS existed (re-sealed at start). Give a secret:// reference.",
      ),
    REDIS_REPLICA_WAIT: integer({ min: 0, max: 10 })
      .default(1)
      .describe(
        'With REDIS_MODE=sentinel: replicas that must acknowledge (WAIT) session claims, lease renewals and auth-state writes; 0 turns it off.',
      ),
    REDIS_REPLICA_WAIT_TIMEOUT: duration()
      .default(500)
      .describe(
        'How long a write waits for REDIS_REPLICA_WAIT replicas; past it a claim is abandoned, renewals do not extend deadlines, an auth-state write is logged.',
      ),
    AUTH_STATE_KEYS: secret(
      z.string().superRefine((value, ctx) => {
        try {
          AuthStateSealer.parse(value);
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: (error as Error).message });
        }
      }),
    )
      .optional()
      .describe(
        'Keys sealing the WhatsApp auth state in Redis: `<id>:<base64 of 32 bytes>` comma-separated, current first, previous ones still read; give a secret:// reference. Unset: stored as plaintext (a warning at start).',
      ),
    CLOUD_API_BASE_URL: url({ protocols: ['http', 'https'] })
      .default('https://graph.facebook.com')
      .describe("Meta's Graph API base URL (the Cloud API emulator's URL in the demo and tests)."),
    CLOUD_API_GRAPH_VERSION: z
      .string()
      .regex(/^v\d+\.\d+$/, 'expected a Graph API version such as v23.0')
      .default('v23.0')
      .describe('Graph API version of Cloud API requests.'),
    OUTBOUND_TYPING_DELAY: boolean()
      .default(true)
      .describe('Show typing and pause in proportion to the text before each send (off in tests).'),
    OUTBOUND_CONTACT_PER_MINUTE: integer({ min: 1, max: 10_000 })
      .default(10)
      .describe('Messages sent to one contact per minute, across all workers and restarts (state in Redis).'),
    OUTBOUND_SESSION_PER_MINUTE: integer({ min: 1, max: 100_000 })
      .default(60)
      .describe('Messages one session sends per minute, across all workers and restarts.'),
    ASSISTANT_ENABLED: boolean()
      .default(true)
      .describe(
        'The platform kill switch of the AI assistant (chart assistant.enabled and WhatsAppTenant spec.assistant.enabled): false stops every call.',
      ),
    ASSISTANT_ALLOWED_MODELS: list(z.string().min(1).max(200))
      .optional()
      .describe(
        'Models the tenant may ask (comma-separated, WhatsAppTenant spec.assistant.allowedModels); unset: any model.',
      ),
    WHATSAPP_WEB_SOCKET_URL: z
      .url({ protocol: /^wss?$/, error: 'expected a ws:// or wss:// URL' })
      .optional()
      .describe(
        "WhatsApp Web's WebSocket URL; Baileys' own default when unset (tests point it at loopback).",
      ),
  }),
);

/** The parsed worker configuration. */
export type WorkerConfig = ConfigOf<typeof workerConfigSchema>;

/** The worker's Postgres pool as createDb() takes it: its size and timeouts from the config. */
export function workerPoolSettings(config: WorkerConfig): {
  maxConnections: number;
  poolTimeoutMs: number;
  statementTimeoutMs: number;
} {
  const { maxConnections, poolTimeoutMs, statementTimeoutMs } = databasePoolSettings(config);
  return { maxConnections, poolTimeoutMs, statementTimeoutMs };
}
