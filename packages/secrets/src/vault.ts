import { readFile } from 'node:fs/promises';
import nodeVault from 'node-vault';
import { SecretCache, type SecretCacheOptions } from './cache.ts';
import { SecretError, type SecretProvider, type Unsubscribe } from './provider.ts';
import { pickSecretEntry } from './structured.ts';

/** How the provider logs in to Vault. */
export type VaultAuth =
  | {
      /** A Vault token given to the process (`VAULT_TOKEN`). */
      method: 'token';
      token: string;
    }
  | {
      /**
       * Vault's Kubernetes auth method: the pod's service account token (a projected token
       * file, re-read at every login because the kubelet rotates it) is exchanged for a Vault
       * token of `role`, at `auth/<mountPath>/login`.
       */
      method: 'kubernetes';
      role: string;
      /** The service account token file, e.g. /var/run/secrets/switchboard/vault/token. */
      tokenPath: string;
      /** Where the auth method is mounted (default `kubernetes`). */
      mountPath?: string;
    };

/** Options for `VaultSecretProvider`. */
export interface VaultSecretProviderOptions {
  /** Vault's address, e.g. `https://vault.example.com:8200`. */
  address: string;
  auth: VaultAuth;
  /** PEM certificates to trust for an https address signed by a private CA. */
  caCertificate?: string;
  /** Per-request timeout in ms (default 10 s). */
  requestTimeoutMs?: number;
  /** TTL, staleness bound and stale reporting of the value cache (see `SecretCacheOptions`). */
  cache?: SecretCacheOptions;
}

type KvData = Record<string, unknown>;
type VaultClient = nodeVault.client;

// A login's token is replaced once this share of its lease has passed, so a read never goes
// out with a token about to expire.
const RENEW_AT_FRACTION = 0.8;

/** The KV v2 mount and the entry's path inside it. */
export interface VaultKvLocation {
  mount: string;
  path: string;
}

/**
 * Splits a `secret://vault/<path>` path into its KV v2 mount (the first segment) and the
 * entry's path. The API form with `data/` after the mount, as Vault policies and the
 * WhatsAppTenant's `secrets.vault.path` examples write it (`secret/data/switchboard/acme`),
 * reads the same entry as the short form (`secret/switchboard/acme`).
 */
export function parseVaultPath(path: string): VaultKvLocation {
  const [mount, ...rest] = path.split('/');
  if (rest[0] === 'data' && rest.length > 1) rest.shift();
  if (mount === undefined || mount === '' || rest.length === 0 || rest.some((segment) => segment === '')) {
    throw new SecretError(
      'SECRET_REFERENCE_INVALID',
      `vault secret path "${path}" must be <kv mount>/<entry path>, e.g. secret/switchboard/acme/meta`,
    );
  }
  return { mount, path: rest.join('/') };
}

/**
 * HashiCorp Vault's KV version 2 engine through `node-vault`. `secret://vault/<mount>/<path>`
 * is the entry `<path>` of the KV v2 engine mounted at `<mount>`; `#key` picks one of its
 * keys, and a reference without `#key` reads the key `value` (KV entries are always maps).
 * Values are cached for a TTL and re-read, and `watch` re-reads watched entries at that
 * interval, so a rotation in Vault is used without a restart (see `SecretCache`).
 *
 * Nothing here logs: node-vault's debug output (which would print a login's JWT) is off,
 * and errors carry status codes and paths, never a response body or value.
 */
export class VaultSecretProvider implements SecretProvider {
  /** Provider name in references: `secret://vault/...`. */
  readonly name = 'vault';
  readonly #options: VaultSecretProviderOptions;
  readonly #client: VaultClient;
  readonly #cache: SecretCache<KvData>;
  #login: { token: string; renewAt: number } | undefined;
  #loggingIn: Promise<string> | undefined;
  #closed = false;

