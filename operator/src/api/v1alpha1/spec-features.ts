import { z } from 'zod';
import { withCelRules } from '../cel-rules.ts';
import { DNS1123_SUBDOMAIN, HTTP_URL, IMAGE, MEDIA_STORAGES, secretKeySelectorSchema } from './common.ts';

/**
 * WhatsAppTenant, switchboard.dev/v1alpha1 (see whatsapp-tenant.ts): the spec sections of optional features: observability, media storage, outbound
 * pacing, image overrides.
 */

export const observabilitySchema = z
  .strictObject({
    serviceMonitor: z
      .boolean()
      .default(true)
      .describe(
        'Create a Prometheus Operator ServiceMonitor for the API and workers (only where the cluster has that CRD).',
      ),
    prometheusRule: z
      .boolean()
      .default(true)
      .describe(
        "Create a Prometheus Operator PrometheusRule with the tenant's own alerts, each linking its runbook (only where the cluster has that CRD).",
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
    sentry: z
      .strictObject({
        dsnSecretRef: secretKeySelectorSchema.describe(
          "The Secret key (in the tenant's namespace) holding the Sentry DSN the API and workers report errors to.",
        ),
      })
      .optional()
      .describe('Sentry error reporting (API 5xx, failed jobs, unhandled rejections); off when unset.'),
  })
  .prefault({})
  .describe('Metrics, traces and error reporting.');

export const mediaSchema = withCelRules(
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

export const outboundSchema = z
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

export const cloudApiSchema = z
  .strictObject({
    baseUrl: z
      .string()
      .max(512)
      .regex(HTTP_URL)
      .optional()
      .describe(
        "Meta's Graph API base URL the workers call for cloud-api sessions (CLOUD_API_BASE_URL); https://graph.facebook.com when unset. Set it to the Cloud API emulator's URL in tests.",
      ),
  })
  .prefault({})
  .describe("How the workers reach Meta's WhatsApp Cloud API.");

export const imagesSchema = z
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

/** An email address as RE2 (the API server's regex engine) and ECMAScript both read it. */
export const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

/** How the API's connection to the SMTP relay is protected (the API's SMTP_TLS). */
export const SMTP_TLS_MODES = ['none', 'starttls', 'tls'] as const;

/** Keys of the Secret `email.secretRef` names. */
export const EMAIL_SECRET_KEYS = { username: 'username', password: 'password' } as const;

export const emailSchema = z
  .strictObject({
    host: z
      .string()
      .min(1)
      .max(253)
      .regex(/^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$|^[0-9A-Fa-f:]+$/)
      .describe('Host name or address of the SMTP relay, e.g. smtp.example.com.'),
    port: z
      .int()
      .min(1)
      .max(65535)
      .optional()
      .describe('Port of the relay; by tls when unset: 25 (none), 587 (starttls), 465 (tls).'),
    tls: z
      .enum(SMTP_TLS_MODES)
      .default('starttls')
      .describe(
        "none (plain text), starttls (the upgrade is required: a relay without STARTTLS gets no mail) or tls (TLS from the first byte). The relay's certificate is always verified.",
      ),
    from: z
      .string()
      .min(3)
      .max(320)
      .regex(/^[^\r\n]+$/, 'must be one line')
      .describe('From header of the mails, e.g. "Acme Inbox <no-reply@acme.example>".'),
    secretRef: z
      .strictObject({
        name: z
          .string()
          .min(1)
          .max(253)
          .regex(DNS1123_SUBDOMAIN)
          .describe("A Secret in the tenant's namespace with keys username and password."),
      })
      .optional()
      .describe('SMTP AUTH credentials; the API sends without authenticating when unset.'),
  })
  .describe(
    'Email delivery of password reset links and team invites through an SMTP relay; no mail is sent when unset. Needs api.ingress: the links point at its host.',
  );

export const ownerSchema = z
  .strictObject({
    email: z
      .string()
      .max(320)
      .regex(EMAIL, 'must be an email address')
      .describe(
        "The first owner's email address. While no owner has set a password, the operator keeps a single-use invite link for it in the Secret status.ownerInvite.secretName (renewed when it expires); once the owner has signed up nothing more is made.",
      ),
  })
  .describe("The tenant's first owner, who signs in to the inbox and invites the team.");
