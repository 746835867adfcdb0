// helm template + kubectl apply --server-side --dry-run=server against the shared API server:
// a chart is validated by a real API server (schemas, field validation, CEL), not schema files.
import { fileURLToPath } from 'node:url';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installCrds } from './crds.ts';
import { EnvtestError } from './errors.ts';
import { helmTemplateAndDryRun } from './helm.ts';
import { createTestNamespace, type TestNamespace } from './namespaces.ts';
import { useControlPlane } from './shared-control-plane.ts';

const { kubeConfig: kc, tools } = useControlPlane();
const chart = fileURLToPath(new URL('./fixtures/charts/demo', import.meta.url));
const crds = fileURLToPath(new URL('./fixtures/crds', import.meta.url));

let ns: TestNamespace;
beforeAll(async () => {
  ns = await createTestNamespace(kc, 'helm');
  await installCrds(kc, crds);
});
afterAll(async () => {
  await ns?.delete();
});

async function rejection(promise: Promise<unknown>): Promise<EnvtestError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EnvtestError);
  return error as EnvtestError;
}

describe('helmTemplateAndDryRun', () => {
  it('passes a valid chart and stores nothing', async () => {
    const result = await helmTemplateAndDryRun(kc, {
      chart,
      namespace: ns.name,
      releaseName: 'ok',
      values: { widget: { enabled: true } },
      tools,
    });
    expect(result.objectCount).toBe(3);
    expect(result.output).toContain('configmap/ok-settings serverside-applied (server dry run)');
    expect(result.output).toContain('deployment.apps/ok-web serverside-applied (server dry run)');
    expect(result.output).toContain(
      'widget.envtest.switchboard.dev/ok-widget serverside-applied (server dry run)',
    );
    const configMaps = await kc.makeApiClient(CoreV1Api).listNamespacedConfigMap({ namespace: ns.name });
    expect(configMaps.items.map((c) => c.metadata?.name)).not.toContain('ok-settings');
  });

  it('accepts objects the chart puts in another namespace, as helm install does, and counts only objects', async () => {
    const other = await createTestNamespace(kc, 'helm-elsewhere');
    try {
      const result = await helmTemplateAndDryRun(kc, {
        chart,
        namespace: ns.name,
        releaseName: 'spread',
        values: { elsewhere: other.name },
      });
      // configmap, deployment and the one elsewhere; the comment-only document is not counted.
      expect(result.objectCount).toBe(3);
      expect(result.output).toContain('spread-elsewhere');
    } finally {
      await other.delete();
    }
  });

  it("rejects a chart whose Deployment the API server finds invalid, with the server's message", async () => {
    const error = await rejection(
      helmTemplateAndDryRun(kc, {
        chart,
        namespace: ns.name,
        releaseName: 'bad',
        values: { containerName: 'Not_Valid' },
      }),
    );
    expect(error.code).toBe('DRY_RUN_REJECTED');
    expect(error.message).toContain('The Deployment "bad-web" is invalid');
    expect(error.message).toContain('spec.template.spec.containers[0].name: Invalid value: "Not_Valid"');
  });

  it('rejects a custom resource that breaks its CRD CEL rule', async () => {
    const error = await rejection(
      helmTemplateAndDryRun(kc, {
        chart,
        namespace: ns.name,
        releaseName: 'cel',
        values: { widget: { enabled: true, replicas: 1, minReplicas: 5 } },
      }),
    );
    expect(error.code).toBe('DRY_RUN_REJECTED');
    expect(error.message).toContain('minReplicas must not exceed replicas');
  });

  it('rejects a field of the wrong type (the server checks the schema)', async () => {
    const error = await rejection(
      helmTemplateAndDryRun(kc, {
        chart,
        namespace: ns.name,
        releaseName: 'typo',
        values: { replicas: 'two' },
      }),
    );
    expect(error.code).toBe('DRY_RUN_REJECTED');
    expect(error.message).toContain('Error from server');
    expect(error.message).toContain('.spec.replicas: expected numeric');
  });

  it('reports a chart that does not render', async () => {
    const error = await rejection(
      helmTemplateAndDryRun(kc, { chart: `${chart}-missing`, namespace: ns.name }),
    );
    expect(error.code).toBe('HELM_TEMPLATE_FAILED');
  });
});
