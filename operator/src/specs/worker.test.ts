import { describe, expect, it } from 'vitest';
import { operatorConfigFixture, tenantFixture } from '../testing/fixtures.ts';
import { buildWorkerDeployment, buildWorkerPodDisruptionBudget, buildWorkerService } from './worker.ts';

const config = operatorConfigFixture();

describe('buildWorkerDeployment', () => {
  it('runs the spec replicas, and none when suspended', () => {
    expect(
      buildWorkerDeployment(tenantFixture({ workers: { replicas: 4 } }), config, { secretDigests: {} }).spec
        ?.replicas,
    ).toBe(4);
    const suspended = tenantFixture({ workers: { replicas: 4 }, suspend: true });
    expect(buildWorkerDeployment(suspended, config, { secretDigests: {} }).spec?.replicas).toBe(0);
  });

  it('surges one worker at a time and gives workers time to hand sessions over', () => {
    const worker = buildWorkerDeployment(tenantFixture({}), config, { secretDigests: {} });
    expect(worker.spec?.strategy).toEqual({
      type: 'RollingUpdate',
      rollingUpdate: { maxSurge: 1, maxUnavailable: 0 },
    });
    expect(worker.spec?.template.spec?.terminationGracePeriodSeconds).toBe(60);
  });

  it('identifies itself by pod name and reads worker settings, but not the JWT key', () => {
    const worker = buildWorkerDeployment(tenantFixture({}), config, { secretDigests: {} });
    const env = worker.spec?.template.spec?.containers[0]?.env ?? [];
    const names = env.map((variable) => variable.name);
    expect(env.find((variable) => variable.name === 'POD_NAME')?.valueFrom?.fieldRef?.fieldPath).toBe(
      'metadata.name',
    );
    expect(names).toContain('MAX_SESSIONS_PER_WORKER');
    expect(names).toContain('INTERNAL_TOKEN');
    expect(names).toContain('SEALING_KEYS');
    const byName = Object.fromEntries(env.map((variable) => [variable.name, variable]));
    expect(byName.REDIS_USERNAME?.value).toBe('worker');
    expect(byName.REDIS_PASSWORD?.valueFrom?.secretKeyRef?.key).toBe('REDIS_WORKER_PASSWORD');
    expect(names).not.toContain('JWT_SIGNING_KEY');
    expect(names).not.toContain('PORT');
  });

  it('reads an external Redis URL from the tenant’s Secret', () => {
    const tenant = tenantFixture({
      redis: { mode: 'external', external: { secretRef: { name: 'redis', key: 'url' } } },
    });
    const env =
      buildWorkerDeployment(tenant, config, { secretDigests: {} }).spec?.template.spec?.containers[0]?.env ??
      [];
    expect(env.find((variable) => variable.name === 'REDIS_URL')?.valueFrom?.secretKeyRef).toEqual({
      name: 'redis',
      key: 'url',
    });
    expect(env.map((variable) => variable.name)).not.toContain('REDIS_PASSWORD');
  });
});

describe('worker Service and PDB', () => {
  it('exposes metrics for the ServiceMonitor and allows one disruption at a time', () => {
    const tenant = tenantFixture({});
    const service = buildWorkerService(tenant);
    expect(service.spec).toMatchObject({ clusterIP: 'None', ports: [{ name: 'metrics', port: 9464 }] });
    const pdb = buildWorkerPodDisruptionBudget(tenant);
    expect(pdb.spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: service.spec?.selector } });
  });
});
