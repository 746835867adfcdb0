import { z } from 'zod';
import { type CelRule, withCelRules } from '../cel-rules.ts';

/**
 * WhatsAppTenant, switchboard.dev/v1alpha1: the zod schemas here are the only definition of
 * the API. The TypeScript types are inferred from them, and the CRD's OpenAPI schema is
 * generated from them (generate-crd.ts), descriptions, defaults and CEL rules included, so the
 * three cannot disagree. Descriptions are what `kubectl explain wat.spec...` shows.
 *
 * Bounds (maxLength, maxItems, maximum) are not decoration: the API server estimates the cost
 * of every CEL rule from them and rejects the CRD when a rule could run unbounded.
 */

/** API group of the Switchboard custom resources. */
export const GROUP = 'switchboard.dev';
/** The API version defined here. */
export const VERSION = 'v1alpha1';
/** `apiVersion` of a WhatsAppTenant. */
export const API_VERSION = `${GROUP}/${VERSION}`;
/** `kind` of a WhatsAppTenant. */
export const KIND = 'WhatsAppTenant';
/** Resource name (plural) in URLs and RBAC rules. */
export const PLURAL = 'whatsapptenants';
/** Singular resource name. */
export const SINGULAR = 'whatsapptenant';
/** `kubectl get wat`. */
export const SHORT_NAMES = ['wat'] as const;

// Patterns are RE2-compatible (the API server's engine); structural-schema.ts checks that.
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
const HTTP_URL = /^https?:\/\/[^\s]+$/;
// resource.Quantity's grammar, as Kubernetes' own OpenAPI schema states it.
const QUANTITY =
  /^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$/;
const IMAGE = /^[a-zA-Z0-9][a-zA-Z0-9._\-/:@]*$/;
// Condition fields, as metav1.Condition declares them.
const CONDITION_TYPE =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/;
const CONDITION_REASON = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;

// The same DNS-1123 subdomain pattern, as a CEL string literal.
const DNS1123_SUBDOMAIN_CEL = String.raw`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`;

/** Tenant names end up in child names (`<tenant>-sentinel-0`) that must stay DNS labels. */
export const MAX_TENANT_NAME_LENGTH = 40;
/** Declared sessions per tenant; more can be added in the inbox, where no CEL cost applies. */
export const MAX_DECLARED_SESSIONS = 200;

/** WhatsApp channels a session can use. */
export const CHANNELS = ['baileys', 'cloud-api'] as const;
/** Where the tenant's Redis comes from. */
export const REDIS_MODES = ['sentinel', 'external'] as const;
/** Where the tenant's database comes from. */
export const DATABASE_MODES = ['managed', 'external'] as const;
/** What happens to a managed database and Redis volumes when the tenant is deleted. */
export const DELETION_POLICIES = ['Retain', 'Delete'] as const;
/** Where fetched and uploaded media files are kept. */
export const MEDIA_STORAGES = ['none', 'volume', 's3'] as const;
/** Where a `volume` media store is mounted in the API and worker pods. */
export const MEDIA_MOUNT_PATH = '/var/lib/switchboard/media';
/** Where tenant-supplied secrets (session credentials) are resolved. */
export const SECRET_PROVIDERS = ['kubernetes', 'vault', 'aws'] as const;
/** `status.phase` values. */
export const PHASES = ['Pending', 'Provisioning', 'Ready', 'Degraded', 'Suspended'] as const;
/** Condition types the operator maintains on a tenant. */
export const CONDITION_TYPES = [
  'Ready',
  'Progressing',
  'Degraded',
  'DatabaseReady',
  'RedisReady',
  'MigrationsApplied',
  'SessionsHealthy',
] as const;

/** A Kubernetes quantity such as `500m`, `1Gi` or `2`; YAML numbers are accepted like kubectl does. */
function quantity(description: string) {
  return z
    .union([z.string().regex(QUANTITY).max(64), z.number().int().min(0)])
    .meta({ 'x-kubernetes-int-or-string': true, description });
}

function resourceList(description: string) {
  return z
    .strictObject({
      cpu: quantity('CPU, e.g. 250m or 1.').optional(),
      memory: quantity('Memory, e.g. 256Mi or 1Gi.').optional(),
      'ephemeral-storage': quantity('Node-local scratch space, e.g. 1Gi.').optional(),
    })
    .describe(description);
}

