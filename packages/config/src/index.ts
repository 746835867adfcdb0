/**
 * @switchboard/config: one zod schema per service, read once at start, with
 * `secret://` references resolved before validation and docs generated from it.
 */
export {
  type DatabaseConfig,
  type DatabasePoolConfig,
  databaseConfigSchema,
  databasePoolConfigSchema,
  databasePoolSettings,
  type LoggingConfig,
  loggingConfigSchema,
  REDIS_MODES,
  type RedisConfig,
  type RedisMode,
  redisConfigSchema,
  type SecretsConfig,
  sealingKeys,
  secretsConfigSchema,
  type TelemetryConfig,
  type TenantConfig,
  telemetryConfigSchema,
  tenantConfigSchema,
} from './base.ts';
/** The declared sessions file (sessions.json) shared by the API and the workers. */
export {
  type CloudApiNumberCredentials,
  type DeclaredSession,
  DeclaredSessionsError,
  declaredSessionSchema,
  declaredSessionsSchema,
  parseDeclaredSessions,
  readDeclaredSessions,
  resolveCloudApiCredentials,
  type SecretReferenceResolver,
} from './declared-sessions.ts';
export { renderConfigMarkdown } from './docs.ts';
export {
  boolean,
  describeField,
  duration,
  type FieldDescription,
  type FieldInfo,
  type HostPort,
  hostPortList,
  type IntegerOptions,
  integer,
  LOG_LEVELS,
  type LogLevel,
  list,
  logLevel,
  port,
  secret,
  type UrlOptions,
  url,
} from './fields.ts';
export {
  ConfigError,
  type ConfigOf,
  type ConfigProblem,
  type ConfigSchema,
  defineConfig,
  type ExitOptions,
  type LoadConfigOptions,
  loadConfig,
  loadConfigOrExit,
} from './load.ts';
export { loadConfigFromProcess } from './process.ts';
