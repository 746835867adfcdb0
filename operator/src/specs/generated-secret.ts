import type { V1Secret } from '@kubernetes/client-node';
import type { WhatsAppTenant } from '../api/v1alpha1/index.ts';
import { childNames } from './names.ts';
import { childMetadata } from './owner-reference.ts';

/**
 * The Secret of values the operator generates for a tenant. The values come in as input:
 * generating them (crypto-random) and creating the Secret only when it does not exist is the
 * controller's job, so a reconcile can never rotate a signing key by accident and log every
 * agent out. Not marked immutable: adding a key in a later version must stay possible.
 */

/** Values the operator generates once per tenant. */
export interface GeneratedSecretValues {
  /** Signs the inbox's session JWTs. */
  jwtSigningKey: string;
  /** Authenticates the workers' calls to the API. */
  internalToken: string;
  /**
   * Password of the tenant's Redis and Sentinels. It is written into redis.conf by the start
   * script, so it must be URL- and shell-safe: use [A-Za-z0-9_-] (base64url).
   */
  redisPassword: string;
  /**
   * Seals the workers' WhatsApp auth state in Redis: `<key id>:<base64 of 32 bytes>`, the
   * worker's AUTH_STATE_KEYS format (current key first; a rotation puts a new one in front).
   */
  authStateKeys: string;
}

/** Keys of the generated Secret, named as the services' environment variables. */
export const GENERATED_SECRET_KEYS = {
  jwtSigningKey: 'JWT_SIGNING_KEY',
  internalToken: 'INTERNAL_TOKEN',
  redisPassword: 'REDIS_PASSWORD',
  authStateKeys: 'AUTH_STATE_KEYS',
} as const satisfies Record<keyof GeneratedSecretValues, string>;

/** The generated Secret, data base64-encoded (not stringData, which server-side apply cannot own). */
export function buildGeneratedSecret(tenant: WhatsAppTenant, values: GeneratedSecretValues): V1Secret {
  const data = Object.fromEntries(
    (Object.keys(GENERATED_SECRET_KEYS) as (keyof GeneratedSecretValues)[]).map((field) => [
      GENERATED_SECRET_KEYS[field],
      Buffer.from(values[field], 'utf8').toString('base64'),
    ]),
  );
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: childMetadata(tenant, childNames(tenant).generatedSecret, 'config'),
    type: 'Opaque',
    data,
  };
}