/** Resource requests and limits for one kind of pod. */
export const resourceRequirementsSchema = z
  .strictObject({
    requests: resourceList('Resources the scheduler reserves for each pod.').optional(),
    limits: resourceList('Most each pod may use; memory over the limit gets the pod killed.').optional(),
  })
  .describe(
    'Requests and limits for each pod. When set, replaces the operator defaults as a whole (a limit without a request makes the request equal the limit).',
  );

/** A key of a Secret in the tenant's namespace. */
export const secretKeySelectorSchema = z
  .strictObject({
    name: z
      .string()
      .min(1)
      .max(253)
      .regex(DNS1123_SUBDOMAIN)
      .describe("Name of the Secret, in the tenant's namespace."),
    key: z.string().min(1).max(253).regex(SECRET_KEY).describe('Key within the Secret.'),
  })
  .describe("A key of a Secret in the tenant's namespace.");

const sessionSchema = withCelRules(
  z
    .strictObject({
      name: z
        .string()
        .min(1)
        .max(63)
        .regex(DNS1123_LABEL)
        .describe(
          'Session name, unique in the tenant: lower-case letters, digits and dashes (a DNS-1123 label), e.g. support.',
        ),
      channel: z
        .enum(CHANNELS)
        .default('baileys')
        .describe(
          'How the number connects: baileys (WhatsApp Web protocol, paired by QR code in the inbox) or cloud-api (Meta WhatsApp Cloud API).',
        ),
      phoneNumberId: z
        .string()
        .regex(/^[0-9]{1,32}$/)
        .max(32)
        .optional()
        .describe('Meta phone number ID of a cloud-api session (digits, from WhatsApp Manager).'),
      secretRef: z
        .strictObject({
          name: z
            .string()
            .min(1)
            .max(253)
            .regex(DNS1123_SUBDOMAIN)
            .describe(
              'Secret name: a Kubernetes Secret in the namespace (provider kubernetes), or the entry under secrets.vault.path / secrets.aws.namePrefix.',
            ),
        })
        .optional()
        .describe(
          'Credentials of a cloud-api session in the tenant secret provider, with keys accessToken, appSecret and verifyToken.',
        ),
    })
    .describe('A WhatsApp number the tenant uses.'),
  [
    {
      rule: "self.channel != 'cloud-api' || has(self.phoneNumberId)",
      message: 'cloud-api sessions need phoneNumberId (the phone number ID from Meta WhatsApp Manager)',
      fieldPath: '.phoneNumberId',
      reason: 'FieldValueRequired',
    },
    {
      rule: "self.channel != 'cloud-api' || has(self.secretRef)",
      message: 'cloud-api sessions need secretRef: a secret with accessToken, appSecret and verifyToken',
      fieldPath: '.secretRef',
      reason: 'FieldValueRequired',
    },
    {
      rule: "self.channel == 'cloud-api' || (!has(self.phoneNumberId) && !has(self.secretRef))",
      message:
        'phoneNumberId and secretRef apply only to cloud-api sessions; baileys sessions are paired by QR code in the inbox',
      reason: 'FieldValueForbidden',
    },
  ],
);

const sessionsSchema = withCelRules(
  z
    .array(sessionSchema)
    .max(MAX_DECLARED_SESSIONS)
    .default([])
    .describe(
      'WhatsApp numbers declared for the tenant; more can be added in the inbox. Adding a baileys session restarts nothing; a cloud-api session with provider kubernetes mounts its Secret, which rolls the API and workers.',
    )
    // A list-map lets separate field managers (GitOps, kubectl) own separate sessions.
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] }),
  [
    {
      // O(n²), which the maxItems bound keeps within the API server's CEL cost budget.
      rule: 'self.all(s, self.exists_one(t, t.name == s.name))',
      message: 'session names must be unique within a tenant',
      reason: 'FieldValueDuplicate',
    },
  ],
);

const workersSchema = z
  .strictObject({
    replicas: z
      .int()
      .min(0)
      .max(200)
      .default(2)
      .describe(
        'Worker pods. Each holds a fair share of the sessions, at most maxSessionsPerWorker. `kubectl scale wat/<name>` sets this.',
      ),
    maxSessionsPerWorker: z
      .int()
      .min(1)
      .max(1000)
      .default(50)
      .describe(
        'Most sessions one worker holds; sessions beyond replicas × this wait unclaimed until workers are added.',
      ),
    resources: resourceRequirementsSchema.optional(),
  })
  .prefault({})
  .describe('Worker pods: they hold the WhatsApp connections and run the message pipelines.');

