import { randomBytes } from 'node:crypto';
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
  /** Bearer token of the API's /internal routes (the operator's status calls). Seals nothing. */
  internalToken: string;
  /**
   * Passwords of the tenant's Redis ACL users (packages/redis's acl.ts): `admin` (REDIS_PASSWORD,
   * for people; no service pod gets it), `api`, `worker`, `replication` and `sentinel`. The start
   * scripts write them into redis.conf and sentinel.conf, so they must be URL- and shell-safe:
   * use [A-Za-z0-9_-] (base64url).
   */
  redisPassword: string;
  redisApiPassword: string;
  redisWorkerPassword: string;
  redisReplicationPassword: string;
  redisSentinelPassword: string;
  /**
   * Seals the workers' WhatsApp auth state in Redis: `<key id>:<base64 of 32 bytes>`, the
   * worker's AUTH_STATE_KEYS format (current key first; a rotation puts a new one in front).
   */
  authStateKeys: string;
  /**
   * Seals secrets the services store in the database (webhook signing secrets): SEALING_KEYS,
   * `<key id>:<base64 of 32 bytes>`, current key first (@switchboard/secrets' SealingKeyring).
   */
  sealingKeys: string;
}

/** Keys of the generated Secret, named as the services' environment variables. */
export const GENERATED_SECRET_KEYS = {
  jwtSigningKey: 'JWT_SIGNING_KEY',
  internalToken: 'INTERNAL_TOKEN',
  redisPassword: 'REDIS_PASSWORD',
  redisApiPassword: 'REDIS_API_PASSWORD',
  redisWorkerPassword: 'REDIS_WORKER_PASSWORD',
  redisReplicationPassword: 'REDIS_REPLICATION_PASSWORD',
  redisSentinelPassword: 'REDIS_SENTINEL_PASSWORD',
  authStateKeys: 'AUTH_STATE_KEYS',
  sealingKeys: 'SEALING_KEYS',
} as const satisfies Record<keyof GeneratedSecretValues, string>;

/**
 * Fresh crypto-random values for every key. The controller writes them only into a Secret that
 * does not exist yet, or for the keys an existing one lacks (a Secret from an older version).
 */
export function newGeneratedSecretValues(): GeneratedSecretValues {
  const password = () => randomBytes(32).toString('base64url');
  return {
    jwtSigningKey: randomBytes(48).toString('base64url'),
    internalToken: randomBytes(32).toString('base64url'),
    redisPassword: password(),
    redisApiPassword: password(),
    redisWorkerPassword: password(),
    redisReplicationPassword: password(),
    redisSentinelPassword: password(),
    authStateKeys: `k1:${randomBytes(32).toString('base64')}`,
    sealingKeys: `k1:${randomBytes(32).toString('base64')}`,
  };
}

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
