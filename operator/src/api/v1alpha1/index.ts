// switchboard.dev/v1alpha1: the WhatsAppTenant schemas, types and CRD.

export {
  API_VERSION,
  CHANNELS,
  CONDITION_TYPES,
  DATABASE_MODES,
  DELETION_POLICIES,
  GROUP,
  KIND,
  MAX_DECLARED_SESSIONS,
  MAX_TENANT_NAME_LENGTH,
  MEDIA_MOUNT_PATH,
  MEDIA_STORAGES,
  PHASES,
  PLURAL,
  REDIS_MODES,
  resourceRequirementsSchema,
  SECRET_PROVIDERS,
  SHORT_NAMES,
  SINGULAR,
  secretKeySelectorSchema,
  VERSION,
} from './common.ts';
export {
  type CustomResourceDefinition,
  type PrinterColumn,
  printerColumns,
  whatsAppTenantCrd,
  whatsAppTenantOpenApiSchema,
} from './crd.ts';
export { EMAIL_SECRET_KEYS, SMTP_TLS_MODES } from './spec-features.ts';
export { SSO_PROVISION_ROLES, SSO_SECRET_KEYS } from './spec-sso.ts';
export {
  conditionSchema,
  whatsAppTenantStatusSchema,
} from './status.ts';
export {
  type Condition,
  type ConditionType,
  type Phase,
  type ResourceRequirements,
  type Session,
  type WhatsAppTenant,
  type WhatsAppTenantInput,
  type WhatsAppTenantSpec,
  type WhatsAppTenantSpecInput,
  type WhatsAppTenantStatus,
  whatsAppTenantRootRules,
  whatsAppTenantSchema,
  whatsAppTenantSpecSchema,
} from './whatsapp-tenant.ts';