const ingressSchema = z
  .strictObject({
    host: withCelRules(
      z
        .string()
        .min(1)
        .max(253)
        .describe('Public host name of the inbox and API, e.g. acme.inbox.example.com.'),
      [
        {
          rule: `self.matches('${DNS1123_SUBDOMAIN_CEL}')`,
          message:
            'host must be a DNS name such as acme.inbox.example.com: lower-case letters, digits, dashes and dots',
        },
      ],
    ),
    className: z
      .string()
      .min(1)
      .max(253)
      .regex(DNS1123_SUBDOMAIN)
      .optional()
      .describe("IngressClass to use, e.g. nginx; the cluster's default class when unset."),
    tlsSecretName: z
      .string()
      .min(1)
      .max(253)
      .regex(DNS1123_SUBDOMAIN)
      .optional()
      .describe(
        'Secret with the TLS certificate for host (e.g. issued by cert-manager); plain HTTP when unset.',
      ),
    annotations: z
      .record(z.string().max(317), z.string().max(4096))
      .refine((annotations) => Object.keys(annotations).length <= 32, 'at most 32 annotations')
      .optional()
      .describe('Annotations for the Ingress, e.g. cert-manager.io/cluster-issuer.')
      .meta({ maxProperties: 32 }),
  })
  .describe('Exposes the inbox and the API on a host name through an Ingress.');

const autoscalingSchema = withCelRules(
  z
    .strictObject({
      enabled: z
        .boolean()
        .default(false)
        .describe('Scale API pods with a HorizontalPodAutoscaler on CPU; api.replicas is then ignored.'),
      minReplicas: z.int().min(1).max(100).default(2).describe('Fewest API pods the autoscaler keeps.'),
      maxReplicas: z.int().min(1).max(100).default(10).describe('Most API pods the autoscaler starts.'),
      targetCPUUtilizationPercentage: z
        .int()
        .min(1)
        .max(100)
        .default(70)
        .describe('Average CPU use, in percent of the request, the autoscaler aims for.'),
    })
    .prefault({})
    .describe('CPU-based autoscaling of the API pods.'),
  [
    {
      rule: 'self.minReplicas <= self.maxReplicas',
      message: 'autoscaling.minReplicas must not exceed autoscaling.maxReplicas',
      fieldPath: '.minReplicas',
    },
  ],
);

const apiSchema = z
  .strictObject({
    replicas: z
      .int()
      .min(0)
      .max(100)
      .default(2)
      .describe('API pods, while autoscaling is off. They serve the REST API, the inbox and webhooks.'),
    ingress: ingressSchema.optional(),
    autoscaling: autoscalingSchema,
    resources: resourceRequirementsSchema.optional(),
  })
  .prefault({})
  .describe('API pods: REST API, hosted inbox, realtime stream and webhook receivers.');

const redisSchema = withCelRules(
  z
    .strictObject({
      mode: z
        .enum(REDIS_MODES)
        .default('sentinel')
        .describe(
          'sentinel: the operator runs a Redis primary, replicas and Sentinels for the tenant. external: use the Redis in external.secretRef.',
        ),
      external: z
        .strictObject({
          secretRef: secretKeySelectorSchema.describe(
            'Secret key holding the Redis URL, e.g. rediss://:password@redis.example.com:6380/0.',
          ),
        })
        .optional()
        .describe('A Redis the tenant brings; only with mode external.'),
      sentinel: z
        .strictObject({
          replicas: z
            .int()
            .min(1)
            .max(7)
            .default(3)
            .describe(
              'Redis pods (one primary, the rest replicas) and as many Sentinels; 3 survives the loss of one node.',
            ),
          storage: z
            .strictObject({
              size: quantity('Volume size of each Redis pod, e.g. 1Gi.').default('1Gi'),
              storageClassName: z
                .string()
                .min(1)
                .max(253)
                .optional()
                .describe("StorageClass of the volumes; the cluster's default when unset."),
            })
            .prefault({})
            .describe(
              'Persistent volume of each Redis pod (session auth state lives here). Set at creation: StatefulSet volume templates cannot change.',
            ),
          resources: resourceRequirementsSchema.optional(),
        })
        .prefault({})
        .describe('The operator-run Redis Sentinel group; used with mode sentinel.'),
    })
    .prefault({})
    .describe('Redis: session leases, auth state, queues and realtime fan-out.'),
  [
    {
      rule: "self.mode != 'external' || has(self.external)",
      message: 'redis.mode external needs redis.external.secretRef: the Secret key holding the Redis URL',
      fieldPath: '.external',
      reason: 'FieldValueRequired',
    },
    {
      rule: "self.mode != 'sentinel' || !has(self.external)",
      message:
        'redis.external applies only with redis.mode external; sentinel mode runs Redis for the tenant',
      fieldPath: '.external',
      reason: 'FieldValueForbidden',
    },
  ],
);

