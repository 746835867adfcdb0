import { type MetricsRegistry, metricDefinitions } from '@switchboard/telemetry';
import { PHASES } from './api/v1alpha1/index.ts';

/** The phase label of a tenant the operator has not given a status yet. */
export const UNKNOWN_PHASE = 'Unknown';

/** Where the tenants are read from: the tenant informers' caches (`Informer.list()`). */
export type TenantSource = () => Iterable<{ status?: { phase?: string } }>;

/**
 * Registers `switchboard_operator_managed_tenants{phase}` on `registry`: the tenants in the
 * informer caches counted by `status.phase` each time Prometheus scrapes, so the gauge is exactly
 * what the caches hold (no counter to keep in step with adds, updates and deletes). Every phase
 * has a series, 0 when no tenant is in it, so an alert on `Degraded` never reads an absent series;
 * a tenant without a status yet is counted as `Unknown`. Every replica serves it from its own
 * warm caches, leader or not. Register it once per registry.
 */
export function registerTenantPhaseMetrics(registry: MetricsRegistry, tenants: TenantSource): void {
  registry.gauge({
    ...metricDefinitions.operatorTenants,
    collect() {
      const counts = new Map<string, number>([...PHASES, UNKNOWN_PHASE].map((phase) => [phase, 0]));
      for (const tenant of tenants()) {
        const phase = tenant.status?.phase ?? UNKNOWN_PHASE;
        counts.set(phase, (counts.get(phase) ?? 0) + 1);
      }
      for (const [phase, count] of counts) this.set({ phase }, count);
    },
  });
}
