// The operator against a real kube-apiserver, level-triggered: hand edits of what the
// operator owns are put back within 2 s, a deleted child comes back, a reconcile of an
// unchanged tenant costs no write and no read of a child, and two replicas hand over mid-way
// through a batch of tenants without fighting over their writes.
import { randomBytes } from 'node:crypto';
import type {
  KubernetesObject,
  V1ConfigMap,
  V1Deployment,
  V1Job,
  V1NetworkPolicy,
  V1Service,
} from '@kubernetes/client-node';
import {
  completeJob,
  createTestNamespace,
  installCrds,
  kubeRequestOk,
  type TestNamespace,
  useControlPlane,
} from '@switchboard/envtest';
import { createMetricsRegistry } from '@switchboard/telemetry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, KIND, type WhatsAppTenant } from './api/v1alpha1/index.ts';
import { KubeClient } from './kube/kube-client.ts';
import { SwitchboardOperator } from './operator.ts';
import { operatorConfigFixture } from './testing/fixtures.ts';

const { kubeConfig } = useControlPlane();
const DATABASE_SECRET = 'tenant-db';
let ns: TestNamespace;
let admin: KubeClient;
const operators: SwitchboardOperator[] = [];

function startOperator(identity: string, leaseName: string, namespace: string): SwitchboardOperator {
  const operator = new SwitchboardOperator({
    kubeConfig,
    config: operatorConfigFixture(),
    watchNamespaces: [namespace],
    // Short timings so a takeover fits in a test; the defaults are client-go's 15/10/2 s.
    leaderElection: {
      namespace,
      name: leaseName,
      identity,
      leaseDurationMs: 3000,
      renewDeadlineMs: 2000,
      retryPeriodMs: 400,
    },
    metrics: createMetricsRegistry({ service: 'switchboard-operator', collectDefaultMetrics: false }),
    concurrency: 4,
    metricsPort: 0,
    healthPort: 0,
  });
  operators.push(operator);
  return operator;
}

/** Polls `probe` every 50 ms until it returns something truthy; fails after `timeoutMs`. */
async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function applyTenant(namespace: string, name: string): Promise<void> {
  await kubeRequestOk(kubeConfig, {
    method: 'PATCH',
    path: `/apis/switchboard.dev/v1alpha1/namespaces/${namespace}/whatsapptenants/${name}?fieldManager=platform-team`,
    contentType: 'application/apply-patch+yaml',
    body: {
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: { name, namespace },
      spec: {
        sessions: [{ name: 'support', channel: 'baileys' }],
        database: { mode: 'external', external: { secretRef: { name: DATABASE_SECRET } } },
      },
    },
  });
}

async function createDatabaseSecret(namespace: string): Promise<void> {
  await admin.create({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: DATABASE_SECRET, namespace },
    stringData: {
      ownerUrl: 'postgres://owner:test@127.0.0.1:1/tenant',
      appUrl: 'postgres://app:test@127.0.0.1:1/tenant',
      appRole: 'app',
    },
  } as KubernetesObject);
}

/** A hand edit as kubectl makes one: a merge patch under another field manager. */
async function handEdit(apiVersion: string, kind: string, name: string, patch: unknown): Promise<void> {
  const kubectl = new KubeClient({ kubeConfig, fieldManager: 'kubectl-edit' });
  try {
    await kubectl.mergePatch(apiVersion, kind, ns.name, name, patch);
  } finally {
    kubectl.close();
  }
}

/** Milliseconds until `probe` holds, failing past `boundMs`. */
async function restoredWithin(what: string, boundMs: number, probe: () => Promise<boolean>): Promise<number> {
  const startedAt = Date.now();
  await until(what, async () => (await probe()) || undefined, boundMs);
  return Date.now() - startedAt;
}

beforeAll(async () => {
  await installCrds(kubeConfig, 'crds');
  ns = await createTestNamespace(kubeConfig, 'operator-drift');
  admin = new KubeClient({ kubeConfig, fieldManager: 'test' });
  await createDatabaseSecret(ns.name);
});

afterAll(async () => {
  await Promise.all(operators.map((operator) => operator.stop()));
  admin?.close();
  await ns?.delete();
});

