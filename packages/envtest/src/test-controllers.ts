// TEST-ONLY stand-ins for the controllers of kube-controller-manager, which the envtest control
// plane does not run (it is etcd plus kube-apiserver, nothing else). Without them a Deployment
// never becomes available, a Job never finishes and deleting an owner leaves its dependents.
// Tests call these at the point where the real controller would have acted, the way Strimzi's
// MockKube fakes the same transitions. They write only what the real controllers write (status
// subresources, deletions, finalizer removal) and go through the real API server, so its
// validation still applies. Never use them outside tests.
import type { KubeConfig } from '@kubernetes/client-node';
import { kubeRequest, kubeRequestOk } from './http.ts';

/** Names one namespaced object. */
export interface ObjectRef {
  namespace: string;
  name: string;
}

interface Meta {
  name: string;
  namespace?: string;
  uid: string;
  generation?: number;
  resourceVersion?: string;
  deletionTimestamp?: string;
  finalizers?: string[];
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string }[];
}

interface Workload {
  metadata: Meta;
  spec: { replicas?: number; completions?: number | null; backoffLimit?: number };
  status?: { startTime?: string };
}

const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

async function getObject(kc: KubeConfig, path: string): Promise<Workload> {
  return kubeRequestOk<Workload>(kc, { path });
}

async function patchStatus<T>(kc: KubeConfig, path: string, status: object): Promise<T> {
  return kubeRequestOk<T>(kc, {
    method: 'PATCH',
    path: `${path}/status`,
    contentType: 'application/merge-patch+json',
    body: { status },
  });
}

/**
 * TEST-ONLY: writes the status the Deployment controller writes once every replica of the
 * current generation is updated and available (Available=True, Progressing=True with reason
 * NewReplicaSetAvailable). Returns the updated Deployment.
 */
export async function markDeploymentAvailable<T = unknown>(kc: KubeConfig, ref: ObjectRef): Promise<T> {
  const path = `/apis/apps/v1/namespaces/${ref.namespace}/deployments/${ref.name}`;
  const deployment = await getObject(kc, path);
  const replicas = deployment.spec.replicas ?? 1;
  const time = now();
  return patchStatus<T>(kc, path, {
    observedGeneration: deployment.metadata.generation,
    replicas,
    updatedReplicas: replicas,
    readyReplicas: replicas,
    availableReplicas: replicas,
    unavailableReplicas: 0,
    conditions: [
      {
        type: 'Available',
        status: 'True',
        reason: 'MinimumReplicasAvailable',
        message: 'Deployment has minimum availability.',
        lastUpdateTime: time,
        lastTransitionTime: time,
      },
      {
        type: 'Progressing',
        status: 'True',
        reason: 'NewReplicaSetAvailable',
        message: `ReplicaSet "${ref.name}" has successfully progressed.`,
        lastUpdateTime: time,
        lastTransitionTime: time,
      },
    ],
  });
}

/**
 * TEST-ONLY: writes the status the StatefulSet controller writes once every replica of the
 * current revision is ready (ready, current, updated and available all equal spec.replicas).
 */
export async function markStatefulSetReady<T = unknown>(kc: KubeConfig, ref: ObjectRef): Promise<T> {
  const path = `/apis/apps/v1/namespaces/${ref.namespace}/statefulsets/${ref.name}`;
  const statefulSet = await getObject(kc, path);
  const replicas = statefulSet.spec.replicas ?? 1;
  // The controller names revisions after a ControllerRevision; any stable name serves here.
  const revision = `${ref.name}-envtest-${statefulSet.metadata.generation ?? 1}`;
  return patchStatus<T>(kc, path, {
    observedGeneration: statefulSet.metadata.generation,
    replicas,
    readyReplicas: replicas,
    currentReplicas: replicas,
    updatedReplicas: replicas,
    availableReplicas: replicas,
    currentRevision: revision,
    updateRevision: revision,
    collisionCount: 0,
  });
}

/**
 * TEST-ONLY: finishes a Job successfully as the Job controller would: succeeded = completions,
 * startTime and completionTime, and SuccessCriteriaMet then Complete (the API server rejects
 * Complete without SuccessCriteriaMet since Kubernetes 1.31).
 */