const databaseSchema = withCelRules(
  z
    .strictObject({
      mode: withCelRules(
        z
          .enum(DATABASE_MODES)
          .default('managed')
          .describe(
            'managed: the operator creates a database and roles on the platform Postgres. external: use the database in external.secretRef. Cannot change after creation.',
          ),
        [
          {
            rule: 'self == oldSelf',
            message:
              'database.mode cannot change after creation: moving a tenant to another database is a migration, not an edit',
          },
        ],
      ),
      deletionPolicy: z
        .enum(DELETION_POLICIES)
        .default('Retain')
        .describe(
          'What deleting the tenant does to its data: Retain keeps the managed database and Redis volumes, Delete drops them. An external database is never touched.',
        ),
      external: z
        .strictObject({
          secretRef: z
            .strictObject({
              name: z
                .string()
                .min(1)
                .max(253)
                .regex(DNS1123_SUBDOMAIN)
                .describe("Name of the Secret, in the tenant's namespace."),
            })
            .describe(
              'Secret with keys ownerUrl (owner role, runs migrations), appUrl (application role, no BYPASSRLS) and appRole (its role name).',
            ),
        })
        .optional()
        .describe('A Postgres database the tenant brings; only with mode external.'),
    })
    .prefault({})
    .describe('Postgres: the tenant database, row-level security enforced.'),
  [
    {
      rule: "self.mode != 'external' || has(self.external)",
      message:
        'database.mode external needs database.external.secretRef: the Secret with the connection URLs',
      fieldPath: '.external',
      reason: 'FieldValueRequired',
    },
    {
      rule: "self.mode != 'managed' || !has(self.external)",
      message: 'database.external applies only with database.mode external',
      fieldPath: '.external',
      reason: 'FieldValueForbidden',
    },
  ],
);

