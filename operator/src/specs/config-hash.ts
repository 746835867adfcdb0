import { createHash } from 'node:crypto';
import { CONFIG_HASH_ANNOTATION } from './names.ts';

/**
 * The config-hash pattern (prometheus-operator, Strimzi): a pod reads some inputs that are not
 * part of its pod template (ConfigMap values through configMapKeyRef, Secret contents through
 * secretKeyRef), so changing them does not roll the pods by itself. Each builder hashes exactly
 * the inputs its pods read into an annotation on the pod template: a change to one of them
 * changes the template and rolls those pods, and a change to anything else rolls nothing.
 */

/** JSON with object keys sorted at every level, so equal inputs give equal text. */
export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, entry]) => entry !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, entry]) => `${JSON.stringify(key)}:${stableStringify(entry)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * SHA-256 of the stable JSON of `inputs`, first 16 hex digits: 64 bits tell changes apart with
 * no practical chance of collision and stay readable in `kubectl describe`.
 */
export function configHash(inputs: unknown): string {
  return createHash('sha256').update(stableStringify(inputs)).digest('hex').slice(0, 16);
}

/** The pod-template annotation for `inputs`. */
export function configHashAnnotation(inputs: unknown): Record<string, string> {
  return { [CONFIG_HASH_ANNOTATION]: configHash(inputs) };
}
