import { readFileSync } from 'node:fs';
import { AwsSecretsManagerProvider } from './aws.ts';
import type { StaleSecretEvent } from './cache.ts';
import { EnvSecretProvider } from './env.ts';
import { FileSecretProvider } from './file.ts';
import { SecretError, type SecretProvider } from './provider.ts';
import { SecretResolver } from './resolver.ts';
import { readSecretProviderSettings, type SecretProviderSettings } from './settings.ts';
import { type VaultAuth, VaultSecretProvider } from './vault.ts';

/** Options for `createSecretResolver`. */
export interface CreateSecretResolverOptions {
  /** Environment for the `env` provider and the providers' settings; the process wiring passes `process.env`. */
  env: Readonly<Record<string, string | undefined>>;
  /** Base directory for the `file` provider (default `/`, so paths are absolute). */
  fileBaseDir?: string;
  /** The providers' settings when already read (`loadConfigFromProcess` does); read from `env` otherwise. */
  settings?: SecretProviderSettings;
  /**
   * Told when a Vault or AWS value is served past its TTL because re-reading failed; default:
   * a process warning (`SWITCHBOARD_SECRET_STALE`) naming the provider, path and cause, never a value.
   */
  onStale?: (event: StaleSecretEvent) => void;
}

/** The default `onStale`: a Node process warning, which the services' warning handling prints. */
export function warnStaleSecret(event: StaleSecretEvent): void {
  process.emitWarning(
    `${event.provider} secret "${event.path}" could not be re-read (${event.message}); serving the value read ` +
      `${Math.round(event.ageMs / 1000)} s ago until ${new Date(event.servedUntil).toISOString()}`,
    { code: 'SWITCHBOARD_SECRET_STALE' },
  );
}

/**
 * A resolver with the providers every service has, `env` and `file`, plus the tenant's
 * provider from SECRETS_PROVIDER (the WhatsAppTenant's `spec.secrets.provider`, written by
 * the operator): `vault` (VAULT_ADDR, and VAULT_ROLE with VAULT_TOKEN_PATH and
 * VAULT_AUTH_MOUNT_PATH for Kubernetes auth, or VAULT_TOKEN) or `aws` (AWS_REGION; a static
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY pair, or else the AWS SDK's credential chain). Nothing is contacted until a reference is resolved. Throws a
 * `SecretError` (`SECRET_PROVIDER_MISCONFIGURED`) naming every bad variable.
 */
export function createSecretResolver(options: CreateSecretResolverOptions): SecretResolver {
  const settings = options.settings ?? readSecretProviderSettings(options.env);
  const providers: SecretProvider[] = [
    new EnvSecretProvider({ env: options.env }),
    new FileSecretProvider(options.fileBaseDir === undefined ? {} : { baseDir: options.fileBaseDir }),
  ];
  const cache = {
    ttlMs: settings.SECRETS_CACHE_TTL,
    maxStaleMs: settings.SECRETS_MAX_STALE,
    onStale: options.onStale ?? warnStaleSecret,
  };
  if (settings.SECRETS_PROVIDER === 'vault') {
    const auth: VaultAuth =
      settings.VAULT_TOKEN !== undefined
        ? { method: 'token', token: settings.VAULT_TOKEN }
        : {
            method: 'kubernetes',
            role: settings.VAULT_ROLE!,
            tokenPath: settings.VAULT_TOKEN_PATH,
            mountPath: settings.VAULT_AUTH_MOUNT_PATH,
          };
    providers.push(
      new VaultSecretProvider({
        address: settings.VAULT_ADDR!,
        auth,
        cache,
        ...(settings.VAULT_CACERT === undefined
          ? {}
          : { caCertificate: readCaCertificate(settings.VAULT_CACERT) }),
      }),
    );
  }
  if (settings.SECRETS_PROVIDER === 'aws') {
    providers.push(
      new AwsSecretsManagerProvider({
        region: settings.AWS_REGION!,
        cache,
        ...(settings.AWS_ENDPOINT_URL_SECRETS_MANAGER === undefined
          ? {}
          : { endpoint: settings.AWS_ENDPOINT_URL_SECRETS_MANAGER }),
        ...(settings.AWS_ACCESS_KEY_ID === undefined || settings.AWS_SECRET_ACCESS_KEY === undefined
          ? {}
          : {
              credentials: {
                accessKeyId: settings.AWS_ACCESS_KEY_ID,
                secretAccessKey: settings.AWS_SECRET_ACCESS_KEY,
                ...(settings.AWS_SESSION_TOKEN === undefined
                  ? {}
                  : { sessionToken: settings.AWS_SESSION_TOKEN }),
              },
            }),
      }),
    );
  }
  return new SecretResolver({ providers });
}

function readCaCertificate(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new SecretError(
      'SECRET_PROVIDER_MISCONFIGURED',
      `VAULT_CACERT: ${path} could not be read (${code})`,
    );
  }
}
