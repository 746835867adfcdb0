/**
 * The benchmark's three measurements (bench/operator/run.ts): one operator replica converging N
 * tenants, two replicas with the leader killed mid-way, and the plain server-side-apply baseline.
 */
import { randomBytes } from 'node:crypto';
import type { KubernetesObject, V1Job } from '@kubernetes/client-node';
import { type ControlPlane, createTestNamespace } from '@switchboard/envtest';
import { createMetricsRegistry } from '@switchboard/telemetry';
import { API_VERSION, KIND, type WhatsAppTenant } from '../../operator/src/api/v1alpha1/index.ts';
import { KubeClient, toWire } from '../../operator/src/kube/kube-client.ts';
import { FIELD_MANAGER, SwitchboardOperator } from '../../operator/src/operator.ts';
import type { Informer } from '../../operator/src/runtime/index.ts';
import { desiredChildren } from '../../operator/src/specs/desired-children.ts';
import { buildGeneratedSecret, newGeneratedSecretValues } from '../../operator/src/specs/generated-secret.ts';
import { buildMigrationJob } from '../../operator/src/specs/migration-job.ts';
import { MANAGED_BY, TENANT_LABEL } from '../../operator/src/specs/names.ts';
import {
  ALL_VERBS,
  apiServerRequests,
  type BaselineRun,
  CONCURRENCY,
  config,
  cpuSample,
  cpuSince,
  createDatabaseSecret,
  IDLE_WINDOW_MS,
  inParallel,
  log,
  minus,
  minusRecord,
  type OperatorRun,
  PARALLELISM,
  POLL_MS,
  PROGRESS_MS,
  ProblemLogger,
  parsedTenant,
  reconcileCounts,
  SETTLED_PHASES,
  samplesBy,
  scrape,
  sleep,
  sum,
  TENANT_SPEC,
  type Track,
  tenantName,
  total,
  verifyChildren,
  waitFor,
  watchTenants,
} from './support.ts';

