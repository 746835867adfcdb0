/** createDb() makes the Prisma client, withTenant() scopes work to one tenant (tenantQuery() one raw statement), verifyRuntimeRole() refuses a role that escapes RLS. */
export {
  type CreateDbOptions,
  createDb,
  type Db,
  type TenantTx,
  tenantQuery,
  tenantStatement,
  verifyRuntimeRole,
  type WithTenantOptions,
  withTenant,
} from './client.ts';
/** Thrown for a malformed argument (e.g. a tenant id that is not a uuid); carries code, status and the argument's name. */
/** The database could not serve in time (statement timeout, pool acquire timeout, expired transaction): 503 with Retry-After. */
export { DbBusyError, type DbBusyReason, DbInputError, dbBusyErrorOf } from './errors.ts';
/** Row types of every table, as Prisma returns them. */
export type {
  ApiKey,
  AuditLogEntry,
  Contact,
  ContactIdentity,
  Conversation,
  IdempotencyKey,
  Membership,
  Message,
  MessageStatusEvent,
  MessageTemplate,
  PasswordResetToken,
  QuickReply,
  RefreshToken,
  ScheduledMessage,
  Session,
  Tenant,
  User,
  WebhookDelivery,
  WebhookSubscription,
  WhatsappGroup,
} from './generated/prisma/client.ts';
/** Prisma's namespace: input types, TransactionIsolationLevel, and error classes such as PrismaClientKnownRequestError. */
export { Prisma } from './generated/prisma/client.ts';
/** The database's enum types, each a const object and a union type of its values. */
export {
  AuditActorType,
  ContactIdentityKind,
  ConversationStatus,
  MembershipRole,
  MessageDirection,
  MessageStatus,
  MessageType,
  ScheduledMessageStatus,
  SessionChannel,
  SessionState,
  WebhookDeliveryStatus,
} from './generated/prisma/enums.ts';
/** migrate() applies or rolls back the SQL migrations in migrationsDir as the database owner. */
export { type MigrateOptions, migrate, migrationsDir } from './migrate.ts';
/** Creating and dropping a tenant's database and its owner and application roles on a shared Postgres. */
export {
  type DropTenantDatabaseOptions,
  dropTenantDatabase,
  type ProvisionTenantDatabaseOptions,
  provisionTenantDatabase,
  type TenantDatabaseUrls,
} from './provision.ts';
/** One tenant-bound statement (or a transaction of a few) in one round trip on a pipelined pg pool beside Prisma's. */
export { type SqlQuery, TenantSqlTx, tenantSql, withTenantSql } from './sql.ts';
/** A tenant's id derived from its slug, and creating its row at start. */
export {
  assertTenantSlug,
  ensureTenant,
  TENANT_ID_NAMESPACE,
  type TenantIdentity,
  tenantIdForSlug,
} from './tenant.ts';
