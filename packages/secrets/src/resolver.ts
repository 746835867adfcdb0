import { SecretError, type SecretProvider, type Unsubscribe } from './provider.ts';
import {
  formatSecretReference,
  isValidProviderName,
  parseSecretReference,
  type SecretReference,
} from './reference.ts';

/** Options for `SecretResolver`. */
export interface SecretResolverOptions {
  /** Providers to register, by their `name`; more can be added with `register`. */
  providers?: readonly SecretProvider[];
}

/**
 * Resolves `secret://<provider>/<path>#<key>` references through a registry of
 * providers. The configuration loader resolves every reference found in the
 * environment through one of these, so a service never knows where a secret lives.
 */
export class SecretResolver {
  readonly #providers = new Map<string, SecretProvider>();
  #closing: Promise<void> | undefined;

  /** Creates a resolver with `options.providers` registered. */
  constructor(options: SecretResolverOptions = {}) {
    for (const provider of options.providers ?? []) this.register(provider);
  }

  /** Adds a provider; a second provider with the same name is a wiring mistake and throws. */
  register(provider: SecretProvider): this {
    if (!isValidProviderName(provider.name)) {
      throw new TypeError(`secret provider name "${provider.name}" cannot be used in a secret:// reference`);
    }
    if (this.#providers.has(provider.name)) {
      throw new TypeError(`a secret provider named "${provider.name}" is already registered`);
    }
    this.#providers.set(provider.name, provider);
    return this;
  }

  /** Names of the registered providers, sorted. */
  providerNames(): string[] {
    return [...this.#providers.keys()].sort();
  }

  /** Reads the secret a reference points at. Errors are `SecretError`s naming the reference, never the value. */
  async resolve(reference: string | SecretReference): Promise<string> {
    const parsed = typeof reference === 'string' ? parseSecretReference(reference) : reference;
    const provider = this.#provider(parsed);
    try {
      return await provider.get(parsed.path, parsed.key);
    } catch (error) {
      throw contextualise(error, parsed, provider.name);
    }
  }

  /**
   * Calls `onChange` with the new value each time the referenced secret changes.
   * Providers without `watch` hold values that cannot change while the process runs
   * (env), so watching them never fires and returns a no-op unsubscribe. Errors while
   * re-reading go to `onError`.
   */
  watch(
    reference: string | SecretReference,
    onChange: (value: string) => void,
    onError: (error: SecretError) => void = () => {},
  ): Unsubscribe {
    const parsed = typeof reference === 'string' ? parseSecretReference(reference) : reference;
    const provider = this.#provider(parsed);
    if (provider.watch === undefined) return () => {};
    let active = true;
    const stop = provider.watch(parsed.path, () => {
      provider.get(parsed.path, parsed.key).then(
        (value) => {
          if (active) onChange(value);
        },
        (error: unknown) => {
          if (active) onError(contextualise(error, parsed, provider.name));
        },
      );
    });
    return () => {
      active = false;
      stop();
    };
  }

  /** Closes every registered provider once; later calls return the same promise. */
  close(): Promise<void> {
    this.#closing ??= Promise.allSettled(
      [...this.#providers.values()].map((provider) => provider.close()),
    ).then((results) => {
      const failed = results.filter((result) => result.status === 'rejected');
      if (failed.length > 0) {
        throw new AggregateError(
          failed.map((result) => result.reason),
          `${failed.length} secret provider(s) failed to close`,
        );
      }
    });
    return this.#closing;
  }

  #provider(reference: SecretReference): SecretProvider {
    const provider = this.#providers.get(reference.provider);
    if (provider === undefined) {
      const registered = this.providerNames();
      throw new SecretError(
        'SECRET_PROVIDER_UNKNOWN',
        `unknown secret provider "${reference.provider}" in ${formatSecretReference(reference)}; ` +
          `registered providers: ${registered.length === 0 ? '(none)' : registered.join(', ')}`,
      );
    }
    return provider;
  }
}

// Provider errors name their path; prefixing the reference tells the reader which
// configuration value it was. Anything that is not a SecretError is a provider bug or
// a client failure whose message may quote a response body, so only its name is kept.
function contextualise(error: unknown, reference: SecretReference, providerName: string): SecretError {
  const ref = formatSecretReference(reference);
  if (error instanceof SecretError) return new SecretError(error.code, `${ref}: ${error.message}`);
  const name = error instanceof Error ? error.name : typeof error;
  return new SecretError('SECRET_UNREADABLE', `${ref}: provider "${providerName}" failed (${name})`);
}
