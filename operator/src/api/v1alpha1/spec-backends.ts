import { z } from 'zod';
import { withCelRules } from '../cel-rules.ts';
import {
  DATABASE_MODES,
  DELETION_POLICIES,
  DNS1123_SUBDOMAIN,
  egressCidrsSchema,
  HTTP_URL,
  quantity,
  REDIS_MODES,
  resourceRequirementsSchema,
  SECRET_PROVIDERS,
  secretKeySelectorSchema,
} from './common.ts';

/**
 * WhatsAppTenant, switchboard.dev/v1alpha1 (see whatsapp-tenant.ts): the spec sections of what the tenant stores data in and reads secrets from: Redis,
 * the database, the secret provider.
 */

export const redisSchema = withCelRules(
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
          port: z
            .int()
            .min(1)
            .max(65535)
            .optional()
            .describe("The Redis port the tenant's pods may reach; 6379 and 6380 (TLS) when unset."),
          cidrs: egressCidrsSchema('the Redis'),
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
          maxmemory: quantity(
            "Memory Redis may use for data (maxmemory), e.g. 384Mi; past it writes fail (policy noeviction) instead of keys being evicted. Default: 75% of the Redis container's memory limit.",
          ).optional(),
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

export const databaseSchema = withCelRules(
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
          port: z
            .int()
            .min(1)
            .max(65535)
            .default(5432)
            .describe("The Postgres port the tenant's pods may reach."),
          cidrs: egressCidrsSchema('the Postgres server'),
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

export const secretsSchema = withCelRules(
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