const secretsSchema = withCelRules(
  z
    .strictObject({
      provider: z
        .enum(SECRET_PROVIDERS)
        .default('kubernetes')
        .describe(
          'Where tenant-supplied secrets (cloud-api session credentials) live: Kubernetes Secrets in the namespace, HashiCorp Vault, or AWS Secrets Manager. Secrets the operator generates are always Kubernetes Secrets.',
        ),
      vault: z
        .strictObject({
          address: z
            .string()
            .max(2048)
            .regex(HTTP_URL)
            .describe('Vault address, e.g. https://vault.example.com:8200.'),
          role: z
            .string()
            .min(1)
            .max(128)
            .describe('Role of the Kubernetes auth method the pods log in with.'),
          authMountPath: z
            .string()
            .min(1)
            .max(128)
            .default('kubernetes')
            .describe('Mount path of the Kubernetes auth method.'),
          audience: z
            .string()
            .min(1)
            .max(253)
            .optional()
            .describe("Audience of the pods' service account token, when the Vault role requires one."),
          path: z
            .string()
            .min(1)
            .max(512)
            .regex(/^[A-Za-z0-9._\-/]+$/)
            .describe('KV path under which session secrets are read, e.g. secret/data/switchboard/acme.'),
        })
        .optional()
        .describe('HashiCorp Vault settings; only with provider vault.'),
      aws: z
        .strictObject({
          region: z
            .string()
            .regex(/^[a-z]{2}(-[a-z]+)+-[0-9]+$/)
            .max(32)
            .describe('AWS region of the secrets, e.g. eu-west-1.'),
          roleArn: z
            .string()
            .max(2048)
            .regex(/^arn:aws[a-z-]*:iam::[0-9]{12}:role\/[A-Za-z0-9+=,.@_\-/]+$/)
            .optional()
            .describe(
              "IAM role for the tenant's service accounts (EKS IRSA annotation); the node's role when unset.",
            ),
          namePrefix: z
            .string()
            .max(256)
            .regex(/^[A-Za-z0-9/_+=.@-]*$/)
            .default('')
            .describe('Prefix of secret names in Secrets Manager, e.g. switchboard/acme/.'),
        })
        .optional()
        .describe('AWS Secrets Manager settings; only with provider aws.'),
    })
    .prefault({})
    .describe('Where the tenant secrets come from.'),
  [
    {
      rule: "self.provider != 'vault' || has(self.vault)",
      message: 'secrets.provider vault needs secrets.vault (address, role and path)',
      fieldPath: '.vault',
      reason: 'FieldValueRequired',
    },
    {
      rule: "self.provider == 'vault' || !has(self.vault)",
      message: 'secrets.vault applies only with secrets.provider vault',
      fieldPath: '.vault',
      reason: 'FieldValueForbidden',
    },
    {
      rule: "self.provider != 'aws' || has(self.aws)",
      message: 'secrets.provider aws needs secrets.aws (at least region)',
      fieldPath: '.aws',
      reason: 'FieldValueRequired',
    },
    {
      rule: "self.provider == 'aws' || !has(self.aws)",
      message: 'secrets.aws applies only with secrets.provider aws',
      fieldPath: '.aws',
      reason: 'FieldValueForbidden',
    },
  ],
);

const observabilitySchema = z
  .strictObject({
    serviceMonitor: z
      .boolean()
      .default(true)
      .describe(
        'Create a Prometheus Operator ServiceMonitor for the API and workers (only where the cluster has that CRD).',
      ),
    tracing: z
      .strictObject({
        endpoint: z
          .string()
          .max(2048)
          .regex(HTTP_URL)
          .describe('Base URL of an OTLP/HTTP collector, e.g. http://otel-collector.observability:4318.'),
      })
      .optional()
      .describe('OpenTelemetry tracing; off when unset.'),
  })
  .prefault({})
  .describe('Metrics and traces.');

const mediaSchema = withCelRules(
  z
    .strictObject({
      storage: z
        .enum(MEDIA_STORAGES)
        .default('none')
        .describe(
          'Where media files (inbound downloads, uploads to send) are kept: none (media messages are stored without their files), volume (an existing ReadWriteMany PersistentVolumeClaim mounted in the API and every worker), or s3 (any S3-compatible bucket).',
        ),
      volume: z
        .strictObject({
          claimName: z
            .string()
            .min(1)
            .max(253)
            .regex(DNS1123_SUBDOMAIN)
            .describe(
              "An existing PersistentVolumeClaim in the tenant's namespace; it must allow ReadWriteMany, since the API and all workers mount it.",
            ),
        })
        .optional()
        .describe('The volume store; only with storage volume.'),
      s3: z
        .strictObject({
          bucket: z
            .string()
            .min(3)
            .max(63)
            .regex(/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/)
            .describe('Bucket name, e.g. acme-switchboard-media.'),
          region: z
            .string()
            .min(1)
            .max(32)
            .regex(/^[a-z0-9-]+$/)
            .default('us-east-1')
            .describe('Region of the bucket.'),
          endpoint: z
            .string()
            .max(2048)
            .regex(HTTP_URL)
            .optional()
            .describe(
              "Endpoint of an S3-compatible service (MinIO, R2, Ceph), e.g. http://minio.storage:9000; AWS's own when unset.",
            ),
          forcePathStyle: z
            .boolean()
            .default(false)
            .describe(
              'Address the bucket in the path instead of the host name (most S3-compatible services need it).',
            ),
          secretRef: z
            .strictObject({
              name: z
                .string()
                .min(1)
                .max(253)
                .regex(DNS1123_SUBDOMAIN)
                .describe("A Secret in the tenant's namespace with keys accessKeyId and secretAccessKey."),
            })
            .optional()
            .describe(
              "The access key; without it the pods use the AWS default chain (EKS IRSA through secrets.aws.roleArn, or the node's role).",
            ),
        })
        .optional()
        .describe('The S3 store; only with storage s3.'),
    })
    .prefault({})
    .describe('Media storage of the tenant.'),
  [
    {
      rule: "self.storage != 'volume' || has(self.volume)",
      message: 'media.storage volume needs media.volume.claimName (an existing ReadWriteMany claim)',
      fieldPath: '.volume',
      reason: 'FieldValueRequired',
    },
    {
      rule: "self.storage == 'volume' || !has(self.volume)",
      message: 'media.volume applies only with media.storage volume',
      fieldPath: '.volume',
      reason: 'FieldValueForbidden',
    },
    {
      rule: "self.storage != 's3' || has(self.s3)",
      message: 'media.storage s3 needs media.s3 (at least bucket)',
      fieldPath: '.s3',
      reason: 'FieldValueRequired',
    },
    {
      rule: "self.storage == 's3' || !has(self.s3)",
      message: 'media.s3 applies only with media.storage s3',
      fieldPath: '.s3',
      reason: 'FieldValueForbidden',
    },
  ],
);

