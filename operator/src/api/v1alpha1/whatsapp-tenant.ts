import { z } from 'zod';
import { type CelRule, withCelRules } from '../cel-rules.ts';
import {
  API_VERSION,
  type CONDITION_TYPES,
  KIND,
  MAX_TENANT_NAME_LENGTH,
  type PHASES,
  type resourceRequirementsSchema,
} from './common.ts';
import { assistantSchema } from './spec-assistant.ts';
import { databaseSchema, redisSchema, secretsSchema } from './spec-backends.ts';
import {
  cloudApiSchema,
  emailSchema,
  imagesSchema,
  mediaSchema,
  observabilitySchema,
  outboundSchema,
  ownerSchema,
} from './spec-features.ts';
import { ssoSchema } from './spec-sso.ts';
import { apiSchema, sessionsSchema, workersSchema } from './spec-workloads.ts';
import { type conditionSchema, whatsAppTenantStatusSchema } from './status.ts';

/**
 * WhatsAppTenant, switchboard.dev/v1alpha1: the zod schemas here and in the files
 * beside it (common.ts, spec-*.ts, status.ts) are the only definition of the API. The TypeScript types are inferred from them, and the CRD's OpenAPI schema is
 * generated from them (generate-crd.ts), descriptions, defaults and CEL rules included, so the
 * three cannot disagree. Descriptions are what `kubectl explain wat.spec...` shows.
 *
 * Bounds (maxLength, maxItems, maximum) are not decoration: the API server estimates the cost
 * of every CEL rule from them and rejects the CRD when a rule could run unbounded.
 */

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
    cloudApi: cloudApiSchema,
    observability: observabilitySchema,
    images: imagesSchema.optional(),
    owner: ownerSchema.optional(),
    email: emailSchema.optional(),
    sso: ssoSchema.optional(),
    assistant: assistantSchema.optional(),
    suspend: z
      .boolean()
      .default(false)
      .describe(
        'Scale the API and workers to zero, keeping data (Redis, database). Sessions disconnect until resumed.',
      ),
  })
  .describe("The tenant's desired stack.");

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
  {
    rule: '!has(self.spec.email) || has(self.spec.api.ingress)',
    message: "spec.email needs spec.api.ingress: the links in the mails point at the inbox's host",
  },
  {
    rule: '!has(self.spec.sso) || has(self.spec.api.ingress)',
    message: "spec.sso needs spec.api.ingress: the provider redirects back to the inbox's host",
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
