import { z } from 'zod';
import { withCelRules } from '../cel-rules.ts';
import {
  CHANNELS,
  DNS1123_LABEL,
  DNS1123_SUBDOMAIN,
  DNS1123_SUBDOMAIN_CEL,
  MAX_DECLARED_SESSIONS,
  resourceRequirementsSchema,
} from './common.ts';

/**
 * WhatsAppTenant, switchboard.dev/v1alpha1 (see whatsapp-tenant.ts): the spec sections of the pods the tenant runs: declared sessions, workers, the API
 * (ingress, autoscaling).
 */

export const sessionSchema = withCelRules(
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

export const sessionsSchema = withCelRules(
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

export const workersSchema = z
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

export const ingressSchema = z
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

export const autoscalingSchema = withCelRules(
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

export const apiSchema = z
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