const outboundSchema = z
  .strictObject({
    perContactPerMinute: z
      .int()
      .min(1)
      .max(10_000)
      .default(10)
      .describe('Messages sent to one contact per minute; held across all workers and restarts.'),
    perSessionPerMinute: z
      .int()
      .min(1)
      .max(100_000)
      .default(60)
      .describe('Messages one number sends per minute; held across all workers and restarts.'),
    typingDelay: z
      .boolean()
      .default(true)
      .describe('Show typing and pause in proportion to the text before each send, as a person would.'),
  })
  .prefault({})
  .describe('How outbound messages are paced.');

const imagesSchema = z
  .strictObject({
    api: z
      .string()
      .max(512)
      .regex(IMAGE)
      .optional()
      .describe('API image; it also runs the database migrations.'),
    worker: z.string().max(512).regex(IMAGE).optional().describe('Worker image.'),
    redis: z
      .string()
      .max(512)
      .regex(IMAGE)
      .optional()
      .describe('Redis image (Redis 7 or later; also runs Sentinel).'),
  })
  .describe("Image overrides, e.g. to pin one tenant to a version; unset follows the operator's images.");

/** What a platform team asks for: `spec` of a WhatsAppTenant. */
export const whatsAppTenantSpecSchema = z
  .strictObject({
    displayName: z
      .string()
      .min(1)
      .max(100)
      .optional()
      .describe('Name shown in the inbox, e.g. Acme Inc; the object name when unset.'),
    sessions: sessionsSchema,
    workers: workersSchema,
    api: apiSchema,
    redis: redisSchema,
    database: databaseSchema,
    secrets: secretsSchema,
    media: mediaSchema,
    outbound: outboundSchema,
    observability: observabilitySchema,
    images: imagesSchema.optional(),
    suspend: z
      .boolean()
      .default(false)
      .describe(
        'Scale the API and workers to zero, keeping data (Redis, database). Sessions disconnect until resumed.',
      ),
  })
  .describe("The tenant's desired stack.");

const count = (description: string) => z.int().min(0).describe(description);

/** One entry of `status.conditions`, shaped like metav1.Condition. */
export const conditionSchema = z
  .strictObject({
    type: z
      .string()
      .max(316)
      .regex(CONDITION_TYPE)
      .describe(`Condition type: ${CONDITION_TYPES.join(', ')}.`),
    status: z.enum(['True', 'False', 'Unknown']).describe('True, False or Unknown.'),
    observedGeneration: z
      .int()
      .min(0)
      .optional()
      .describe('metadata.generation the condition was computed from.'),
    lastTransitionTime: z.iso.datetime().describe('When status last changed (not when it was last checked).'),
    reason: z
      .string()
      .min(1)
      .max(1024)
      .regex(CONDITION_REASON)
      .describe('CamelCase reason for the status, e.g. MigrationFailed.'),
    message: z.string().max(32768).describe('What a human should know, in a sentence.'),
  })
  .describe('An observation of one aspect of the tenant.');

