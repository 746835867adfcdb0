import { z } from 'zod';

/**
 * WhatsAppTenant, switchboard.dev/v1alpha1 (see whatsapp-tenant.ts): names of the API, the patterns and bounds the schemas share, and the building blocks
 * (quantities, resource requirements, Secret key references) used across the spec.
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
export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
export const HTTP_URL = /^https?:\/\/[^\s]+$/;
/** An IPv4 or IPv6 address range in CIDR notation (10.0.4.0/24, 2001:db8::/64). */
export const CIDR =
  /^([0-9]{1,3}(\.[0-9]{1,3}){3}\/([0-9]|[12][0-9]|3[0-2])|[0-9a-fA-F:]*:[0-9a-fA-F:.]*\/([0-9]|[1-9][0-9]|1[01][0-9]|12[0-8]))$/;

/** Where an external backend is, for the tenant's NetworkPolicies (egress to these ranges only). */
export function egressCidrsSchema(what: string) {
  return z
    .array(z.string().max(43).regex(CIDR, 'an address range in CIDR notation, e.g. 10.0.4.0/24'))
    .min(1)
    .max(16)
    .optional()
    .describe(
      `Address ranges (CIDR) where ${what} is: the tenant's pods may reach its port there and nowhere else. Unset: any address, since the address is in a Secret.`,
    );
}
// resource.Quantity's grammar, as Kubernetes' own OpenAPI schema states it.
export const QUANTITY =
  /^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$/;
export const IMAGE = /^[a-zA-Z0-9][a-zA-Z0-9._\-/:@]*$/;
// Condition fields, as metav1.Condition declares them.
export const CONDITION_TYPE =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/;
export const CONDITION_REASON = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;

// The same DNS-1123 subdomain pattern, as a CEL string literal.
export const DNS1123_SUBDOMAIN_CEL = String.raw`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`;

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
export function quantity(description: string) {
  return z
    .union([z.string().regex(QUANTITY).max(64), z.number().int().min(0)])
    .meta({ 'x-kubernetes-int-or-string': true, description });
}

export function resourceList(description: string) {
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
