import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { V1Deployment, V1Job } from '@kubernetes/client-node';
import {
  completeJob,
  createTestNamespace,
  installCrds,
  kubeRequestOk,
  markDeploymentAvailable,
  markStatefulSetReady,
  type TestNamespace,
  useControlPlane,
} from '@switchboard/envtest';
import { createMetricsRegistry } from '@switchboard/telemetry';
import { adminDatabaseUrl } from '@switchboard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, KIND, type WhatsAppTenant } from './api/v1alpha1/index.ts';
import { HttpTenantApi } from './controller/tenant-api.ts';
import { KubeClient } from './kube/kube-client.ts';
import { SwitchboardOperator } from './operator.ts';
import { operatorConfigFixture } from './testing/fixtures.ts';

const { kubeConfig } = useControlPlane();
let ns: TestNamespace;
let admin: KubeClient;
const operators: SwitchboardOperator[] = [];
const leaseName = `switchboard-${randomBytes(3).toString('hex')}`;
const lost: string[] = [];

function startOperator(identity: string): SwitchboardOperator {
  const operator = new SwitchboardOperator({
    kubeConfig,
    config: operatorConfigFixture(),
    watchNamespaces: [ns.name],
    // Short timings so a takeover fits in a test; the defaults are client-go's 15/10/2 s.
    leaderElection: {
      namespace: ns.name,
      name: leaseName,
      identity,
      leaseDurationMs: 3000,
      renewDeadlineMs: 2000,
      retryPeriodMs: 400,
    },
    platformDatabaseUrl: async () => adminDatabaseUrl(),
    metrics: createMetricsRegistry({ service: 'switchboard-operator', collectDefaultMetrics: false }),
    concurrency: 2,
    metricsPort: 0,
    healthPort: 0,
    onLostLeadership: () => lost.push(identity),
    // No tenant API runs in this test: a refused connection (the status says StatusUnavailable).
    tenantApi: new HttpTenantApi({ baseUrl: () => 'http://127.0.0.1:9' }),
  });
  operators.push(operator);
  return operator;
}

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const tenantPath = (name: string) =>
  `/apis/switchboard.dev/v1alpha1/namespaces/${ns.name}/whatsapptenants/${name}`;
const getTenant = (name: string) => kubeRequestOk<WhatsAppTenant>(kubeConfig, { path: tenantPath(name) });

beforeAll(async () => {
  await installCrds(kubeConfig, 'crds');
  ns = await createTestNamespace(kubeConfig, 'operator-e2e');
  admin = new KubeClient({ kubeConfig, fieldManager: 'test' });
});

afterAll(async () => {
  await Promise.all(operators.map((operator) => operator.stop()));
  admin?.close();
  await ns?.delete();
});

