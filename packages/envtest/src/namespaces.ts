import type { KubeConfig } from '@kubernetes/client-node';
import { kubeRequest, kubeRequestOk } from './http.ts';

/** A namespace made for one test file or test. */
export interface TestNamespace {
  name: string;
  /**
   * Deletes the namespace. Without kube-controller-manager it stays Terminating (nothing
   * empties it), which is harmless: names are unique and the control plane is thrown away.
   */
  delete(): Promise<void>;
}

/** Label put on every namespace this helper creates, to find them when debugging a run. */
export const TEST_NAMESPACE_LABEL = 'envtest.switchboard.dev/test-namespace';

/**
 * Creates a namespace with a unique name starting with `prefix` (the API server picks the
 * suffix through generateName, so parallel test files never collide).
 */
export async function createTestNamespace(kc: KubeConfig, prefix: string): Promise<TestNamespace> {
  // A DNS label: lowercase alphanumerics and '-', at most 63 characters with the 5-character suffix.
  const cleaned =
    prefix
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+/, '')
      .slice(0, 52)
      .replace(/-+$/, '') || 'test';
  const created = await kubeRequestOk<{ metadata: { name: string } }>(kc, {
    method: 'POST',
    path: '/api/v1/namespaces',
    body: {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { generateName: `${cleaned}-`, labels: { [TEST_NAMESPACE_LABEL]: 'true' } },
    },
  });
  const name = created.metadata.name;
  return {
    name,
    async delete() {
      const response = await kubeRequest(kc, { method: 'DELETE', path: `/api/v1/namespaces/${name}` });
      if (response.status !== 200 && response.status !== 202 && response.status !== 404) {
        throw new Error(`deleting namespace ${name} failed with ${response.status}: ${response.text}`);
      }
    },
  };
}