/** One operator run: N tenants, from the first apply to every tenant converged. */
export async function runOperator(
  plane: ControlPlane,
  n: number,
  repeat: number,
  track: Track,
): Promise<OperatorRun> {
  const { kubeConfig } = plane;
  const ns = await createTestNamespace(kubeConfig, `bench-op-${n}`);
  const bench = new KubeClient({ kubeConfig, fieldManager: 'bench' });
  let lostLeadership = false;
  const logger = new ProblemLogger();
  const operator = new SwitchboardOperator({
    kubeConfig,
    config,
    watchNamespaces: [ns.name],
    // client-go's 15 s lease and 10 s renew deadline, which an API server busy with 500 tenants
    // still meets (the tests' 3 s / 2 s might not). The Lease is new each run: the first try takes it.
    leaderElection: {
      namespace: ns.name,
      name: `bench-operator-${randomBytes(3).toString('hex')}`,
      identity: `bench-${n}-${repeat}`,
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 1_000,
    },
    metrics: createMetricsRegistry({ service: 'bench', collectDefaultMetrics: false }),
    concurrency: CONCURRENCY,
    logger,
    metricsPort: 0,
    healthPort: 0,
    onLostLeadership: () => {
      lostLeadership = true;
    },
  });
  const untrack = track(() => operator.stop());
  let tenantWatch: Informer<WhatsAppTenant> | undefined;
  try {
    await createDatabaseSecret(bench, ns.name);

    const ports = await operator.start();
    await waitFor('the operator to lead', async () => operator.isLeader(), 30_000);
    // Ready means every informer has synced: the controller's workers start right after.
    await waitFor(
      'the operator to be ready',
      async () => (await fetch(`http://127.0.0.1:${ports.healthPort}/readyz`)).status === 200,
      30_000,
    );

    const names = Array.from({ length: n }, (_, i) => tenantName(i));
    tenantWatch = await watchTenants(kubeConfig, ns.name);
    const watched = tenantWatch;
    const before = { ...operator.client.requests };
    const cpuBefore = cpuSample(plane);
    const startedAt = performance.now();
    await inParallel(names, PARALLELISM, async (name) => {
      await bench.apply({
        apiVersion: API_VERSION,
        kind: KIND,
        metadata: { name, namespace: ns.name },
        spec: TENANT_SPEC,
      } as KubernetesObject);
    });
    const appliedAt = performance.now();

    // Generous: about three times the slowest run measured (189 s for N=500, bench/README.md).
    const timeoutMs = 120_000 + n * 1_000;
    let polls = 0;
    // A long run says how far it got, so a stall shows while it happens, not at the timeout.
    let lastProgress = performance.now();
    const logProgress = async (settledCount: number) => {
      const text = await scrape(ports.metricsPort);
      const results = samplesBy(text, 'controller_runtime_reconcile_total', 'result');
      const depth = total(samplesBy(text, 'workqueue_depth', 'name'));
      log(
        `N=${n} #${repeat}: ${((performance.now() - startedAt) / 1000).toFixed(0)} s, ` +
          `${settledCount}/${n} settled, ${total(results)} reconciles ${JSON.stringify(results)}, ` +
          `queue depth ${depth}, ${sum(minus(operator.client.requests, before), ALL_VERBS)} requests`,
      );
    };
    await waitFor(
      `${n} tenants to converge`,
      async () => {
        if (lostLeadership) throw new Error('the operator lost its leadership during the run');
        polls += 1;
        const tenants = watched.list();
        if (tenants.length < n) return false;
        const settledCount = tenants.filter(
          (t) =>
            t.status?.observedGeneration === t.metadata.generation &&
            SETTLED_PHASES.has(t.status?.phase ?? ''),
        ).length;
        if (performance.now() - lastProgress > PROGRESS_MS) {
          lastProgress = performance.now();
          await logProgress(settledCount);
        }
        if (settledCount < n) return false;
        // Only now the Jobs: one more LIST, and only on the polls that could be the last.
        const jobs = await bench.list<V1Job>(
          'batch/v1',
          'Job',
          ns.name,
          `app.kubernetes.io/managed-by=${MANAGED_BY}`,
        );
        const withJob = new Set(jobs.map((job) => job.metadata?.labels?.[TENANT_LABEL]));
        return names.every((name) => withJob.has(name));
      },
      timeoutMs,
      POLL_MS,
    );
    const convergedAt = performance.now();
    const cpu = cpuSince(plane, cpuBefore);
    const requests = minus(operator.client.requests, before);
    const reconciles = await reconcileCounts(ports.metricsPort);
    const conflicts = operator.client.conflicts;

    // The idle fleet: what the operator and the API server do once everything has converged.
    // Settle first (the reconciles their own last events triggered), then count.
    await waitFor('the operator to go idle', async () => operator.controllerQueueIdle(), 60_000);
    operator.client.resetCounts();
    const reconcilesAtIdle = operator.reconcileCount();
    const serverBefore = await apiServerRequests(kubeConfig);
    const idleFrom = performance.now();
    await sleep(IDLE_WINDOW_MS);
    const idleSeconds = (performance.now() - idleFrom) / 1000;
    const serverIdle = minusRecord(await apiServerRequests(kubeConfig), serverBefore);
    const idleRequests = sum(operator.client.requests, ALL_VERBS);
    const idleReconciles = operator.reconcileCount() - reconcilesAtIdle;

    // The steady state: a change the operator does not own (a label on a child) reconciles a
    // converged tenant; what that reconcile sends is the cost of a pass with nothing to do.
    operator.client.resetCounts();
    const steadyBefore = operator.reconcileCount();
    await bench.mergePatch('v1', 'ConfigMap', ns.name, `${names[0]}-config`, {
      metadata: { labels: { 'bench.switchboard.dev/touched': 'yes' } },
    });
    await waitFor(
      'the steady-state reconcile',
      async () => operator.reconcileCount() > steadyBefore && operator.controllerQueueIdle(),
      30_000,
      20,
    );
    const steadyRequests = { ...operator.client.requests };
    const steadyReconciles = operator.reconcileCount() - steadyBefore;

    await verifyChildren(bench, ns.name, names);

    return {
      tenants: n,
      convergenceSeconds: (convergedAt - startedAt) / 1000,
      tenantApplySeconds: (appliedAt - startedAt) / 1000,
      polls,
      requests,
      requestsTotal: sum(requests, ALL_VERBS),
      writes: sum(requests, ['create', 'apply', 'patch']),
      reconciles,
      reconcilesTotal: total(reconciles),
      steadyState: {
        reads: sum(steadyRequests, ['get', 'list']),
        writes: sum(steadyRequests, ['create', 'apply', 'patch', 'delete']),
        requests: steadyRequests,
        reconciles: steadyReconciles,
      },
      idle: {
        seconds: idleSeconds,
        requests: idleRequests,
        requestsPerSecond: idleRequests / idleSeconds,
        reconciles: idleReconciles,
        apiServerRequests: serverIdle,
      },
      conflicts,
      lostLeadership,
      cpu,
      problems: Object.fromEntries(logger.problems),
    };
  } finally {
    await tenantWatch?.stop();
    await operator.stop();
    untrack();
    bench.close();
  }
}

