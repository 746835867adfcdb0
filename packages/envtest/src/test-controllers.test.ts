// The controller stand-ins write what the real controllers write, and the real API server
// accepts it (its status validation for Jobs is strict since 1.31).
import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  type V1ObjectMeta,
  type V1OwnerReference,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeRequestOk } from './http.ts';
import { createTestNamespace, type TestNamespace } from './namespaces.ts';
import { useControlPlane } from './shared-control-plane.ts';
import {
  collectGarbage,
  completeJob,
  failJob,
  markDeploymentAvailable,
  markStatefulSetReady,
} from './test-controllers.ts';

const { kubeConfig: kc } = useControlPlane();
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const batch = kc.makeApiClient(BatchV1Api);

let ns: TestNamespace;
beforeAll(async () => {
  ns = await createTestNamespace(kc, 'test-controllers');
});
afterAll(async () => {
  await ns?.delete();
});

const podTemplate = (app: string) => ({
  metadata: { labels: { app } },
  spec: { containers: [{ name: 'main', image: 'registry.example/app:1' }] },
});

describe('workload status stand-ins', () => {
  it('marks a Deployment available for its current generation', async () => {
    await apps.createNamespacedDeployment({
      namespace: ns.name,
      body: {
        metadata: { name: 'web' },
        spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template: podTemplate('web') },
      },
    });
    const before = await apps.readNamespacedDeployment({ name: 'web', namespace: ns.name });
    expect(before.status?.availableReplicas).toBeUndefined(); // nothing else would ever set it

    await markDeploymentAvailable(kc, { namespace: ns.name, name: 'web' });
    const after = await apps.readNamespacedDeployment({ name: 'web', namespace: ns.name });
    expect(after.status).toMatchObject({
      observedGeneration: after.metadata?.generation,
      replicas: 3,
      readyReplicas: 3,
      availableReplicas: 3,
      updatedReplicas: 3,
    });
    expect(after.status?.conditions?.find((c) => c.type === 'Available')?.status).toBe('True');
  });

  it('marks a StatefulSet ready', async () => {
    await apps.createNamespacedStatefulSet({
      namespace: ns.name,
      body: {
        metadata: { name: 'redis' },
        spec: {
          replicas: 2,
          serviceName: 'redis',
          selector: { matchLabels: { app: 'redis' } },
          template: podTemplate('redis'),
        },
      },
    });
    await markStatefulSetReady(kc, { namespace: ns.name, name: 'redis' });
    const after = await apps.readNamespacedStatefulSet({ name: 'redis', namespace: ns.name });
    expect(after.status).toMatchObject({
      replicas: 2,
      readyReplicas: 2,
      availableReplicas: 2,
      updatedReplicas: 2,
    });
    expect(after.status?.currentRevision).toBe(after.status?.updateRevision);
  });

  const createJob = (name: string) =>
    batch.createNamespacedJob({
      namespace: ns.name,
      body: {
        metadata: { name },
        spec: {
          backoffLimit: 2,
          template: {
            spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'registry.example/job:1' }] },
          },
        },
      },
    });

  it('completes a Job', async () => {
    await createJob('migrate');
    await completeJob(kc, { namespace: ns.name, name: 'migrate' });
    const job = await batch.readNamespacedJob({ name: 'migrate', namespace: ns.name });
    expect(job.status?.succeeded).toBe(1);
    expect(job.status?.completionTime).toBeDefined();
    expect(job.status?.conditions?.find((c) => c.type === 'Complete')?.status).toBe('True');
  });

  it('fails a Job with the reason given', async () => {
    await createJob('doomed');
    await failJob(
      kc,
      { namespace: ns.name, name: 'doomed' },
      { reason: 'DeadlineExceeded', message: 'too slow' },
    );
    const job = await batch.readNamespacedJob({ name: 'doomed', namespace: ns.name });
    const failed = job.status?.conditions?.find((c) => c.type === 'Failed');
    expect(failed).toMatchObject({ status: 'True', reason: 'DeadlineExceeded', message: 'too slow' });
    expect(job.status?.failed).toBe(3);
    expect(job.status?.completionTime).toBeUndefined();
  });
});

