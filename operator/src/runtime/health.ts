import { type HealthCheck, HealthServer, type HealthServerOptions } from '@switchboard/telemetry';

/** The probe server lives in @switchboard/telemetry (workers serve it too); re-exported for the operator. */
export { type HealthCheck, HealthServer, type HealthServerOptions };

/** A readiness check that passes once every informer has synced; the failure names the others. */
export function informersSynced(
  ...informers: readonly { readonly name: string; hasSynced(): boolean }[]
): HealthCheck {
  return () => {
    const waiting = informers.filter((i) => !i.hasSynced()).map((i) => i.name);
    if (waiting.length > 0) throw new Error(`informers not synced: ${waiting.join(', ')}`);
  };
}
