import { CoreV1Api, type V1ConfigMap, type V1Secret } from '@kubernetes/client-node';
import { createTestNamespace, useControlPlane } from '@switchboard/envtest';
import { createMetricsRegistry } from '@switchboard/telemetry';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { apiRequest } from './api-request.ts';
import { Controller, type ControllerOptions, ownerKeys, type ReconcileContext } from './controller.ts';
import { TerminalReconcileError } from './errors.ts';
import { Informer } from './informer.ts';
import { OperatorMetrics } from './metrics.ts';
import { ItemExponentialRateLimiter } from './rate-limiter.ts';
import { sleep, waitFor } from './testing/wait-for.ts';

const { kubeConfig } = useControlPlane();
const core = kubeConfig.makeApiClient(CoreV1Api);

let ns: Awaited<ReturnType<typeof createTestNamespace>>;
beforeAll(async () => {
  ns = await createTestNamespace(kubeConfig, 'controller');
});
afterAll(() => ns.delete());

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

let counter = 0;
function newLabel(): string {
  counter += 1;
  return `c${counter}-${Math.random().toString(36).slice(2, 7)}`;
}

function configMapInformer(label: string): Informer<V1ConfigMap> {
  const informer = new Informer<V1ConfigMap>({
    kubeConfig,
    apiVersion: 'v1',
    kind: 'ConfigMap',
    namespace: ns.name,
    labelSelector: `test=${label}`,
  });
  cleanups.push(() => informer.stop());
  return informer;
}

function startController(options: ControllerOptions<V1ConfigMap>): Controller<V1ConfigMap> {
  const controller = new Controller(options);
  cleanups.push(() => controller.stop(2000));
  return controller;
}

async function createConfigMap(name: string, label: string, data: Record<string, string> = { v: '0' }) {
  return core.createNamespacedConfigMap({
    namespace: ns.name,
    body: { metadata: { name, labels: { test: label } }, data },
  });
}

async function patchConfigMap(name: string, data: Record<string, string>) {
  await apiRequest(kubeConfig, {
    method: 'PATCH',
    path: `/api/v1/namespaces/${ns.name}/configmaps/${name}`,
    body: { data },
  });
}

