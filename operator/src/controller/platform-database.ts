import type { V1Secret } from '@kubernetes/client-node';
import type { KubeClient } from '../kube/kube-client.ts';

/**
 * The platform Postgres admin URL, from the Secret the chart names (platformPostgresSecret,
 * key `url`) in the operator's namespace. Read by GET on each use rather than watched: the
 * chart grants get on that one Secret and nothing more, and a rotated password is picked up
 * without a restart. Undefined when the Secret or its key is missing.
 */
export async function platformDatabaseUrlFromSecret(
  client: KubeClient,
  namespace: string,
  name: string,
  key = 'url',
): Promise<string | undefined> {
  return secretValue(await client.get<V1Secret>('v1', 'Secret', namespace, name), key);
}

/** A Secret's value for `key`, decoded; undefined when the Secret or the key is missing. */
export function secretValue(secret: V1Secret | undefined, key: string): string | undefined {
  const value = secret?.data?.[key];
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
}
