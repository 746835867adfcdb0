import { createSecretResolver } from '@switchboard/secrets';
import type { ConfigOf, ConfigSchema } from './load.ts';
import { loadConfigOrExit } from './load.ts';

/**
 * The one place a service's configuration meets the real process: reads
 * `process.env`, resolves `secret://env/...` and `secret://file/...` references, and
 * exits with code 1 and a list of every bad variable when the configuration is
 * invalid. Call it once, at start, from the service's `server.ts`/`main.ts`.
 */
export async function loadConfigFromProcess<S extends ConfigSchema>(schema: S): Promise<ConfigOf<S>> {
  const resolver = createSecretResolver({ env: process.env });
  try {
    return await loadConfigOrExit(schema, { env: process.env, resolver });
  } finally {
    // Configuration is read once; nothing keeps watching the providers.
    await resolver.close();
  }
}