/** The value of the series `name` whose labels include `labels`, from exposition text. */
function metricValue(text: string, name: string, labels: Record<string, string>): number {
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)\{(.*)\} (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries(
      [...match[2]!.matchAll(/([a-z_]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[3]);
  }
  return Number.NaN;
}

describe('Controller', () => {
  it('runs one reconcile per key at a time, different keys in parallel, and sees the latest state', async () => {
    const label = newLabel();
    await createConfigMap('a', label);
    await createConfigMap('b', label);
    const informer = configMapInformer(label);
    const inFlight = new Map<string, number>();
    let overall = 0;
    let maxPerKey = 0;
    let maxOverall = 0;
    const seen: Record<string, string[]> = {};
    const controller = startController({
      name: `serial-${label}`,
      informer,
      concurrency: 4,
      reconcile: async (key) => {
        const now = (inFlight.get(key) ?? 0) + 1;
        inFlight.set(key, now);
        overall += 1;
        maxPerKey = Math.max(maxPerKey, now);
        maxOverall = Math.max(maxOverall, overall);
        seen[key] = [...(seen[key] ?? []), informer.get(key)?.data?.v ?? 'gone'];
        await sleep(150);
        inFlight.set(key, (inFlight.get(key) ?? 1) - 1);
        overall -= 1;
      },
    });
    await controller.start();
    const keyA = `${ns.name}/a`;
    await waitFor('a to be reconciled', () => (seen[keyA]?.length ?? 0) >= 1);
    // A burst of changes to `a` while it is being reconciled.
    for (const v of ['1', '2', '3', '4', '5']) await patchConfigMap('a', { v });
    await waitFor('a to catch up with the last change', () => seen[keyA]?.at(-1) === '5', 10_000);
    await sleep(400); // nothing else may follow once idle
    expect(maxPerKey).toBe(1);
    expect(maxOverall).toBeGreaterThanOrEqual(2);
    // De-duplicated: five updates did not cause five more reconciles of `a` each waiting its turn.
    expect(seen[keyA]!.length).toBeLessThanOrEqual(6);
    expect(seen[`${ns.name}/b`]).toEqual(['0']);
  });

  it('requeues a failing key with per-key exponential backoff and forgets it after a success', async () => {
    const label = newLabel();
    await createConfigMap('flaky', label);
    const registry = createMetricsRegistry({ service: 'controller-test', collectDefaultMetrics: false });
    const metrics = new OperatorMetrics(registry);
    const attempts: { at: number; requeues: number }[] = [];
    const name = `backoff-${label}`;
    const controller = startController({
      name,
      informer: configMapInformer(label),
      metrics,
      rateLimiter: new ItemExponentialRateLimiter({ baseDelayMs: 100 }),
      reconcile: async (_key, _signal, context: ReconcileContext) => {
        attempts.push({ at: Date.now(), requeues: context.requeues });
        if (attempts.length <= 3) throw new Error(`transient failure ${attempts.length}`);
      },
    });
    await controller.start();
    await waitFor('four attempts', () => attempts.length >= 4, 5000);
    await sleep(300);
    expect(attempts).toHaveLength(4);
    expect(attempts.map((a) => a.requeues)).toEqual([0, 1, 2, 3]);
    const gaps = attempts.slice(1).map((a, i) => a.at - attempts[i]!.at);
    // 100 ms, 200 ms, 400 ms: each wait at least its doubled delay. (Upper bounds or ratios of the
    // measured gaps would test the machine's load, not the backoff: a busy machine stretches any
    // gap, never shortens one.)
    expect(gaps[0]).toBeGreaterThanOrEqual(95);
    expect(gaps[1]).toBeGreaterThanOrEqual(195);
    expect(gaps[2]).toBeGreaterThanOrEqual(395);
    expect(controller.queue.numRequeues(`${ns.name}/flaky`)).toBe(0);

    const text = await registry.metrics();
    const controllerLabel = { controller: name };
    expect(
      metricValue(text, 'controller_runtime_reconcile_total', { ...controllerLabel, result: 'error' }),
    ).toBe(3);
    expect(
      metricValue(text, 'controller_runtime_reconcile_total', { ...controllerLabel, result: 'success' }),
    ).toBe(1);
    expect(metricValue(text, 'controller_runtime_reconcile_errors_total', controllerLabel)).toBe(3);
    expect(metricValue(text, 'controller_runtime_reconcile_time_seconds_count', controllerLabel)).toBe(4);
    expect(metricValue(text, 'workqueue_retries_total', { name })).toBe(3);
    expect(metricValue(text, 'workqueue_adds_total', { name })).toBe(4);
    expect(metricValue(text, 'workqueue_depth', { name })).toBe(0);
  });

  it('runs again after requeueAfter without any event, and does not retry a terminal error', async () => {
    const label = newLabel();
    await createConfigMap('waiting', label);
    await createConfigMap('broken', label);
    const runs: Record<string, number[]> = {};
    const controller = startController({
      name: `after-${label}`,
      informer: configMapInformer(label),
      rateLimiter: new ItemExponentialRateLimiter({ baseDelayMs: 20 }),
      reconcile: async (key) => {
        runs[key] = [...(runs[key] ?? []), Date.now()];
        if (key.endsWith('/broken')) throw new TerminalReconcileError('the spec is invalid');
        if (runs[key]!.length === 1) return { requeueAfter: 400 };
        return undefined;
      },
    });
    await controller.start();
    const waiting = `${ns.name}/waiting`;
    await waitFor('the requeued run', () => (runs[waiting]?.length ?? 0) >= 2, 3000);
    const gap = runs[waiting]![1]! - runs[waiting]![0]!;
    expect(gap).toBeGreaterThanOrEqual(395);
    expect(gap).toBeLessThan(400 + 500);
    await sleep(500);
    expect(runs[waiting]).toHaveLength(2);
    // A terminal error is not retried (a plain error would have been, after 20 ms).
    expect(runs[`${ns.name}/broken`]).toHaveLength(1);
  });

  it('maps events on owned children to their controlling owner', async () => {
    const label = newLabel();
    const parent = await createConfigMap('parent', label);
    const secrets = new Informer<V1Secret>({
      kubeConfig,
      apiVersion: 'v1',
      kind: 'Secret',
      namespace: ns.name,
      labelSelector: `test=${label}`,
    });
    cleanups.push(() => secrets.stop());
    const reconciled: string[] = [];
    const controller = startController({
      name: `owner-${label}`,
      informer: configMapInformer(label),
      watches: [{ informer: secrets, mapToKeys: ownerKeys({ apiVersion: 'v1', kind: 'ConfigMap' }) }],
      reconcile: async (key) => {
        reconciled.push(key);
      },
    });
    await controller.start();
    const parentKey = `${ns.name}/parent`;
    await waitFor('the initial reconcile', () => reconciled.includes(parentKey));
    reconciled.length = 0;

    const ownerRef = (controllerRef: boolean, kind = 'ConfigMap') => ({
      apiVersion: 'v1',
      kind,
      name: 'parent',
      uid: parent.metadata!.uid!,
      controller: controllerRef,
    });
    const secret = (name: string, ownerReferences: ReturnType<typeof ownerRef>[]) =>
      core.createNamespacedSecret({
        namespace: ns.name,
        body: { metadata: { name, labels: { test: label }, ownerReferences }, stringData: { k: 'v' } },
      });
    // Not mapped: a non-controller reference, another kind, no owner at all.
    await secret('not-controller', [ownerRef(false)]);
    await secret('other-kind', [ownerRef(true, 'Service')]);
    await secret('orphan', []);
    await sleep(500);
    expect(reconciled).toEqual([]);

    await secret('child', [ownerRef(true)]);
    await waitFor('the owner to be reconciled for the new child', () => reconciled.includes(parentKey));
    reconciled.length = 0;
    await core.deleteNamespacedSecret({ name: 'child', namespace: ns.name });
    await waitFor('the owner to be reconciled for the deleted child', () => reconciled.includes(parentKey));
    expect(new Set(reconciled)).toEqual(new Set([parentKey]));

    expect(
      ownerKeys({ apiVersion: 'switchboard.dev/v1alpha1', kind: 'WhatsAppTenant' })({
        metadata: {
          namespace: 'acme',
          ownerReferences: [
            {
              apiVersion: 'switchboard.dev/v1',
              kind: 'WhatsAppTenant',
              name: 'acme',
              uid: 'u',
              controller: true,
            },
            {
              apiVersion: 'other.dev/v1alpha1',
              kind: 'WhatsAppTenant',
              name: 'x',
              uid: 'u2',
              controller: true,
            },
          ],
        },
      }),
    ).toEqual(['acme/acme']);
  });

  it('stops gracefully: the reconcile in flight finishes, queued keys are left', async () => {
    const label = newLabel();
    await createConfigMap('slow', label);
    let finished = 0;
    let aborted = false;
    const started: string[] = [];
    const controller = startController({
      name: `stop-${label}`,
      informer: configMapInformer(label),
      reconcile: async (key, signal) => {
        started.push(key);
        await sleep(400);
        aborted ||= signal.aborted;
        finished += 1;
      },
    });
    await controller.start();
    await waitFor('the slow reconcile to start', () => started.length === 1);
    controller.enqueue(`${ns.name}/queued-behind`);
    const stopAt = Date.now();
    await controller.stop();
    expect(Date.now() - stopAt).toBeGreaterThanOrEqual(300);
    expect(finished).toBe(1);
    expect(aborted).toBe(false);
    expect(started).toEqual([`${ns.name}/slow`]);
    expect(controller.isRunning()).toBe(false);
    // After stopping, nothing more is taken.
    controller.enqueue(`${ns.name}/slow`);
    await sleep(100);
    expect(started).toHaveLength(1);
  });

  it('aborts the signal of reconciles that outlive the stop timeout', async () => {
    const label = newLabel();
    await createConfigMap('stuck', label);
    let sawAbort = false;
    const controller = startController({
      name: `abort-${label}`,
      informer: configMapInformer(label),
      reconcile: (_key, signal) =>
        new Promise<void>((resolve) => {
          signal.addEventListener('abort', () => {
            sawAbort = true;
            resolve();
          });
        }),
    });
    await controller.start();
    await waitFor('the reconcile to be in flight', () => controller.queue.isProcessing(`${ns.name}/stuck`));
    await controller.stop(200);
    expect(sawAbort).toBe(true);
  });
});
