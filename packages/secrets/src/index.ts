/**
 * @switchboard/secrets: `secret://<provider>/<path>#<key>` references and the providers
 * that resolve them. The conformance suite (`conformance.ts`) is test-only and is
 * imported by path, not from here, so services do not load vitest.
 */
export { AwsSecretsManagerProvider, type AwsSecretsManagerProviderOptions } from './aws.ts';
export {
  DEFAULT_SECRET_MAX_STALE_MS,
  DEFAULT_SECRET_TTL_MS,
  type SecretCacheOptions,
  type StaleSecretEvent,
} from './cache.ts';
export {
  type CreateSecretResolverOptions,
  createSecretResolver,
  warnStaleSecret,
} from './default-resolver.ts';
export { EnvSecretProvider, type EnvSecretProviderOptions } from './env.ts';
export { FileSecretProvider, type FileSecretProviderOptions } from './file.ts';
export { SecretError, type SecretErrorCode, type SecretProvider, type Unsubscribe } from './provider.ts';
export {
  formatSecretReference,
  isSecretReference,
  isValidProviderName,
  parseSecretReference,
  type SecretReference,
} from './reference.ts';
export { SecretResolver, type SecretResolverOptions } from './resolver.ts';
/** AES-256-GCM sealing under caller-given key material (version 1; the Baileys auth state's values). */
export { openSealedSecret, sealSecret } from './sealed.ts';
/** SEALING_KEYS: the keyring sealing secrets stored in the database, with key ids and rotation. */
export {
  newSealingKeyEntry,
  type SealingKey,
  SealingKeyError,
  SealingKeyring,
  type SealingKeyringOptions,
} from './sealing-keys.ts';
export {
  DEFAULT_SERVICE_ACCOUNT_TOKEN_PATH,
  readSecretProviderSettings,
  SECRETS_PROVIDERS,
  type SecretProviderSettings,
  secretProviderEnvSchema,
} from './settings.ts';
export { pickSecretEntry, pickSecretKey } from './structured.ts';
export {
  parseVaultPath,
  type VaultAuth,
  type VaultKvLocation,
  VaultSecretProvider,
  type VaultSecretProviderOptions,
} from './vault.ts';
