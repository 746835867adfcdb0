import {
  boolean,
  type ConfigOf,
  defineConfig,
  integer,
  list,
  loggingConfigSchema,
  logLevel,
  port,
  telemetryConfigSchema,
} from '@switchboard/config';
import { z } from 'zod';
import type { NetworkConfig, OperatorConfig } from './specs/operator-config.ts';

/**
 * The operator's environment, read once at start (server.ts). The chart sets every variable
 * (charts/switchboard/templates/deployment.yaml); a bad one stops the process with its name.
 */

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const IMAGE = /^[A-Za-z0-9][A-Za-z0-9._\-/:@]*$/;

const networkPeerSchema = z.union([
  z.strictObject({
    namespace: z.string().regex(DNS_LABEL, 'a namespace name'),
    podLabels: z.record(z.string(), z.string()).optional(),
  }),
  z.strictObject({
    cidr: z.string().min(1),
    except: z.array(z.string().min(1)).optional(),
  }),
]);

/** OPERATOR_NETWORK's JSON: the NetworkPolicy peers of the tenant stacks. */
export const networkConfigSchema = z.strictObject({
  ingressController: z.array(networkPeerSchema),
  prometheus: z.array(networkPeerSchema),
  dns: z.array(networkPeerSchema),
  dnsPorts: z.array(z.int().min(1).max(65535)).min(1).optional(),
  postgres: z.strictObject({ peers: z.array(networkPeerSchema), port: z.int().min(1).max(65535) }),
  otelCollector: z.array(networkPeerSchema).optional(),
  operator: z.array(networkPeerSchema).optional(),
  workerInternetPorts: z.array(z.int().min(1).max(65535)),
}) satisfies z.ZodType<NetworkConfig>;

const jsonNetwork = z.string().transform((text, ctx) => {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be JSON' });
    return z.NEVER;
  }
  const parsed = networkConfigSchema.safeParse(value);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      ctx.addIssue({ code: 'custom', message: `${issue.path.join('.') || '(root)'}: ${issue.message}` });
    }
    return z.NEVER;
  }
  return parsed.data;
});

/** Every variable the operator reads. */
export const operatorConfigSchema = defineConfig(
  loggingConfigSchema,
  telemetryConfigSchema.extend({
    OTEL_SERVICE_NAME: z
      .string()
      .min(1)
      .default('switchboard-operator')
      .describe('Service name on logs, metrics and traces.'),
  }),
  z.object({
    WATCH_NAMESPACES: list(z.string().regex(DNS_LABEL, 'a namespace name'))
      .default([])
      .describe('Namespaces whose WhatsAppTenants the operator manages, comma-separated; all when empty.'),
    POD_NAME: z
      .string()
      .min(1)
      .describe("This replica's pod name: its leader-election identity and Event reporter."),
    POD_NAMESPACE: z.string().regex(DNS_LABEL).describe('Namespace the operator runs in.'),
    LEADER_ELECTION_NAMESPACE: z
      .string()
      .regex(DNS_LABEL)
      .optional()
      .describe('Namespace of the leader-election Lease; POD_NAMESPACE when unset.'),
    LEADER_ELECTION_LEASE_NAME: z
      .string()
      .regex(DNS_LABEL)
      .default('switchboard-operator')
      .describe('Name of the leader-election Lease.'),
    OPERATOR_API_IMAGE: z
      .string()
      .regex(IMAGE, 'an image reference')
      .describe('Default API image of the tenant stacks.'),
    OPERATOR_WORKER_IMAGE: z
      .string()
      .regex(IMAGE, 'an image reference')
      .describe('Default worker image of the tenant stacks.'),
    OPERATOR_REDIS_IMAGE: z
      .string()
      .regex(IMAGE, 'an image reference')
      .describe('Redis image of the tenant stacks (Redis 7+, with redis-sentinel).'),
    OPERATOR_IMAGE_PULL_POLICY: z
      .enum(['Always', 'IfNotPresent', 'Never'])
      .optional()
      .describe("imagePullPolicy of the tenant pods; Kubernetes' default when unset."),
    OPERATOR_IMAGE_PULL_SECRETS: list(z.string().regex(DNS_LABEL))
      .default([])
      .describe(
        'Image pull Secrets of the tenant pods, comma-separated; each must exist in the tenant namespace.',
      ),
    OPERATOR_CLUSTER_DOMAIN: z.string().min(1).default('cluster.local').describe('Cluster DNS domain.'),
    OPERATOR_TENANT_LOG_LEVEL: logLevel().default('info').describe('LOG_LEVEL given to the tenant services.'),
    OPERATOR_TENANT_ASSISTANT_ENABLED: boolean()
      .default(true)
      .describe(
        "The platform kill switch of every tenant's AI assistant: false refuses every provider call.",
      ),
    OPERATOR_NETWORK: jsonNetwork.describe(
      'NetworkPolicy peers of the tenant stacks, as JSON (see the chart values tenantStack.network).',
    ),
    PLATFORM_POSTGRES_SECRET: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/)
      .optional()
      .describe(
        'Secret in POD_NAMESPACE whose key url is the platform Postgres admin URL, for managed databases.',
      ),
    METRICS_PORT: port().default(8080).describe('Port of /metrics.'),
    HEALTH_PORT: port().default(8081).describe('Port of /healthz and /readyz.'),
    RECONCILE_WORKERS: integer({ min: 1, max: 64 }).default(8).describe('Tenants reconciled at once.'),
    RESYNC_PERIOD_SECONDS: integer({ min: 30 })
      .default(600)
      .describe('Every tenant is reconciled at least this often, even without a change.'),
    KUBE_API_QPS: integer({ min: 0, max: 100_000 })
      .default(400)
      .describe("Client-side rate limit: the operator's sustained API requests per second; 0 turns it off."),
    KUBE_API_BURST: integer({ min: 1, max: 100_000 })
      .default(800)
      .describe('Client-side rate limit: API requests allowed at once before KUBE_API_QPS applies.'),
  }),
);

/** The parsed environment. */
export type OperatorEnv = ConfigOf<typeof operatorConfigSchema>;

/** The builders' settings from the environment. */
export function operatorConfigFromEnv(env: OperatorEnv): OperatorConfig {
  return {
    images: {
      api: env.OPERATOR_API_IMAGE,
      worker: env.OPERATOR_WORKER_IMAGE,
      redis: env.OPERATOR_REDIS_IMAGE,
    },
    ...(env.OPERATOR_IMAGE_PULL_POLICY ? { imagePullPolicy: env.OPERATOR_IMAGE_PULL_POLICY } : {}),
    ...(env.OPERATOR_IMAGE_PULL_SECRETS.length > 0
      ? { imagePullSecrets: env.OPERATOR_IMAGE_PULL_SECRETS }
      : {}),
    clusterDomain: env.OPERATOR_CLUSTER_DOMAIN,
    logLevel: env.OPERATOR_TENANT_LOG_LEVEL,
    ...(env.OPERATOR_TENANT_ASSISTANT_ENABLED ? {} : { assistantEnabled: false }),
    // The operator reads every tenant API's /internal/status: its own namespace unless the
    // chart names its pods more narrowly.
    network: {
      ...env.OPERATOR_NETWORK,
      operator: env.OPERATOR_NETWORK.operator ?? [{ namespace: env.POD_NAMESPACE }],
    },
  };
}