export async function completeJob<T = unknown>(kc: KubeConfig, ref: ObjectRef): Promise<T> {
  const path = `/apis/batch/v1/namespaces/${ref.namespace}/jobs/${ref.name}`;
  const job = await getObject(kc, path);
  const time = now();
  const condition = (type: string, reason: string, message: string) => ({
    type,
    status: 'True',
    reason,
    message,
    lastProbeTime: time,
    lastTransitionTime: time,
  });
  return patchStatus<T>(kc, path, {
    startTime: job.status?.startTime ?? time,
    completionTime: time,
    active: 0,
    ready: 0,
    terminating: 0,
    succeeded: job.spec.completions ?? 1,
    uncountedTerminatedPods: {},
    conditions: [
      condition('SuccessCriteriaMet', 'CompletionsReached', 'Reached expected number of succeeded pods'),
      condition('Complete', 'CompletionsReached', 'Reached expected number of succeeded pods'),
    ],
  });
}

/** Why a Job failed, for failJob. */
export interface FailJobOptions {
  /** Defaults to BackoffLimitExceeded, the reason the Job controller uses when pods keep failing. */
  reason?: string;
  message?: string;
}

/**
 * TEST-ONLY: fails a Job as the Job controller would: FailureTarget then Failed (the API server
 * requires both), failed = backoffLimit + 1, no completionTime.
 */
export async function failJob<T = unknown>(
  kc: KubeConfig,
  ref: ObjectRef,
  options: FailJobOptions = {},
): Promise<T> {
  const path = `/apis/batch/v1/namespaces/${ref.namespace}/jobs/${ref.name}`;
  const job = await getObject(kc, path);
  const time = now();
  const reason = options.reason ?? 'BackoffLimitExceeded';
  const message = options.message ?? 'Job has reached the specified backoff limit';
  const condition = (type: string) => ({
    type,
    status: 'True',
    reason,
    message,
    lastProbeTime: time,
    lastTransitionTime: time,
  });
  return patchStatus<T>(kc, path, {
    startTime: job.status?.startTime ?? time,
    active: 0,
    ready: 0,
    terminating: 0,
    failed: (job.spec.backoffLimit ?? 6) + 1,
    uncountedTerminatedPods: {},
    conditions: [condition('FailureTarget'), condition('Failed')],
  });
}

/** Names an object the garbage-collector stand-in deleted. */
export interface CollectedObject {
  apiVersion: string;
  kind: string;
  namespace: string | undefined;
  name: string;
}

/** Options for collectGarbage. */
export interface CollectGarbageOptions {
  /** Only collect dependents in this namespace (owners are still looked up everywhere). */
  namespace?: string;
}

interface ApiResource {
  name: string;
  namespaced: boolean;
  kind: string;
  verbs: string[];
}

interface ListedObject {
  apiVersion: string;
  kind: string;
  path: string;
  metadata: Meta;
}

interface Discovered {
  groupVersion: string;
  prefix: string;
  resource: ApiResource;
}

async function discoverResources(kc: KubeConfig): Promise<Discovered[]> {
  const groups = await kubeRequestOk<{ groups: { preferredVersion: { groupVersion: string } }[] }>(kc, {
    path: '/apis',
  });
  const versions = [
    { groupVersion: 'v1', prefix: '/api/v1' },
    ...groups.groups.map((g) => ({
      groupVersion: g.preferredVersion.groupVersion,
      prefix: `/apis/${g.preferredVersion.groupVersion}`,
    })),
  ];
  const lists = await Promise.all(
    versions.map(async (version) => {
      const list = await kubeRequestOk<{ resources: ApiResource[] }>(kc, { path: version.prefix });
      return list.resources
        .filter((r) => !r.name.includes('/') && r.verbs.includes('list') && r.verbs.includes('delete'))
        .map((resource) => ({ ...version, resource }));
    }),
  );
  return lists.flat();
}

// Everything the stand-in can see, keyed by uid: the same object served by two groups (core and
// events.k8s.io Events) is one entry, and owner references point at uids.
async function listEverything(
  kc: KubeConfig,
  resources: Discovered[],
  namespace: string | undefined,
): Promise<Map<string, ListedObject>> {
  const byUid = new Map<string, ListedObject>();
  await Promise.all(
    resources.map(async ({ groupVersion, prefix, resource }) => {
      const base =
        resource.namespaced && namespace
          ? `${prefix}/namespaces/${namespace}/${resource.name}`
          : `${prefix}/${resource.name}`;
      const list = await kubeRequest<{ items?: { metadata: Meta }[] }>(kc, { path: base });
      if (list.status !== 200) return; // e.g. a resource that lists only with a selector
      for (const item of list.body.items ?? []) {
        const ns = item.metadata.namespace;
        const path = ns
          ? `${prefix}/namespaces/${ns}/${resource.name}/${item.metadata.name}`
          : `${prefix}/${resource.name}/${item.metadata.name}`;
        byUid.set(item.metadata.uid, {
          apiVersion: groupVersion,
          kind: resource.kind,
          path,
          metadata: item.metadata,
        });
      }
    }),
  );
  return byUid;
}

