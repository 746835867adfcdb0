import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SecretCache, type SecretCacheOptions } from './cache.ts';
import { SecretError, type SecretProvider, type Unsubscribe } from './provider.ts';
import { pickSecretKey } from './structured.ts';

/** Options for `AwsSecretsManagerProvider`. */
export interface AwsSecretsManagerProviderOptions {
  /** The secrets' region, e.g. `eu-west-1` (`AWS_REGION`). */
  region: string;
  /** Another endpoint than AWS's (a VPC endpoint, moto in tests). */
  endpoint?: string;
  /**
   * Static credentials; without them the AWS SDK's default chain is used (in a cluster, the
   * pod's IAM role through IRSA or EKS Pod Identity).
   */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Per-request timeout in ms (default 10 s). */
  requestTimeoutMs?: number;
  /** Attempts per read, including the first (default 3, the SDK's standard retry). */
  maxAttempts?: number;
  /** TTL, staleness bound and stale reporting of the value cache (see `SecretCacheOptions`). */
  cache?: SecretCacheOptions;
}

// Errors that are AWS's answer about the secret itself rather than an outage. A secret marked
// for deletion answers InvalidRequestException.
const NOT_FOUND = new Set(['ResourceNotFoundException', 'InvalidRequestException']);

/**
 * AWS Secrets Manager through `@aws-sdk/client-secrets-manager`. `secret://aws/<name>` is the
 * current version (AWSCURRENT) of the secret named `<name>` (or its ARN); `#key` reads the
 * secret as a structured one (a JSON object, what the console's key/value editor stores, or
 * KEY=VALUE lines) and returns one entry. A binary secret is read as UTF-8 text. Values are
 * cached for a TTL and re-read, and `watch` re-reads watched secrets at that interval, so a
 * rotation is used without a restart (see `SecretCache`).
 */
export class AwsSecretsManagerProvider implements SecretProvider {
  /** Provider name in references: `secret://aws/...`. */
  readonly name = 'aws';
  readonly #client: SecretsManagerClient;
  readonly #cache: SecretCache<string>;
  #closed = false;

  /** Creates a provider; nothing is sent to AWS until the first read. */
  constructor(options: AwsSecretsManagerProviderOptions) {
    this.#client = new SecretsManagerClient({
      region: options.region,
      maxAttempts: options.maxAttempts ?? 3,
      requestHandler: { requestTimeout: options.requestTimeoutMs ?? 10_000 },
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
      ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
    });
    this.#cache = new SecretCache<string>({
      ...options.cache,
      provider: this.name,
      load: (path) => this.#read(path),
      canonical: (text) => text,
    });
  }

  /** Reads the secret named `path`, or entry `key` of it. */
  async get(path: string, key?: string): Promise<string> {
    this.#assertOpen();
    const text = await this.#cache.read(path);
    return key === undefined ? text : pickSecretKey(text, key, `aws secret "${path}"`);
  }

  /** Calls `onChange` when a re-read (every cache TTL) finds the secret named `path` changed. */
  watch(path: string, onChange: () => void): Unsubscribe {
    this.#assertOpen();
    return this.#cache.watch(path, onChange);
  }

  /** Stops watches, forgets cached values and releases the client's connections. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#cache.close();
    this.#client.destroy();
  }

  #assertOpen(): void {
    if (this.#closed) throw new SecretError('SECRET_PROVIDER_CLOSED', 'aws secret provider is closed');
  }

  async #read(path: string): Promise<string> {
    const where = `aws secret "${path}"`;
    let output: { SecretString?: string | undefined; SecretBinary?: Uint8Array | undefined };
    try {
      output = await this.#client.send(new GetSecretValueCommand({ SecretId: path }));
    } catch (error) {
      // Only the error's name and status: an SDK message can quote the request or response.
      const name = error instanceof Error ? error.name : 'unknown error';
      const status = (error as { $metadata?: { httpStatusCode?: unknown } }).$metadata?.httpStatusCode;
      if (NOT_FOUND.has(name)) {
        throw new SecretError(
          'SECRET_NOT_FOUND',
          `${where} does not exist or is scheduled for deletion (${name})`,
        );
      }
      const code = (error as { code?: unknown }).code;
      const cause =
        typeof code === 'string'
          ? `${name} ${code}`
          : typeof status === 'number'
            ? `${name}, ${status}`
            : name;
      throw new SecretError('SECRET_UNREADABLE', `${where} could not be read (${cause})`);
    }
    if (typeof output.SecretString === 'string') return output.SecretString;
    if (output.SecretBinary !== undefined) return Buffer.from(output.SecretBinary).toString('utf8');
    throw new SecretError('SECRET_MALFORMED', `${where} has neither a string nor a binary value`);
  }
}
