import { createSecretResolver } from '@switchboard/secrets';
import { secretsConfigSchema } from './base.ts';
import type { ConfigOf, ConfigSchema } from './load.ts';
import { loadConfigOrExit } from './load.ts';

/**
 * The one place a service's configuration meets the real process: reads
 * `process.env`, first the secret providers' settings (`secretsConfigSchema`: which of
 * Vault or AWS Secrets Manager, and how to reach it), then the service's schema with
 * every `secret://env/...`, `secret://file/...` and `secret://vault/...` or
 * `secret://aws/...` reference resolved, and exits with code 1 and a list of every bad
 * variable when either is invalid. Call it once, at start, from the service's
 * `server.ts`/`main.ts`.
 */
export async function loadConfigFromProcess<S extends ConfigSchema>(schema: S): Promise<ConfigOf<S>> {
  const settings = await loadConfigOrExit(secretsConfigSchema, { env: process.env });
  const resolver = createSecretResolver({ env: process.env, settings });
  try {
    return await loadConfigOrExit(schema, { env: process.env, resolver });
  } finally {
    // Configuration is read once; nothing keeps watching the providers.
    await resolver.close();
  }
}
