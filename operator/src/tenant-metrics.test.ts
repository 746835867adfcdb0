// The tenants-by-phase gauge read from a real informer cache of WhatsAppTenants in envtest's
// kube-apiserver: it follows a tenant's creation, each status.phase the status subresource
// records, and its deletion, with every phase present at 0.
import type { KubernetesObject } from '@kubernetes/client-node';
import { createTestNamespace, installCrds, kubeRequestOk, useControlPlane } from '@switchboard/envtest';
import { createMetricsRegistry, type MetricsRegistry } from '@switchboard/telemetry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, KIND, PHASES } from './api/v1alpha1/index.ts';
import { Informer } from './runtime/index.ts';
import { waitFor } from './runtime/testing/wait-for.ts';
import { registerTenantPhaseMetrics, UNKNOWN_PHASE } from './tenant-metrics.ts';

const { kubeConfig } = useControlPlane();
let ns: Awaited<ReturnType<typeof createTestNamespace>>;
let informer: Informer<KubernetesObject>;
let registry: MetricsRegistry;

const tenantsPath = () => `/apis/switchboard.dev/v1alpha1/namespaces/${ns.name}/whatsapptenants`;

/** The gauge's value per phase, as a scrape shows it. */
async function phases(): Promise<Record<string, number>> {
  const text = await registry.metrics();
  const found: Record<string, number> = {};
  for (const match of text.matchAll(
    /^switchboard_operator_managed_tenants\{[^}]*phase="(\w+)"[^}]*\} (\S+)$/gm,
  ))
    found[match[1]!] = Number(match[2]);
  return found;
}

/** Every phase at 0 except those given. */
function only(counts: Record<string, number>): Record<string, number> {
  return { ...Object.fromEntries([...PHASES, UNKNOWN_PHASE].map((phase) => [phase, 0])), ...counts };
}

async function setPhase(name: string, phase: string): Promise<void> {
  await kubeRequestOk(kubeConfig, {
    method: 'PATCH',
    path: `${tenantsPath()}/${name}/status`,
    contentType: 'application/merge-patch+json',
    body: { status: { phase } },
  });
}

beforeAll(async () => {
  await installCrds(kubeConfig, 'crds');
  ns = await createTestNamespace(kubeConfig, 'tenant-metrics');
  registry = createMetricsRegistry({ service: 'operator-test', collectDefaultMetrics: false });
  informer = new Informer<KubernetesObject>({
    kubeConfig,
    apiVersion: API_VERSION,
    kind: KIND,
    namespace: ns.name,
  });
  registerTenantPhaseMetrics(registry, () => informer.list() as { status?: { phase?: string } }[]);
  informer.start();
  await waitFor('the informer to sync', () => informer.hasSynced());
});

afterAll(async () => {
  await informer?.stop();
  await ns?.delete();
});

describe('switchboard_operator_managed_tenants', () => {
  it('counts the cached tenants by status.phase at scrape time', async () => {
    // No tenant: every phase has its series, at 0.
    expect(await phases()).toEqual(only({}));

    for (const name of ['acme', 'globex'])
      await kubeRequestOk(kubeConfig, {
        method: 'POST',
        path: tenantsPath(),
        body: {
          apiVersion: API_VERSION,
          kind: KIND,
          metadata: { name },
          spec: { sessions: [{ name: 'support', channel: 'baileys' }] },
        },
      });
    await waitFor('both tenants cached', () => informer.list().length === 2);
    // No status yet.
    expect(await phases()).toEqual(only({ [UNKNOWN_PHASE]: 2 }));

    await setPhase('acme', 'Provisioning');
    await setPhase('globex', 'Ready');
    await waitFor(
      'the phases cached',
      async () => (await phases()).Ready === 1 && (await phases()).Provisioning === 1,
    );
    expect(await phases()).toEqual(only({ Provisioning: 1, Ready: 1 }));

    await setPhase('acme', 'Degraded');
    await waitFor('acme Degraded', async () => (await phases()).Degraded === 1);
    expect(await phases()).toEqual(only({ Degraded: 1, Ready: 1 }));

    await kubeRequestOk(kubeConfig, { method: 'DELETE', path: `${tenantsPath()}/globex` });
    await waitFor('globex gone', () => informer.list().length === 1);
    expect(await phases()).toEqual(only({ Degraded: 1 }));
  });
});
