import { SecretError, type SecretProvider } from './provider.ts';
import { pickSecretKey } from './structured.ts';

/** Options for `EnvSecretProvider`. */
export interface EnvSecretProviderOptions {
  /** The environment to read; the wiring passes `process.env`, tests pass a plain object. */
  env: Readonly<Record<string, string | undefined>>;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * `secret://env/NAME` reads the variable NAME; `secret://env/NAME#key` reads NAME as a
 * structured secret (JSON object or KEY=VALUE lines, see `pickSecretKey`) and returns
 * one entry. The environment is fixed for the life of the process, so there is no
 * `watch`. Mostly for development and CI, where the platform injects secrets as
 * variables; in a cluster prefer `file` so a rotation does not need a restart.
 */
export class EnvSecretProvider implements SecretProvider {
  /** Provider name in references: `secret://env/...`. */
  readonly name = 'env';
  readonly #env: Readonly<Record<string, string | undefined>>;
  #closed = false;

  /** Creates a provider over `options.env`; the object is read on every `get`, never copied. */
  constructor(options: EnvSecretProviderOptions) {
    this.#env = options.env;
  }

  /** Reads variable `path`, or entry `key` of it. */
  async get(path: string, key?: string): Promise<string> {
    if (this.#closed) throw new SecretError('SECRET_PROVIDER_CLOSED', 'env secret provider is closed');
    if (!ENV_NAME.test(path)) {
      throw new SecretError(
        'SECRET_REFERENCE_INVALID',
        `env secret path "${path}" is not an environment variable name (letters, digits, "_")`,
      );
    }
    const where = `env variable "${path}"`;
    const value = this.#env[path];
    if (value === undefined) throw new SecretError('SECRET_NOT_FOUND', `${where} is not set`);
    return key === undefined ? value : pickSecretKey(value, key, where);
  }

  /** Marks the provider closed; there is nothing to release. */
  async close(): Promise<void> {
    this.#closed = true;
  }
}