/** What the operator observed: `status` of a WhatsAppTenant. */
export const whatsAppTenantStatusSchema = z
  .strictObject({
    phase: z
      .enum(PHASES)
      .optional()
      .describe(`Summary of the conditions: ${PHASES.join(', ')}.`),
    observedGeneration: z
      .int()
      .min(0)
      .optional()
      .describe(
        'metadata.generation the operator last acted on; older than generation means it is catching up.',
      ),
    conditions: z
      .array(conditionSchema)
      .max(32)
      .optional()
      .describe('Detailed state, one entry per type.')
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] }),
    workers: z
      .strictObject({
        desired: count('Worker pods asked for (0 while suspended).'),
        ready: count('Worker pods ready.'),
      })
      .optional()
      .describe('Worker pods; the scale subresource reads ready from here.'),
    workersSummary: z
      .string()
      .max(32)
      .optional()
      .describe('Ready/desired workers, e.g. 2/2: the Workers column of kubectl get.'),
    sessions: z
      .strictObject({
        total: count('Sessions known to the tenant.'),
        connected: count('Sessions with a live connection.'),
        pairing: count('Sessions waiting for a QR code or pairing code to be scanned.'),
        disconnected: count('Sessions neither connected nor pairing.'),
      })
      .optional()
      .describe('Session counts as the API reports them; absent until it has.'),
    sessionsSummary: z
      .string()
      .max(32)
      .optional()
      .describe('Connected/total sessions, e.g. 2/3, or unknown: the Sessions column of kubectl get.'),
    endpoints: z
      .strictObject({
        inbox: z.string().max(2048).optional().describe('URL of the hosted inbox.'),
        api: z.string().max(2048).optional().describe('Base URL of the REST API.'),
      })
      .optional()
      .describe('Where to reach the tenant.'),
    selector: z
      .string()
      .max(1024)
      .optional()
      .describe('Label selector of the worker pods, for the scale subresource (kubectl scale, autoscalers).'),
  })
  .describe("The tenant's observed state, written by the operator.");

/**
 * Rules on the whole object; CEL may read metadata.name there. No fieldPath: it must point into
 * the schema, and metadata is not described in a CRD.
 */
export const whatsAppTenantRootRules: readonly CelRule[] = [
  {
    rule: `self.metadata.name.size() <= ${MAX_TENANT_NAME_LENGTH}`,
    message: `metadata.name must be at most ${MAX_TENANT_NAME_LENGTH} characters: it prefixes the names of the tenant's objects and pods`,
  },
  {
    rule: "self.metadata.name.matches('^[a-z]')",
    message:
      "metadata.name must start with a letter: it prefixes the tenant's Service names (DNS-1035 labels)",
  },
];

const metadataSchema = z
  .looseObject({
    name: z.string().min(1).max(253),
    namespace: z.string().min(1).max(63).optional(),
    uid: z.string().optional(),
    generation: z.int().optional(),
    resourceVersion: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  })
  .describe('Standard object metadata.');

/** A whole WhatsAppTenant object, as applied by a user or read from the API server. */
export const whatsAppTenantSchema = withCelRules(
  z.strictObject({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal(KIND),
    metadata: metadataSchema,
    spec: whatsAppTenantSpecSchema,
    status: whatsAppTenantStatusSchema.optional(),
  }),
  whatsAppTenantRootRules,
);

/** `spec` with every default applied: what the operator works with. */
export type WhatsAppTenantSpec = z.output<typeof whatsAppTenantSpecSchema>;
/** `spec` as a user writes it: defaulted fields optional. */
export type WhatsAppTenantSpecInput = z.input<typeof whatsAppTenantSpecSchema>;
/** `status` as the operator writes it. */
export type WhatsAppTenantStatus = z.output<typeof whatsAppTenantStatusSchema>;
/** A WhatsAppTenant with defaults applied. */
export type WhatsAppTenant = z.output<typeof whatsAppTenantSchema>;
/** A WhatsAppTenant as a user writes it. */
export type WhatsAppTenantInput = z.input<typeof whatsAppTenantSchema>;
/** One declared session, defaults applied. */
export type Session = WhatsAppTenantSpec['sessions'][number];
/** Requests and limits as written in the spec. */
export type ResourceRequirements = z.output<typeof resourceRequirementsSchema>;
/** One status condition. */
export type Condition = z.output<typeof conditionSchema>;
/** One of `CONDITION_TYPES`. */
export type ConditionType = (typeof CONDITION_TYPES)[number];
/** One of `PHASES`. */
export type Phase = (typeof PHASES)[number];