describe('drift', () => {
  let operator: SwitchboardOperator;

  beforeAll(async () => {
    operator = startOperator('drift', `drift-${randomBytes(3).toString('hex')}`, ns.name);
    await operator.start();
    await until('the operator to lead', async () => operator.isLeader());
    await applyTenant(ns.name, 'acme');
    const job = await until(
      'the migration Job',
      async () => (await admin.list<V1Job>('batch/v1', 'Job', ns.name))[0],
    );
    await completeJob(kubeConfig, { namespace: ns.name, name: job.metadata!.name! });
    await until('the worker Deployment', () =>
      admin.get<V1Deployment>('apps/v1', 'Deployment', ns.name, 'acme-worker'),
    );
    await until('a status after the rollout', async () => {
      const tenant = await admin.get<WhatsAppTenant>(API_VERSION, KIND, ns.name, 'acme');
      return tenant?.status?.conditions?.find((c) => c.type === 'MigrationsApplied')?.status === 'True';
    });
  });

  it("puts a Deployment's image back within 2 s", async () => {
    const before = await admin.get<V1Deployment>('apps/v1', 'Deployment', ns.name, 'acme-api');
    const image = before!.spec!.template.spec!.containers[0]!.image!;
    await handEdit('apps/v1', 'Deployment', 'acme-api', {
      spec: { template: { spec: { containers: [{ name: 'api', image: 'example.com/not-this:1' }] } } },
    });
    await restoredWithin('the image', 2000, async () => {
      const live = await admin.get<V1Deployment>('apps/v1', 'Deployment', ns.name, 'acme-api');
      return live?.spec?.template.spec?.containers[0]?.image === image;
    });
  });

  it("puts a Service's ports back within 2 s", async () => {
    const before = await admin.get<V1Service>('v1', 'Service', ns.name, 'acme-api');
    const ports = before!.spec!.ports!.map((p) => p.port);
    await handEdit('v1', 'Service', 'acme-api', {
      spec: { ports: [{ name: 'http', port: 9999, targetPort: 'http', protocol: 'TCP' }] },
    });
    const edited = await admin.get<V1Service>('v1', 'Service', ns.name, 'acme-api');
    expect(edited?.spec?.ports?.map((p) => p.port)).not.toEqual(ports);
    await restoredWithin('the ports', 2000, async () => {
      const live = await admin.get<V1Service>('v1', 'Service', ns.name, 'acme-api');
      return JSON.stringify(live?.spec?.ports?.map((p) => p.port)) === JSON.stringify(ports);
    });
  });

  it("puts a ConfigMap's data back within 2 s", async () => {
    const before = await admin.get<V1ConfigMap>('v1', 'ConfigMap', ns.name, 'acme-config');
    const [key, value] = Object.entries(before!.data!)[0]!;
    await handEdit('v1', 'ConfigMap', 'acme-config', { data: { [key]: `${value}-edited` } });
    await restoredWithin('the data', 2000, async () => {
      const live = await admin.get<V1ConfigMap>('v1', 'ConfigMap', ns.name, 'acme-config');
      return live?.data?.[key] === value;
    });
  });

  it("puts a NetworkPolicy's rules back within 2 s", async () => {
    const policies = await admin.list<V1NetworkPolicy>('networking.k8s.io/v1', 'NetworkPolicy', ns.name);
    const policy = policies.find((p) => (p.spec?.ingress?.length ?? 0) > 0)!;
    const name = policy.metadata!.name!;
    const rules = JSON.stringify(policy.spec!.ingress);
    await handEdit('networking.k8s.io/v1', 'NetworkPolicy', name, { spec: { ingress: [] } });
    await restoredWithin('the rules', 2000, async () => {
      const live = await admin.get<V1NetworkPolicy>('networking.k8s.io/v1', 'NetworkPolicy', ns.name, name);
      return JSON.stringify(live?.spec?.ingress) === rules;
    });
  });

  it('recreates a deleted child within 2 s', async () => {
    const before = await admin.get<V1Service>('v1', 'Service', ns.name, 'acme-worker');
    expect(await admin.delete('v1', 'Service', ns.name, 'acme-worker')).toBe(true);
    await restoredWithin('the Service', 2000, async () => {
      const live = await admin.get<V1Service>('v1', 'Service', ns.name, 'acme-worker');
      return live !== undefined && live.metadata?.uid !== before?.metadata?.uid;
    });
  });

  it('reconciles an unchanged tenant with no write and no read of a child', async () => {
    // Settle: the corrections above are done when the queue is empty and nothing is in flight.
    const idle = () => operator.controllerQueueIdle();
    await until('the queue to be idle', async () => idle());
    const reconcilesBefore = operator.reconcileCount();
    operator.client.resetCounts();
    // A change the operator does not own (a label another tool adds) enqueues the tenant.
    await handEdit('v1', 'ConfigMap', 'acme-config', { metadata: { labels: { 'example.com/team': 'a' } } });
    await until('the reconcile', async () => operator.reconcileCount() > reconcilesBefore && idle());
    expect(operator.client.writes, JSON.stringify(operator.client.requests)).toBe(0);
    // One read per reconcile: the tenant's own database Secret, which no informer holds.
    expect(operator.client.requests.get).toBeLessThanOrEqual(operator.reconcileCount() - reconcilesBefore);
    expect(operator.client.requests.list).toBe(0);
  });
});