/** Two replicas, the leader killed (Lease not released) once half the tenants have a status. */
export interface FailoverRun {
  tenants: number;
  leaseDurationSeconds: number;
  /** Tenants with a status when the leader was killed. */
  reconciledAtKill: number;
  /** From the kill to the standby holding the Lease. */
  takeoverSeconds: number;
  /** From the first tenant apply to every tenant converged. */
  convergenceSeconds: number;
  /** Writes the killed leader sent after it was stopped (0: nothing in flight leaked). */
  oldLeaderWritesAfterKill: number;
  newLeaderWrites: number;
  /** 409 answers to either replica: lost create races, failed preconditions, field-manager conflicts. */
  conflicts: number;
  /** Field managers other than the operator's on the tenants' ConfigMaps and Deployments' specs. */
  foreignManagers: string[];
}

export async function runFailover(plane: ControlPlane, n: number, track: Track): Promise<FailoverRun> {
  const { kubeConfig } = plane;
  const ns = await createTestNamespace(kubeConfig, `bench-failover-${n}`);
  const bench = new KubeClient({ kubeConfig, fieldManager: 'bench' });
  const leaseName = `bench-failover-${randomBytes(3).toString('hex')}`;
  const leaseDurationMs = 15_000;
  const replica = (identity: string) =>
    new SwitchboardOperator({
      kubeConfig,
      config,
      watchNamespaces: [ns.name],
      // client-go's timings, as the chart runs them.
      leaderElection: {
        namespace: ns.name,
        name: leaseName,
        identity,
        leaseDurationMs,
        renewDeadlineMs: 10_000,
        retryPeriodMs: 2_000,
      },
      metrics: createMetricsRegistry({ service: 'bench', collectDefaultMetrics: false }),
      concurrency: CONCURRENCY,
      logger: new ProblemLogger(),
      metricsPort: 0,
      healthPort: 0,
    });
  const a = replica('replica-a');
  const b = replica('replica-b');
  const untrack = track(async () => {
    await Promise.all([a.stop(), b.stop()]);
  });
  let tenantWatch: Informer<WhatsAppTenant> | undefined;
  try {
    await createDatabaseSecret(bench, ns.name);
    await Promise.all([a.start(), b.start()]);
    const [leader, standby] = await waitFor(
      'a leader',
      async () => (a.isLeader() ? [a, b] : b.isLeader() ? [b, a] : undefined),
      30_000,
    );
    const names = Array.from({ length: n }, (_, i) => tenantName(i));
    tenantWatch = await watchTenants(kubeConfig, ns.name);
    const watched = tenantWatch;
    const startedAt = performance.now();
    await inParallel(names, PARALLELISM, async (name) => {
      await bench.apply({
        apiVersion: API_VERSION,
        kind: KIND,
        metadata: { name, namespace: ns.name },
        spec: TENANT_SPEC,
      } as KubernetesObject);
    });
    const withStatus = async () => watched.list().filter((t) => t.status?.phase).length;
    // Mid-way: about half the tenants reconciled.
    const reconciledAtKill = await waitFor(
      'half the tenants reconciled',
      async () => {
        const count = await withStatus();
        return count >= n / 2 ? count : undefined;
      },
      120_000,
      50,
    );
    const killedAt = performance.now();
    await leader.stop({ release: false });
    const leaderWritesAtKill = leader.client.writes;
    await waitFor('the standby to lead', async () => standby.isLeader(), leaseDurationMs * 3, 100);
    const takeoverSeconds = (performance.now() - killedAt) / 1000;
    await waitFor(
      `${n} tenants to converge after the takeover`,
      async () => {
        const tenants = watched.list();
        return (
          tenants.filter(
            (t) =>
              t.status?.observedGeneration === t.metadata.generation &&
              SETTLED_PHASES.has(t.status?.phase ?? ''),
          ).length === n
        );
      },
      120_000 + n * 1_000,
      POLL_MS,
    );
    const convergenceSeconds = (performance.now() - startedAt) / 1000;
    await verifyChildren(bench, ns.name, names);
    const foreign = new Set<string>();
    for (const kind of ['ConfigMap', 'Service'] as const) {
      for (const item of await bench.list(
        'v1',
        kind,
        ns.name,
        `app.kubernetes.io/managed-by=${MANAGED_BY}`,
      )) {
        for (const entry of item.metadata?.managedFields ?? []) {
          if (entry.manager !== FIELD_MANAGER) foreign.add(`${kind}: ${entry.manager}`);
        }
      }
    }
    return {
      tenants: n,
      leaseDurationSeconds: leaseDurationMs / 1000,
      reconciledAtKill,
      takeoverSeconds,
      convergenceSeconds,
      oldLeaderWritesAfterKill: leader.client.writes - leaderWritesAtKill,
      newLeaderWrites: standby.client.writes,
      conflicts: leader.client.conflicts + standby.client.conflicts,
      foreignManagers: [...foreign],
    };
  } finally {
    await tenantWatch?.stop();
    await Promise.all([a.stop(), b.stop()]);
    untrack();
    bench.close();
  }
}

