import { SecretError } from './provider.ts';

/** The parts of `secret://<provider>/<path>#<key>`. */
export interface SecretReference {
  /** Registered provider name: `env`, `file`, `vault`, `aws`. */
  provider: string;
  /** Provider-specific path, without a leading slash: `REDIS_PASSWORD`, `redis/password`. */
  path: string;
  /** Entry of a structured secret (JSON object or KEY=VALUE lines); absent for a raw value. */
  key?: string;
}

const SCHEME = 'secret://';
const PROVIDER_NAME = /^[a-z][a-z0-9-]*$/;
// Wide enough for env names, file paths, Vault KV paths and AWS secret names/ARNs
// (which use : / _ + = . @ -), narrow enough that a pasted value with spaces or
// quotes is rejected rather than silently looked up.
const PATH_CHARACTER = /^[A-Za-z0-9._~\-/@:+=,]$/;
const KEY = /^[A-Za-z0-9._-]+$/;

/** True when `value` is meant to be a secret reference (it starts with `secret://`). */
export function isSecretReference(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith(SCHEME);
}

/** True when `name` can be used as a provider name in a reference. */
export function isValidProviderName(name: string): boolean {
  return PROVIDER_NAME.test(name);
}

/**
 * Parses `secret://<provider>/<path>#<key>` strictly. A reference is configuration,
 * not a secret, so the error quotes it and says exactly which part is wrong.
 */
export function parseSecretReference(input: string): SecretReference {
  const fail = (problem: string): never => {
    throw new SecretError('SECRET_REFERENCE_INVALID', `invalid secret reference "${input}": ${problem}`);
  };
  if (!input.startsWith(SCHEME)) {
    fail(`must start with "${SCHEME}"`);
  }
  const rest = input.slice(SCHEME.length);
  const slash = rest.indexOf('/');
  const provider = slash === -1 ? rest.split('#')[0]! : rest.slice(0, slash);
  if (provider === '') fail('provider name is missing (expected secret://<provider>/<path>)');
  if (!PROVIDER_NAME.test(provider)) {
    fail(`provider name "${provider}" must be lowercase letters, digits and dashes, starting with a letter`);
  }
  if (slash === -1) fail('path is missing (expected secret://<provider>/<path>)');

  const afterProvider = rest.slice(slash + 1);
  const hashes = afterProvider.split('#');
  if (hashes.length > 2) fail('contains more than one "#"');
  const path = hashes[0]!;
  const key = hashes[1];

  if (path === '') fail('path is missing (expected secret://<provider>/<path>)');
  for (let i = 0; i < path.length; i++) {
    const ch = path[i]!;
    if (!PATH_CHARACTER.test(ch)) {
      const shown = /\s/.test(ch)
        ? 'whitespace'
        : ch === '?'
          ? '"?" (query strings are not supported)'
          : `"${ch}"`;
      fail(`path contains ${shown} at position ${SCHEME.length + slash + 1 + i}`);
    }
  }
  const segments = path.split('/');
  if (segments.some((segment) => segment === '')) {
    fail('path has an empty segment (leading, trailing or doubled "/")');
  }
  if (segments.some((segment) => segment === '.' || segment === '..')) {
    fail('path must not contain "." or ".." segments');
  }
  if (key !== undefined) {
    if (key === '') fail('key after "#" is empty');
    if (!KEY.test(key)) fail(`key "${key}" must be letters, digits, ".", "_" or "-"`);
  }
  return key === undefined ? { provider, path } : { provider, path, key };
}

/** Formats a reference back to its `secret://` form (the inverse of `parseSecretReference`). */
export function formatSecretReference(reference: SecretReference): string {
  const base = `${SCHEME}${reference.provider}/${reference.path}`;
  return reference.key === undefined ? base : `${base}#${reference.key}`;
}
