import type { KubernetesObject } from '@kubernetes/client-node';
import { isAlreadyExists, type KubeClient, toWire } from '../kube/kube-client.ts';
import { configHash } from '../specs/config-hash.ts';

/**
 * Applying a tenant's children so that a steady state costs no writes. Server-side apply of an
 * unchanged object still is a PATCH (the server answers without a new resourceVersion, but the
 * request is made, audited and counted); with hundreds of tenants resynced every few minutes
 * that is needless load. Each applied child carries the hash of what was applied; a child whose
 * live annotation matches the desired hash is left alone.
 *
 * The trade-off: a hand edit to a field the operator owns is put right on the next change of
 * the tenant (or of that child's desired state), not at the next resync.
 */

/** Annotation with the hash of the applied manifest. */
export const APPLIED_HASH_ANNOTATION = 'switchboard.dev/applied-hash';

/** The manifest with its applied-hash annotation, as sent to the server. */
export function withAppliedHash<T extends KubernetesObject>(object: T): T {
  const wire = toWire(object) as T;
  const hash = configHash(wire);
  return {
    ...wire,
    metadata: {
      ...wire.metadata,
      annotations: { ...(wire.metadata?.annotations ?? {}), [APPLIED_HASH_ANNOTATION]: hash },
    },
  };
}

/** What applyIfChanged did. */
export type ApplyOutcome = 'unchanged' | 'applied';

/** Server-side applies the object unless the live one already carries its hash. */
export async function applyIfChanged(
  client: KubeClient,
  object: KubernetesObject,
): Promise<{ outcome: ApplyOutcome; live: KubernetesObject }> {
  const desired = withAppliedHash(object);
  const { apiVersion, kind, metadata } = desired;
  const live = await client.get(apiVersion!, kind!, metadata!.namespace, metadata!.name!);
  const want = desired.metadata!.annotations![APPLIED_HASH_ANNOTATION];
  if (
    live &&
    live.metadata?.annotations?.[APPLIED_HASH_ANNOTATION] === want &&
    !live.metadata?.deletionTimestamp
  ) {
    return { outcome: 'unchanged', live };
  }
  return { outcome: 'applied', live: await client.apply(desired) };
}

/** Creates the object when it does not exist; never updates one that does. */
export async function createIfMissing<T extends KubernetesObject>(
  client: KubeClient,
  object: T,
): Promise<{ created: boolean; live: T }> {
  const { apiVersion, kind, metadata } = object;
  const live = await client.get<T>(apiVersion!, kind!, metadata!.namespace, metadata!.name!);
  if (live) return { created: false, live };
  try {
    return { created: true, live: await client.create(toWire(object) as T) };
  } catch (error) {
    // Another operator replica (a leader that just lost its lease) created it first.
    if (!isAlreadyExists(error)) throw error;
    const existing = await client.get<T>(apiVersion!, kind!, metadata!.namespace, metadata!.name!);
    if (!existing) throw error;
    return { created: false, live: existing };
  }
}
