import { CoreV1Api, type V1ConfigMap } from '@kubernetes/client-node';
import { createTestNamespace, useControlPlane } from '@switchboard/envtest';
import { createMetricsRegistry, metricDefinitions } from '@switchboard/telemetry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Controller } from './controller.ts';
import { HealthServer, informersSynced } from './health.ts';
import { Informer } from './informer.ts';
import { OperatorMetrics } from './metrics.ts';
import { waitFor } from './testing/wait-for.ts';

const { kubeConfig } = useControlPlane();

let ns: Awaited<ReturnType<typeof createTestNamespace>>;
beforeAll(async () => {
  ns = await createTestNamespace(kubeConfig, 'health');
});
afterAll(() => ns.delete());

async function get(
  base: string,
  path: string,
  method = 'GET',
): Promise<{ status: number; text: string; type: string }> {
  const response = await fetch(`${base}${path}`, { method, signal: AbortSignal.timeout(5000) });
  return {
    status: response.status,
    text: await response.text(),
    type: response.headers.get('content-type') ?? '',
  };
}

describe('HealthServer', () => {
  it('answers 503 until the informers synced, then 200; serves the runtime metrics', async () => {
    const registry = createMetricsRegistry({ service: 'operator-test', collectDefaultMetrics: false });
    const metrics = new OperatorMetrics(registry);
    const informer = new Informer<V1ConfigMap>({
      kubeConfig,
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace: ns.name,
      metrics,
    });
    let release: () => void = () => {};
    const blocked = new Promise<void>((resolve) => {
      release = resolve;
    });
    const controller = new Controller<V1ConfigMap>({
      name: 'health-test',
      informer,
      metrics,
      // Holds the first reconcile so in-progress work shows in the metrics.
      reconcile: () => blocked,
    });
    let alive = true;
    const server = new HealthServer({
      host: '127.0.0.1',
      port: 0,
      metrics: registry,
      livenessChecks: { ping: () => alive },
      readinessChecks: { informers: informersSynced(informer) },
    });
    const { port } = await server.listen();
    const base = `http://127.0.0.1:${port}`;
    try {
      expect(port).toBeGreaterThan(0);
      expect(await get(base, '/healthz')).toMatchObject({ status: 200, text: 'ok\n' });
      const notReady = await get(base, '/readyz');
      expect(notReady.status).toBe(503);
      expect(notReady.text).toContain('[-]informers failed: informers not synced: ConfigMap');
      expect(notReady.text).toContain('readyz check failed');

      await kubeConfig.makeApiClient(CoreV1Api).createNamespacedConfigMap({
        namespace: ns.name,
        body: { metadata: { name: 'one' } },
      });
      await controller.start();
      expect(await get(base, '/readyz')).toMatchObject({ status: 200, text: 'ok\n' });
      expect((await get(base, '/readyz?verbose')).text).toBe('[+]informers ok\nreadyz check passed\n');

      metrics.leading('switchboard-operator', true);
      await waitFor('the reconcile to be in flight', () => controller.queue.isProcessing(`${ns.name}/one`));
      const scrape = await get(base, '/metrics');
      expect(scrape.status).toBe(200);
      expect(scrape.type).toMatch(/^text\/plain/);
      expect(scrape.text).toContain(
        'leader_election_master_status{name="switchboard-operator",service="operator-test"} 1',
      );
      expect(scrape.text).toContain(
        'controller_runtime_max_concurrent_reconciles{controller="health-test",service="operator-test"} 1',
      );
      expect(scrape.text).toContain(
        'controller_runtime_active_workers{controller="health-test",service="operator-test"} 1',
      );
      // Read at scrape time: the blocked reconcile counts as unfinished work.
      const longest = /^workqueue_longest_running_processor_seconds\{name="health-test"[^}]*\} (\S+)$/m.exec(
        scrape.text,
      );
      expect(Number(longest?.[1])).toBeGreaterThan(0);

      // Once the reconcile finished, every runtime metric has a series.
      release();
      await waitFor('the reconcile to finish', () => !controller.queue.isProcessing(`${ns.name}/one`));
      const after = (await get(base, '/metrics')).text;
      for (const definition of Object.values(metricDefinitions)) {
        if (!(definition.name.startsWith('switchboard_operator_') || 'stock' in definition)) continue;
        // Watch restarts appear only once a watch has restarted.
        if (definition === metricDefinitions.operatorInformerWatchRestartsTotal) continue;
        // Registered by the operator (tenant-metrics.ts, tested there), not by the runtime.
        if (definition === metricDefinitions.operatorTenants) continue;
        expect(after, definition.name).toContain(`# TYPE ${definition.name} ${definition.type}`);
        expect(after, definition.name).toMatch(
          new RegExp(`^${definition.name}(_bucket|_count|_sum)?\\{`, 'm'),
        );
      }

      alive = false;
      expect((await get(base, '/healthz')).status).toBe(503);
      expect((await get(base, '/nope')).status).toBe(404);
      expect((await get(base, '/readyz', 'POST')).status).toBe(405);
    } finally {
      release();
      await controller.stop(2000);
      await informer.stop();
      await server.close();
    }
  });
});