describe('the operator', () => {
  let first: SwitchboardOperator;
  let second: SwitchboardOperator;
  let ports: { healthPort: number; metricsPort: number }[];

  it('elects one leader among two replicas, both ready', async () => {
    first = startOperator('operator-a');
    second = startOperator('operator-b');
    ports = await Promise.all([first.start(), second.start()]);
    await until('a leader', async () => first.isLeader() || second.isLeader());
    expect(first.isLeader() && second.isLeader()).toBe(false);
    for (const { healthPort } of ports) {
      await until(
        'readyz 200',
        async () => (await fetch(`http://127.0.0.1:${healthPort}/readyz`)).status === 200,
      );
    }
  });

  it('reacts to the tenant and to its children: migration done -> Deployments -> Ready, with no polling', async () => {
    await kubeRequestOk(kubeConfig, {
      method: 'PATCH',
      path: `${tenantPath('acme')}?fieldManager=platform-team`,
      contentType: 'application/apply-patch+yaml',
      body: {
        apiVersion: API_VERSION,
        kind: KIND,
        metadata: { name: 'acme', namespace: ns.name },
        spec: { sessions: [{ name: 'support', channel: 'baileys' }], database: { deletionPolicy: 'Delete' } },
      },
    });
    const job = await until(
      'the migration Job',
      async () => (await admin.list<V1Job>('batch/v1', 'Job', ns.name))[0],
    );
    expect(await admin.get('apps/v1', 'Deployment', ns.name, 'acme-api')).toBeUndefined();
    // The Job's status change is what triggers the next reconcile (the Job informer).
    await completeJob(kubeConfig, { namespace: ns.name, name: job.metadata!.name! });
    await until(
      'the API Deployment',
      () => admin.get<V1Deployment>('apps/v1', 'Deployment', ns.name, 'acme-api'),
      3_000, // well under the 30 s requeue while migrating: the Job informer's event did this
    );
    await until(
      'the worker Deployment',
      () => admin.get<V1Deployment>('apps/v1', 'Deployment', ns.name, 'acme-worker'),
      10_000,
    );
    for (const name of ['acme-redis', 'acme-sentinel'])
      await markStatefulSetReady(kubeConfig, { namespace: ns.name, name });
    for (const name of ['acme-api', 'acme-worker'])
      await markDeploymentAvailable(kubeConfig, { namespace: ns.name, name });
    const ready = await until(
      'Ready',
      async () => {
        const tenant = await getTenant('acme');
        return tenant.status?.phase === 'Ready' ? tenant : undefined;
      },
      10_000,
    );
    expect(ready.status?.workersSummary).toBe('2/2');

    const leader = first.isLeader() ? ports[0]! : ports[1]!;
    const metrics = await (await fetch(`http://127.0.0.1:${leader.metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/controller_runtime_reconcile_total\{[^}]*result="success"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/leader_election_master_status\{[^}]*\} 1/);
    // Tenants by phase, read from the informer cache at scrape time: the one tenant, Ready once
    // the cache has the status the API server just returned (its watch event may still be on the way).
    const phases = await until('the tenant Ready in the metrics', async () => {
      const text = await (await fetch(`http://127.0.0.1:${leader.metricsPort}/metrics`)).text();
      return /^switchboard_operator_managed_tenants\{[^}]*phase="Ready"[^}]*\} 1$/m.test(text) && text;
    });
    expect(phases).toMatch(/^switchboard_operator_managed_tenants\{[^}]*phase="Degraded"[^}]*\} 0$/m);
  });

  it('hands over when the leader dies without releasing: the standby takes over within the lease time', async () => {
    const [leader, standby] = first.isLeader() ? [first, second] : [second, first];
    const crashedAt = Date.now();
    await leader.stop({ release: false });
    await until('the standby to lead', async () => standby.isLeader(), 10_000);
    // Lease 3 s + one retry period, with slack for a loaded CI machine.
    expect(Date.now() - crashedAt).toBeLessThan(3000 + 400 + 2500);

    // The new leader reconciles: scaling through the scale subresource reaches the Deployment.
    await kubeRequestOk(kubeConfig, {
      method: 'PATCH',
      path: `${tenantPath('acme')}/scale`,
      contentType: 'application/merge-patch+json',
      body: { spec: { replicas: 3 } },
    });
    await until(
      'workers scaled to 3',
      async () => {
        const worker = await admin.get<V1Deployment>('apps/v1', 'Deployment', ns.name, 'acme-worker');
        return worker?.spec?.replicas === 3;
      },
      10_000,
    );
    expect(lost).toEqual([]);
  });

  it('removes its finalizer and drops the managed database when the tenant is deleted', async () => {
    await kubeRequestOk(kubeConfig, { method: 'DELETE', path: tenantPath('acme') });
    await until(
      'the tenant to be gone',
      async () => (await admin.get(API_VERSION, KIND, ns.name, 'acme')) === undefined,
      10_000,
    );
  });
});

describe('the operator process', () => {
  it('exits 1 naming the bad variables, and never prints their values', async () => {
    const server = fileURLToPath(new URL('./server.ts', import.meta.url));
    const result = await promisify(execFile)(process.execPath, [server], {
      env: {
        PATH: process.env.PATH,
        POD_NAMESPACE: 'Bad_Namespace',
        OPERATOR_NETWORK: 'secret-looking-value',
      },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('POD_NAME');
    expect(result.stderr).toContain('POD_NAMESPACE');
    expect(result.stderr).toContain('OPERATOR_API_IMAGE');
    expect(result.stderr).toContain('OPERATOR_NETWORK');
    expect(result.stderr).not.toContain('secret-looking-value');
  });
});