/**
 * The objects the baseline applies: the real children of renamed tenants, tenant after tenant
 * in the operator's order (everything it applies, the generated Secret and the migration Job,
 * with the applied-hash annotation it adds), until `count` objects. The operator's writes also
 * include smaller ones (status patches, Events), so this baseline errs on the heavy side.
 */
export function baselineObjects(
  namespace: string,
  count: number,
): { objects: KubernetesObject[]; perTenant: number } {
  const objects: KubernetesObject[] = [];
  let perTenant = 0;
  for (let i = 0; objects.length < count; i++) {
    const tenant = parsedTenant(`b${String(i).padStart(4, '0')}`, namespace);
    const secret = buildGeneratedSecret(tenant, newGeneratedSecretValues());
    const children = [
      secret,
      ...desiredChildren(tenant, config, { secretDigests: {}, serviceMonitorsAvailable: false }),
      buildMigrationJob(tenant, config),
    ].map((child) => toWire(child) as KubernetesObject);
    perTenant = children.length;
    objects.push(...children);
  }
  return { objects: objects.slice(0, count), perTenant };
}

/** The baseline: `count` plain server-side applies, same parallelism, fresh namespace. */
export async function runBaseline(plane: ControlPlane, n: number, count: number): Promise<BaselineRun> {
  const { kubeConfig } = plane;
  const ns = await createTestNamespace(kubeConfig, `bench-ssa-${n}`);
  const client = new KubeClient({ kubeConfig, fieldManager: 'bench-baseline' });
  try {
    // Built before the clock starts: the baseline times the API server, not the builders.
    const { objects, perTenant } = baselineObjects(ns.name, count);
    const cpuBefore = cpuSample(plane);
    const startedAt = performance.now();
    await inParallel(objects, PARALLELISM, async (object) => {
      await client.apply(object);
    });
    const seconds = (performance.now() - startedAt) / 1000;
    return {
      applies: objects.length,
      seconds,
      objectsPerTenant: perTenant,
      cpu: cpuSince(plane, cpuBefore),
    };
  } finally {
    client.close();
  }
}
