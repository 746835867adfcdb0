import { describe, expect, it } from 'vitest';
import { tenantFixture } from '../testing/fixtures.ts';
import { SpecError } from './errors.ts';
import {
  childNames,
  componentLabels,
  labelSelectorString,
  selectorLabels,
  statefulPodHost,
  TENANT_LABEL,
  tenantNamespace,
  workerSelector,
} from './names.ts';

const tenant = tenantFixture({}, { name: 'names-test' });

describe('names', () => {
  it('prefixes every child with the tenant name', () => {
    const names = childNames(tenant);
    expect(names.api).toBe('names-test-api');
    expect(names.sentinel).toBe('names-test-sentinel');
    for (const name of Object.values(names)) expect(name.startsWith('names-test-')).toBe(true);
    expect(new Set(Object.values(names)).size).toBe(Object.values(names).length);
  });

  it('keeps the longest pod name of a 40-character tenant a DNS label', () => {
    const long = tenantFixture({}, { name: `t${'x'.repeat(39)}` });
    // StatefulSet pods get a controller-revision-hash label of `<sts>-<10 chars>`, the tightest limit.
    expect(`${childNames(long).sentinel}-0123456789`.length).toBeLessThanOrEqual(63);
    expect(`${childNames(long).redisScripts}`.length).toBeLessThanOrEqual(63);
  });

  it('labels every object with the tenant, and selects by a subset of the labels', () => {
    const labels = componentLabels(tenant, 'worker');
    expect(labels).toMatchObject({
      [TENANT_LABEL]: 'names-test',
      'app.kubernetes.io/name': 'switchboard',
      'app.kubernetes.io/instance': 'names-test',
      'app.kubernetes.io/component': 'worker',
      'app.kubernetes.io/managed-by': 'switchboard-operator',
    });
    expect(labels).toMatchObject(selectorLabels(tenant, 'worker'));
  });

  it('writes selectors as sorted strings for status.selector', () => {
    expect(labelSelectorString({ b: '2', a: '1' })).toBe('a=1,b=2');
    expect(workerSelector(tenant)).toBe(
      'app.kubernetes.io/component=worker,app.kubernetes.io/instance=names-test,app.kubernetes.io/name=switchboard',
    );
  });

  it('names StatefulSet pods through their headless Service', () => {
    expect(statefulPodHost('acme-redis', 1, 'tenants', 'cluster.local')).toBe(
      'acme-redis-1.acme-redis.tenants.svc.cluster.local',
    );
  });

  it('refuses a tenant that was never stored', () => {
    const unstored = { ...tenant, metadata: { name: 'x' } };
    expect(() => tenantNamespace(unstored)).toThrow(SpecError);
  });
});
