/**
 * The secret provider port. Every backend (env, mounted files, Vault, AWS Secrets
 * Manager) implements `SecretProvider` and passes the shared suite in `conformance.ts`,
 * so the rest of the platform only ever sees `secret://<provider>/<path>#<key>`.
 */

/** Stops a watch; calling it more than once is harmless. */
export type Unsubscribe = () => void;

/**
 * A backend that secrets are read from, registered in a `SecretResolver` under `name`
 * (the `<provider>` part of `secret://<provider>/<path>#<key>`).
 *
 * Contract (checked by `describeSecretProviderConformance`):
 * - `get` resolves to the secret's value, or rejects with a `SecretError` whose `code`
 *   says what went wrong and whose message names the path but never contains a value.
 * - With `key`, the value at `path` is structured and `get` returns that one entry.
 * - `watch`, when present, calls `onChange` after the value at `path` changed from the
 *   one last read (providers that poll, Vault and AWS, compare against it); the listener
 *   reads the new value with `get`. Providers whose values cannot change while the
 *   process runs (env) leave it out.
 * - After `close`, `get` rejects with `SECRET_PROVIDER_CLOSED`; `close` is idempotent.
 */
export interface SecretProvider {
  /** Registry name and reference scheme segment, e.g. `env` in `secret://env/NAME`. */
  readonly name: string;
  /** Reads the secret at `path`; with `key`, reads one entry of a structured secret. */
  get(path: string, key?: string): Promise<string>;
  /** Calls `onChange` whenever the secret at `path` changes; returns the way to stop. */
  watch?(path: string, onChange: () => void): Unsubscribe;
  /** Releases watchers, clients and connections. */
  close(): Promise<void>;
}

/** Stable codes for every way resolving a secret can fail. */
export type SecretErrorCode =
  | 'SECRET_REFERENCE_INVALID'
  | 'SECRET_PROVIDER_UNKNOWN'
  | 'SECRET_NOT_FOUND'
  | 'SECRET_KEY_NOT_FOUND'
  | 'SECRET_MALFORMED'
  | 'SECRET_UNREADABLE'
  | 'SECRET_PROVIDER_CLOSED'
  | 'SECRET_PROVIDER_MISCONFIGURED';

/**
 * The one error type of this package. Messages name the reference, path or key that
 * failed and never include a secret value (nor an underlying error message, which may
 * quote one: `JSON.parse` does).
 */
export class SecretError extends Error {
  /** What went wrong, stable across releases; tests and callers switch on it. */
  readonly code: SecretErrorCode;

  /** Creates an error with a stable code; `message` must not contain a secret value. */
  constructor(code: SecretErrorCode, message: string) {
    super(message);
    this.name = 'SecretError';
    this.code = code;
  }
}