describe('collectGarbage', () => {
  async function configMap(name: string, owners: V1ObjectMeta[] = []): Promise<V1ObjectMeta> {
    const ownerReferences: V1OwnerReference[] = owners.map((o) => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      name: o.name ?? '',
      uid: o.uid ?? '',
    }));
    const created = await core.createNamespacedConfigMap({
      namespace: ns.name,
      body: { metadata: { name, ownerReferences } },
    });
    return created.metadata ?? {};
  }

  async function exists(name: string): Promise<boolean> {
    const list = await core.listNamespacedConfigMap({ namespace: ns.name });
    return list.items.some((item) => item.metadata?.name === name);
  }

  it('deletes dependents whose owners are all gone, down the chain, and keeps the rest', async () => {
    const root = await configMap('gc-root');
    const other = await configMap('gc-other-owner');
    const child = await configMap('gc-child', [root]);
    await configMap('gc-grandchild', [child]);
    await configMap('gc-shared', [root, other]); // still has a live owner
    await configMap('gc-unowned');

    await core.deleteNamespacedConfigMap({ name: 'gc-root', namespace: ns.name });
    const collected = await collectGarbage(kc, { namespace: ns.name });

    expect(collected.map((c) => c.name).sort()).toEqual(['gc-child', 'gc-grandchild']);
    expect(await exists('gc-child')).toBe(false);
    expect(await exists('gc-grandchild')).toBe(false);
    expect(await exists('gc-shared')).toBe(true);
    expect(await exists('gc-unowned')).toBe(true);
    // A second pass has nothing left to do.
    expect(await collectGarbage(kc, { namespace: ns.name })).toEqual([]);
  });

  it('finishes a foreground deletion: dependents first, then the owner', async () => {
    const owner = await configMap('fg-owner');
    await configMap('fg-child', [owner]);
    await core.deleteNamespacedConfigMap({
      name: 'fg-owner',
      namespace: ns.name,
      propagationPolicy: 'Foreground',
    });
    expect(await exists('fg-owner')).toBe(true); // held by the foregroundDeletion finalizer

    await collectGarbage(kc, { namespace: ns.name });
    expect(await exists('fg-child')).toBe(false);
    expect(await exists('fg-owner')).toBe(false);
  });

  it('orphans dependents when the owner was deleted with propagationPolicy=Orphan', async () => {
    const owner = await configMap('orphan-owner');
    await configMap('orphan-child', [owner]);
    await core.deleteNamespacedConfigMap({
      name: 'orphan-owner',
      namespace: ns.name,
      propagationPolicy: 'Orphan',
    });

    await collectGarbage(kc, { namespace: ns.name });
    expect(await exists('orphan-owner')).toBe(false);
    const child = await kubeRequestOk<{ metadata: V1ObjectMeta }>(kc, {
      path: `/api/v1/namespaces/${ns.name}/configmaps/orphan-child`,
    });
    expect(child.metadata.ownerReferences ?? []).toEqual([]);
  });

  it('collects across kinds (a Deployment owned by a ConfigMap)', async () => {
    const owner = await configMap('kind-owner');
    await apps.createNamespacedDeployment({
      namespace: ns.name,
      body: {
        metadata: {
          name: 'owned-web',
          ownerReferences: [
            { apiVersion: 'v1', kind: 'ConfigMap', name: 'kind-owner', uid: owner.uid ?? '' },
          ],
        },
        spec: { selector: { matchLabels: { app: 'owned' } }, template: podTemplate('owned') },
      },
    });
    await core.deleteNamespacedConfigMap({ name: 'kind-owner', namespace: ns.name });
    const collected = await collectGarbage(kc, { namespace: ns.name });
    expect(collected).toEqual([
      { apiVersion: 'apps/v1', kind: 'Deployment', namespace: ns.name, name: 'owned-web' },
    ]);
  });
});
