import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { installCrds, readCrds } from './crds.ts';
import { kubeRequestOk } from './http.ts';
import { useControlPlane } from './shared-control-plane.ts';

const { kubeConfig: kc } = useControlPlane();
const fixture = fileURLToPath(
  new URL('./fixtures/crds/widgets.envtest.switchboard.dev.yaml', import.meta.url),
);
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'envtest-crds-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

// A CRD whose group is unique to this file, so it cannot collide with other test files.
const gadgets = (group: string) => `
apiVersion: v1
kind: ConfigMap
metadata: { name: not-a-crd }
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: { name: gadgets.${group} }
spec:
  group: ${group}
  scope: Cluster
  names: { plural: gadgets, singular: gadget, kind: Gadget, listKind: GadgetList }
  versions:
    - name: v1
      served: true
      storage: true
      schema: { openAPIV3Schema: { type: object, x-kubernetes-preserve-unknown-fields: true } }
`;

it('reads only CustomResourceDefinitions, from multi-document files', async () => {
  const file = join(dir, 'mixed.yaml');
  await writeFile(file, gadgets('mixed.envtest.switchboard.dev'));
  const crds = await readCrds([file, fixture]);
  expect(crds.map((c) => c.metadata?.name)).toEqual([
    'gadgets.mixed.envtest.switchboard.dev',
    'widgets.envtest.switchboard.dev',
  ]);
});

it('installs CRDs from a list of files and returns once their API is served', async () => {
  const group = `g${Date.now().toString(36)}.envtest.switchboard.dev`;
  const file = join(dir, 'gadgets.yaml');
  await writeFile(file, gadgets(group));
  expect(await installCrds(kc, [file])).toEqual([`gadgets.${group}`]);
  // Established means the new API answers right away.
  const list = await kubeRequestOk<{ kind: string }>(kc, { path: `/apis/${group}/v1/gadgets` });
  expect(list.kind).toBe('GadgetList');
});

it('refuses a path with no CRD in it', async () => {
  const file = join(dir, 'none.yaml');
  await writeFile(file, 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: x }\n');
  await expect(installCrds(kc, file)).rejects.toThrow('no CustomResourceDefinition found');
});
