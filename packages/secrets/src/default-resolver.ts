import { EnvSecretProvider } from './env.ts';
import { FileSecretProvider } from './file.ts';
import { SecretResolver } from './resolver.ts';

/** Options for `createSecretResolver`. */
export interface CreateSecretResolverOptions {
  /** Environment for the `env` provider; the process wiring passes `process.env`. */
  env: Readonly<Record<string, string | undefined>>;
  /** Base directory for the `file` provider (default `/`, so paths are absolute). */
  fileBaseDir?: string;
}

/**
 * A resolver with the providers every service has: `env` and `file`. Vault and AWS
 * register on top of it when a tenant's `spec.secrets.provider` asks for them.
 */
export function createSecretResolver(options: CreateSecretResolverOptions): SecretResolver {
  return new SecretResolver({
    providers: [
      new EnvSecretProvider({ env: options.env }),
      new FileSecretProvider(options.fileBaseDir === undefined ? {} : { baseDir: options.fileBaseDir }),
    ],
  });
}