describe('two replicas', () => {
  it('hand over mid-way through 20 tenants: the standby takes over within the lease and every tenant converges, with no write fight', async () => {
    const space = await createTestNamespace(kubeConfig, 'operator-failover');
    try {
      await createDatabaseSecret(space.name);
      const lease = `failover-${randomBytes(3).toString('hex')}`;
      const a = startOperator('replica-a', lease, space.name);
      const b = startOperator('replica-b', lease, space.name);
      await Promise.all([a.start(), b.start()]);
      const [leader, standby] = await until('a leader', async () =>
        a.isLeader() ? [a, b] : b.isLeader() ? [b, a] : undefined,
      );
      const names = Array.from({ length: 20 }, (_, i) => `t${String(i).padStart(2, '0')}`);
      await Promise.all(names.map((name) => applyTenant(space.name, name)));
      const withStatus = async () =>
        (await admin.list<WhatsAppTenant>(API_VERSION, KIND, space.name)).filter((t) => t.status?.phase)
          .length;
      // Mid-way: some tenants reconciled, not all (the leader is stopped before it can finish).
      await until('a few tenants reconciled', async () => (await withStatus()) >= 3);
      // The crash: the leader drains its reconciles in flight (renewing meanwhile), then stops
      // renewing without releasing the Lease.
      await leader.stop({ release: false });
      const crashedAt = Date.now();
      const leaderWritesAtCrash = leader.client.writes;
      await until('the standby to lead', async () => standby.isLeader(), 10_000);
      // Lease 3 s + one retry period, with slack for a loaded machine.
      expect(Date.now() - crashedAt).toBeLessThan(3000 + 400 + 2500);

      await until(
        'every tenant converged',
        async () => {
          const tenants = await admin.list<WhatsAppTenant>(API_VERSION, KIND, space.name);
          const converged = tenants.filter(
            (t) =>
              t.status?.observedGeneration === t.metadata.generation && t.status?.phase === 'Provisioning',
          );
          return converged.length === names.length;
        },
        90_000,
      );
      const jobs = await admin.list<V1Job>('batch/v1', 'Job', space.name);
      expect(jobs).toHaveLength(names.length);
      // No write fight: the stopped leader wrote nothing more, and neither replica got a
      // conflict (409) from the API server: no lost create race, no failed precondition.
      expect(leader.client.writes).toBe(leaderWritesAtCrash);
      expect(leader.client.conflicts + standby.client.conflicts).toBe(0);
      // Every child has one field manager for what the operator applies: the operator's.
      const configMaps = await admin.list<V1ConfigMap>('v1', 'ConfigMap', space.name);
      for (const configMap of configMaps.filter((c) => c.metadata?.name?.endsWith('-config'))) {
        const managers = new Set((configMap.metadata?.managedFields ?? []).map((f) => f.manager));
        expect([...managers]).toEqual(['switchboard-operator']);
      }
    } finally {
      await space.delete();
    }
  }, 120_000);
});
