import { describe, expect, it } from 'vitest';
import { tenantFixture } from '../testing/fixtures.ts';
import { buildApiService } from './api.ts';
import { buildServiceMonitor } from './service-monitor.ts';
import { buildWorkerService } from './worker.ts';

describe('buildServiceMonitor', () => {
  it('scrapes the metrics port of the API and worker Services', () => {
    const tenant = tenantFixture({});
    const monitor = buildServiceMonitor(tenant);
    expect(monitor?.spec.endpoints).toEqual([
      { port: 'metrics', path: '/metrics', interval: '30s', scrapeTimeout: '10s' },
    ]);
    const selects = (labels: Record<string, string> = {}) =>
      Object.entries(monitor?.spec.selector.matchLabels ?? {}).every(
        ([key, value]) => labels[key] === value,
      ) &&
      (monitor?.spec.selector.matchExpressions ?? []).every((e) => e.values?.includes(labels[e.key] ?? ''));
    expect(selects(buildApiService(tenant).metadata?.labels)).toBe(true);
    expect(selects(buildWorkerService(tenant).metadata?.labels)).toBe(true);
    for (const service of [buildApiService(tenant), buildWorkerService(tenant)]) {
      expect(service.spec?.ports?.some((port) => port.name === 'metrics')).toBe(true);
    }
  });

  it('is not built when the tenant turns it off', () => {
    expect(buildServiceMonitor(tenantFixture({ observability: { serviceMonitor: false } }))).toBeUndefined();
  });
});
