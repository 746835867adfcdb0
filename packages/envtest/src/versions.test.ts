// The committed Go modules must build exactly the versions versions.ts names.
import { readFile } from 'node:fs/promises';
import { expect, it } from 'vitest';
import { ETCD_VERSION, KUBERNETES_VERSION } from './versions.ts';

const goFile = (path: string) => readFile(new URL(`../go/${path}`, import.meta.url), 'utf8');

it('pins k8s.io/kubernetes and every staging module to the Kubernetes version', async () => {
  const mod = await goFile('kube-apiserver/go.mod');
  expect(mod).toMatch(new RegExp(`^(require )?\\s*k8s\\.io/kubernetes v${KUBERNETES_VERSION}$`, 'm'));
  const staging = `v0.${KUBERNETES_VERSION.split('.').slice(1).join('.')}`;
  const replaces = [...mod.matchAll(/^\s*(k8s\.io\/[\w-]+) => (k8s\.io\/[\w-]+) (\S+)$/gm)];
  expect(replaces.length).toBeGreaterThan(25);
  for (const [, from, to, version] of replaces) {
    expect(to).toBe(from);
    expect(version).toBe(staging);
  }
  expect(await goFile('kube-apiserver/go.sum')).toContain(`k8s.io/kubernetes v${KUBERNETES_VERSION} h1:`);
});

it('pins the etcd server module to the etcd version', async () => {
  expect(await goFile('etcd/go.mod')).toMatch(
    new RegExp(`^(require )?\\s*go\\.etcd\\.io/etcd/server/v3 v${ETCD_VERSION}$`, 'm'),
  );
  expect(await goFile('etcd/go.sum')).toContain(`go.etcd.io/etcd/server/v3 v${ETCD_VERSION} h1:`);
});
