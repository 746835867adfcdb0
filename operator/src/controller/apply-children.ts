import type { KubernetesObject } from '@kubernetes/client-node';
import { isAlreadyExists, KubeApiError, type KubeClient, toWire } from '../kube/kube-client.ts';
import type { ObjectReader } from '../kube/object-cache.ts';
import { quantityValue } from '../specs/quantity.ts';

/**
 * Applying a tenant's children so that a steady state costs no writes and a hand edit is put
 * back at once. The drift rule trusts the live object (from the informer cache): a child is
 * server-side applied when it is missing, being deleted, or when any field of the desired
 * manifest has another value in the live object. Fields the manifest does not set (defaults the
 * API server filled in, status, other managers' fields) are not compared, so an unchanged child
 * costs nothing, and a change to anything the operator sets (an image, a port, a ConfigMap key,
 * a NetworkPolicy rule) is drift.
 *
 * What the comparison treats as equal, because the API server normalises it:
 * - a quantity in another spelling (`0.5` and `500m`, `1024Mi` and `1Gi`);
 * - an empty value (`''`, `false`, `0`, `{}`, `[]`) and an absent field: the server drops
 *   empty values of `omitempty` fields. The price: removing a field whose desired value is
 *   empty is not seen as drift (setting it to something else is);
 * - lists are compared element by element and must have the same length, so an element
 *   added by hand is drift too.
 *
 * Server-side apply keeps list items another field manager owns (a Service port changed by
 * `kubectl edit` is a new item owned by kubectl). When the apply leaves such an item, or is
 * refused because of it (two ports named http), the child is put back with a JSON merge patch
 * of the desired manifest, which replaces each list it sets.
 */

/** What applyIfDrifted did. */
export type ApplyOutcome = 'unchanged' | 'applied';

function isEmpty(value: unknown): boolean {
  if (value === undefined || value === null || value === '' || value === false || value === 0) return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object') return Object.keys(value).length === 0;
  return false;
}

/**
 * True when every field `desired` sets has the same value in `live` (see the rules above).
 * Returns the path of the first difference, or undefined when there is none.
 */
export function firstDifference(desired: unknown, live: unknown, path = ''): string | undefined {
  if (desired === undefined) return undefined;
  if (isEmpty(desired) && isEmpty(live)) return undefined;
  if (Array.isArray(desired)) {
    if (!Array.isArray(live) || live.length !== desired.length) return path || '/';
    for (let i = 0; i < desired.length; i++) {
      const found = firstDifference(desired[i], live[i], `${path}/${i}`);
      if (found) return found;
    }
    return undefined;
  }
  if (desired !== null && typeof desired === 'object') {
    if (live === null || typeof live !== 'object' || Array.isArray(live)) return path || '/';
    for (const [key, value] of Object.entries(desired)) {
      const found = firstDifference(value, (live as Record<string, unknown>)[key], `${path}/${key}`);
      if (found) return found;
    }
    return undefined;
  }
  if (desired === live) return undefined;
  if (typeof desired === 'string' && typeof live === 'string') {
    const a = quantityValue(desired);
    const b = quantityValue(live);
    if (a !== undefined && b !== undefined && Math.abs(a - b) <= Math.abs(a) * 1e-12) return undefined;
  }
  return path || '/';
}

/** Why `live` has to be (re-)applied to become `desired`, or undefined when it need not be. */
export function driftOf(desired: KubernetesObject, live: KubernetesObject | undefined): string | undefined {
  if (!live) return 'missing';
  if (live.metadata?.deletionTimestamp) return 'being deleted';
  const { apiVersion: _a, kind: _k, ...wire } = toWire(desired) as KubernetesObject;
  return firstDifference(wire, live);
}

/** Server-side applies the object unless the live one already has every desired field. */
export async function applyIfDrifted(
  client: KubeClient,
  reader: ObjectReader,
  object: KubernetesObject,
): Promise<{ outcome: ApplyOutcome; live: KubernetesObject }> {
  const { apiVersion, kind, metadata } = object;
  const live = await reader.get(apiVersion!, kind!, metadata!.namespace, metadata!.name!);
  if (live && driftOf(object, live) === undefined) return { outcome: 'unchanged', live };
  let applied: KubernetesObject | undefined;
  try {
    applied = await client.apply(object);
  } catch (error) {
    // Invalid as merged: a hand edit's list item (owned by its field manager, so the apply
    // keeps it) clashes with the desired one, e.g. two Service ports both named http.
    if (!live || !(error instanceof KubeApiError) || error.status !== 422) throw error;
  }
  if (applied && driftOf(object, applied) === undefined) return { outcome: 'applied', live: applied };
  // Server-side apply never removes what another manager owns, so a list item a hand edit put
  // there (a changed Service port is a new item) stays. A merge patch replaces every list the
  // desired manifest sets, which is what putting the child back means.
  const { apiVersion: _a, kind: _k, ...wire } = toWire(object) as KubernetesObject;
  const patched = await client.mergePatch(apiVersion!, kind!, metadata!.namespace, metadata!.name!, wire);
  return { outcome: 'applied', live: patched };
}

/** Creates the object when it does not exist; never updates one that does. */
export async function createIfMissing<T extends KubernetesObject>(
  client: KubeClient,
  reader: ObjectReader,
  object: T,
): Promise<{ created: boolean; live: T }> {
  const { apiVersion, kind, metadata } = object;
  const live = await reader.get<T>(apiVersion!, kind!, metadata!.namespace, metadata!.name!);
  if (live) return { created: false, live };
  try {
    return { created: true, live: await client.create(toWire(object) as T) };
  } catch (error) {
    // Another operator replica (a leader that just lost its lease) created it first, or the
    // cache had not seen it yet: read it from the API server.
    if (!isAlreadyExists(error)) throw error;
    const existing = await client.get<T>(apiVersion!, kind!, metadata!.namespace, metadata!.name!);
    if (!existing) throw error;
    return { created: false, live: existing };
  }
}

/** Runs `work` on every item with at most `limit` at once; rejects with the first failure after all settled. */
export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const item = items[next++]!;
        try {
          await work(item);
        } catch (error) {
          errors.push(error);
        }
      }
    }),
  );
  if (errors.length > 0) throw errors[0];
}