async function removeFinalizer(kc: KubeConfig, object: ListedObject, finalizer: string): Promise<void> {
  await kubeRequest(kc, {
    method: 'PATCH',
    path: object.path,
    contentType: 'application/merge-patch+json',
    body: {
      metadata: {
        // resourceVersion makes this a compare-and-swap: a concurrent change makes it fail
        // (409) rather than overwrite someone else's finalizers; the next round retries.
        resourceVersion: object.metadata.resourceVersion,
        finalizers: (object.metadata.finalizers ?? []).filter((f) => f !== finalizer),
      },
    },
  });
}

/**
 * TEST-ONLY: one pass of the garbage collector, repeated until nothing changes: deletes every
 * object all of whose owners (by ownerReferences uid) are gone, so deletion cascades down a
 * chain of owners; for owners deleted with propagationPolicy=Foreground it deletes their
 * dependents and then removes the foregroundDeletion finalizer; for propagationPolicy=Orphan it
 * drops the owner reference from dependents and removes the orphan finalizer. Returns what it
 * deleted.
 */
export async function collectGarbage(
  kc: KubeConfig,
  options: CollectGarbageOptions = {},
): Promise<CollectedObject[]> {
  const resources = await discoverResources(kc);
  const collected: CollectedObject[] = [];
  // Each round removes at least one level of a cascade; 50 levels is far deeper than any test.
  for (let round = 0; round < 50; round++) {
    const objects = await listEverything(kc, resources, options.namespace);
    const inScope = (o: ListedObject) => !options.namespace || o.metadata.namespace === options.namespace;
    const dependentsOf = (uid: string) =>
      [...objects.values()].filter((o) => o.metadata.ownerReferences?.some((ref) => ref.uid === uid));
    const beingDeletedWith = (o: ListedObject | undefined, finalizer: string) =>
      o?.metadata.deletionTimestamp !== undefined && (o.metadata.finalizers ?? []).includes(finalizer);
    let changed = false;

    for (const owner of objects.values()) {
      if (!beingDeletedWith(owner, 'orphan')) continue;
      for (const dependent of dependentsOf(owner.metadata.uid)) {
        await kubeRequest(kc, {
          method: 'PATCH',
          path: dependent.path,
          contentType: 'application/merge-patch+json',
          body: {
            metadata: {
              resourceVersion: dependent.metadata.resourceVersion,
              ownerReferences: (dependent.metadata.ownerReferences ?? []).filter(
                (r) => r.uid !== owner.metadata.uid,
              ),
            },
          },
        });
      }
      await removeFinalizer(kc, owner, 'orphan');
      changed = true;
    }
    if (changed) continue; // owner references changed: look again before deleting anything

    for (const object of objects.values()) {
      const refs = object.metadata.ownerReferences ?? [];
      if (refs.length === 0 || object.metadata.deletionTimestamp || !inScope(object)) continue;
      // An owner counts as present unless it is gone or is waiting for its dependents to go.
      const ownerPresent = refs.some((ref) => {
        const owner = objects.get(ref.uid);
        return owner !== undefined && !beingDeletedWith(owner, 'foregroundDeletion');
      });
      if (ownerPresent) continue;
      const response = await kubeRequest(kc, {
        method: 'DELETE',
        path: object.path,
        body: {
          apiVersion: 'v1',
          kind: 'DeleteOptions',
          propagationPolicy: 'Background',
          // Never delete a newer object that took the same name in the meantime.
          preconditions: { uid: object.metadata.uid },
        },
      });
      if (response.status === 200 || response.status === 202) {
        collected.push({
          apiVersion: object.apiVersion,
          kind: object.kind,
          namespace: object.metadata.namespace,
          name: object.metadata.name,
        });
        changed = true;
      }
    }

    for (const owner of objects.values()) {
      if (beingDeletedWith(owner, 'foregroundDeletion') && dependentsOf(owner.metadata.uid).length === 0) {
        await removeFinalizer(kc, owner, 'foregroundDeletion');
        changed = true;
      }
    }
    if (!changed) break;
  }
  return collected;
}