  /** Creates a provider; nothing is sent to Vault until the first read. */
  constructor(options: VaultSecretProviderOptions) {
    this.#options = options;
    const timeout = options.requestTimeoutMs ?? 10_000;
    this.#client = nodeVault({
      apiVersion: 'v1',
      endpoint: options.address,
      // Without these node-vault falls back to VAULT_TOKEN, VAULT_SKIP_VERIFY, ... from
      // process.env; this provider takes its settings only from its options.
      debug: () => {},
      noCustomHTTPVerbs: true,
      requestOptions: {
        // Overrides node-vault's VAULT_SKIP_VERIFY default: certificates are always checked.
        strictSSL: true,
        timeout,
        ...(options.caCertificate === undefined ? {} : { ca: options.caCertificate }),
      },
    });
    const settable = this.#client as unknown as {
      pathPrefix: string;
      namespace: string | undefined;
      token: string;
    };
    settable.pathPrefix = '';
    settable.namespace = undefined;
    settable.token = options.auth.method === 'token' ? options.auth.token : '';
    this.#cache = new SecretCache<KvData>({
      ...options.cache,
      provider: this.name,
      load: (path) => this.#read(path),
      canonical: (data) =>
        JSON.stringify(Object.entries(data).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    });
  }

  /** Reads key `key` (default `value`) of the KV v2 entry at `path`. */
  async get(path: string, key?: string): Promise<string> {
    this.#assertOpen();
    const location = parseVaultPath(path);
    const data = await this.#cache.read(path);
    const where = `vault entry ${location.mount}/${location.path}`;
    if (key === undefined && !Object.hasOwn(data, 'value')) {
      throw new SecretError(
        'SECRET_KEY_NOT_FOUND',
        `${where} has no key "value", which a reference without #key reads; add #<key> to the reference`,
      );
    }
    return pickSecretEntry(data, key ?? 'value', where);
  }

  /** Calls `onChange` when a re-read (every cache TTL) finds the entry at `path` changed. */
  watch(path: string, onChange: () => void): Unsubscribe {
    this.#assertOpen();
    parseVaultPath(path);
    return this.#cache.watch(path, onChange);
  }

  /** Stops watches and forgets cached values and the login; later reads fail with `SECRET_PROVIDER_CLOSED`. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#cache.close();
    this.#login = undefined;
  }

  #assertOpen(): void {
    if (this.#closed) throw new SecretError('SECRET_PROVIDER_CLOSED', 'vault secret provider is closed');
  }

  async #read(path: string): Promise<KvData> {
    const location = parseVaultPath(path);
    const apiPath = `${encodePath(location.mount)}/data/${encodePath(location.path)}`;
    const where = `vault entry ${location.mount}/${location.path}`;
    let response: unknown;
    try {
      response = await this.#withToken(() => this.#client.read(apiPath));
    } catch (error) {
      throw this.#requestError(error, where);
    }
    const data = (response as { data?: { data?: unknown } } | undefined)?.data?.data;
    if (data === null || data === undefined) {
      throw new SecretError('SECRET_NOT_FOUND', `${where} has no current version (deleted)`);
    }
    if (typeof data !== 'object' || Array.isArray(data)) {
      throw new SecretError(
        'SECRET_MALFORMED',
        `${where} is not a KV version 2 entry (is ${location.mount}/ a KV v2 mount?)`,
      );
    }
    return data as KvData;
  }

  // Runs a request with a valid token; with Kubernetes auth, a 403 (the token was revoked or
  // expired early) gets one fresh login and one retry.
  async #withToken<T>(request: () => Promise<T>): Promise<T> {
    if (this.#options.auth.method === 'token') return request();
    await this.#token();
    try {
      return await request();
    } catch (error) {
      if (statusOf(error) !== 403) throw error;
      this.#login = undefined;
      await this.#token();
      return request();
    }
  }

  async #token(): Promise<string> {
    if (this.#login !== undefined && Date.now() < this.#login.renewAt) return this.#login.token;
    this.#loggingIn ??= this.#kubernetesLogin().finally(() => {
      this.#loggingIn = undefined;
    });
    return this.#loggingIn;
  }

  async #kubernetesLogin(): Promise<string> {
    const auth = this.#options.auth;
    if (auth.method !== 'kubernetes') throw new TypeError('not a kubernetes login');
    const mountPath = (auth.mountPath ?? 'kubernetes').replace(/^\/+|\/+$/g, '');
    const method = `vault kubernetes login (role "${auth.role}" at auth/${mountPath})`;
    let jwt: string;
    try {
      jwt = (await readFile(auth.tokenPath, 'utf8')).trim();
    } catch (error) {
      throw new SecretError(
        'SECRET_UNREADABLE',
        `${method}: the service account token file ${auth.tokenPath} could not be read (${codeOf(error) ?? 'unknown error'})`,
      );
    }
    if (jwt === '') {
      throw new SecretError(
        'SECRET_UNREADABLE',
        `${method}: the service account token file ${auth.tokenPath} is empty`,
      );
    }
    let response: unknown;
    const started = Date.now();
    try {
      response = await this.#client.kubernetesLogin({ role: auth.role, jwt, mount_point: mountPath });
    } catch (error) {
      throw this.#requestError(error, method);
    }
    const login = (response as { auth?: { client_token?: unknown; lease_duration?: unknown } } | undefined)
      ?.auth;
    if (typeof login?.client_token !== 'string' || login.client_token === '') {
      throw new SecretError('SECRET_UNREADABLE', `${method}: the answer carried no client token`);
    }
    const leaseSeconds = typeof login.lease_duration === 'number' ? login.lease_duration : 0;
    // node-vault's kubernetesLogin already set the client's token; set it again so the token in
    // use is the one this login returned even if that behaviour changes.
    (this.#client as unknown as { token: string }).token = login.client_token;
    this.#login = {
      token: login.client_token,
      renewAt:
        leaseSeconds > 0 ? started + leaseSeconds * 1000 * RENEW_AT_FRACTION : Number.POSITIVE_INFINITY,
    };
    return login.client_token;
  }

  #requestError(error: unknown, where: string): SecretError {
    if (error instanceof SecretError) return error;
    const status = statusOf(error);
    if (status === 404) return new SecretError('SECRET_NOT_FOUND', `${where} does not exist`);
    if (status === 403) {
      return new SecretError('SECRET_UNREADABLE', `${where}: permission denied (403)`);
    }
    if (status === 400 || status === 401) {
      return new SecretError('SECRET_UNREADABLE', `${where}: Vault refused the request (${status})`);
    }
    if (status !== undefined)
      return new SecretError('SECRET_UNREADABLE', `${where}: Vault answered ${status}`);
    const code = codeOf(error);
    return new SecretError(
      'SECRET_UNREADABLE',
      `${where}: Vault at ${this.#options.address} could not be reached (${code ?? (error instanceof Error ? error.name : 'unknown error')})`,
    );
  }
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { response?: { statusCode?: unknown } } | undefined)?.response?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

function codeOf(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string'
    ? error.code
    : undefined;
}
