import { CoreV1Api } from '@kubernetes/client-node';
import { expect, it } from 'vitest';
import { createTestNamespace, TEST_NAMESPACE_LABEL } from './namespaces.ts';
import { useControlPlane } from './shared-control-plane.ts';

const { kubeConfig: kc } = useControlPlane();
const core = kc.makeApiClient(CoreV1Api);

it('makes a new, labelled namespace with a unique name per call', async () => {
  const [a, b] = await Promise.all([createTestNamespace(kc, 'same'), createTestNamespace(kc, 'same')]);
  expect(a.name).toMatch(/^same-[a-z0-9]{5}$/);
  expect(b.name).not.toBe(a.name);
  const read = await core.readNamespace({ name: a.name });
  expect(read.metadata?.labels?.[TEST_NAMESPACE_LABEL]).toBe('true');
  await Promise.all([a.delete(), b.delete()]);
});

it('turns any prefix into a valid namespace name', async () => {
  const ns = await createTestNamespace(kc, `--My_Test.File ${'x'.repeat(80)}`);
  expect(ns.name).toMatch(/^my-test-file-x+-[a-z0-9]{5}$/);
  expect(ns.name.length).toBeLessThanOrEqual(63);
  await ns.delete();
});

it('delete() starts deletion and tolerates a namespace already gone', async () => {
  const ns = await createTestNamespace(kc, 'short-lived');
  await ns.delete();
  const read = await core.readNamespace({ name: ns.name });
  // Terminating forever: the namespace controller that would empty it is not running.
  expect(read.status?.phase).toBe('Terminating');
  await ns.delete();
});
