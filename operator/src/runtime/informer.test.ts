import { CoreV1Api, type V1ConfigMap } from '@kubernetes/client-node';
import {
  type ControlPlane,
  createTestNamespace,
  startControlPlane,
  useControlPlane,
} from '@switchboard/envtest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { apiRequest } from './api-request.ts';
import {
  Informer,
  type InformerLifecycleEvent,
  type InformerOptions,
  objectKey,
  splitObjectKey,
} from './informer.ts';
import { startTcpProxy, type TcpProxy } from './testing/tcp-proxy.ts';
import { sleep, waitFor } from './testing/wait-for.ts';

const { kubeConfig } = useControlPlane();
const core = kubeConfig.makeApiClient(CoreV1Api);

let ns: Awaited<ReturnType<typeof createTestNamespace>>;
let otherNs: Awaited<ReturnType<typeof createTestNamespace>>;
beforeAll(async () => {
  ns = await createTestNamespace(kubeConfig, 'informer');
  otherNs = await createTestNamespace(kubeConfig, 'informer-other');
});
afterAll(async () => {
  await ns.delete();
  await otherNs.delete();
});

// Every test gets its own label value, so informers only see the objects of their own test.
let testCounter = 0;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Recorded {
  events: { type: 'add' | 'update' | 'delete'; key: string; data?: Record<string, string>; same?: boolean }[];
  lifecycle: (InformerLifecycleEvent & { at: number })[];
}

function startInformer(options: Partial<InformerOptions<V1ConfigMap>> & { label: string }): {
  informer: Informer<V1ConfigMap>;
  recorded: Recorded;
} {
  const recorded: Recorded = { events: [], lifecycle: [] };
  const { label, ...rest } = options;
  const informer = new Informer<V1ConfigMap>({
    kubeConfig,
    apiVersion: 'v1',
    kind: 'ConfigMap',
    namespace: ns.name,
    labelSelector: `test=${label}`,
    backoffInitialMs: 50,
    backoffMaxMs: 400,
    onLifecycleEvent: (event) => recorded.lifecycle.push({ ...event, at: Date.now() }),
    ...rest,
  });
  informer.addHandler({
    add: (o) => {
      recorded.events.push({ type: 'add', key: objectKey(o), ...(o.data ? { data: o.data } : {}) });
    },
    update: (old, o) => {
      recorded.events.push({
        type: 'update',
        key: objectKey(o),
        same: old === o,
        ...(o.data ? { data: o.data } : {}),
      });
    },
    delete: (o) => {
      recorded.events.push({ type: 'delete', key: objectKey(o) });
    },
  });
  informer.start();
  cleanups.push(() => informer.stop());
  return { informer, recorded };
}

function newLabel(): string {
  testCounter += 1;
  return `t${testCounter}-${Math.random().toString(36).slice(2, 8)}`;
}

async function createConfigMap(
  name: string,
  label: string,
  data: Record<string, string>,
  namespace = ns.name,
) {
  await core.createNamespacedConfigMap({
    namespace,
    body: { metadata: { name, labels: { test: label } }, data },
  });
}

async function updateConfigMap(name: string, data: Record<string, string>) {
  await apiRequest(kubeConfig, {
    method: 'PATCH',
    path: `/api/v1/namespaces/${ns.name}/configmaps/${name}`,
    body: { data },
  });
}

async function deleteConfigMap(name: string) {
  await core.deleteNamespacedConfigMap({ name, namespace: ns.name });
}

async function serverState(label: string): Promise<Record<string, Record<string, string> | undefined>> {
  const list = await core.listNamespacedConfigMap({ namespace: ns.name, labelSelector: `test=${label}` });
  return Object.fromEntries(list.items.map((cm) => [`${ns.name}/${cm.metadata!.name}`, cm.data]));
}

function cacheState(informer: Informer<V1ConfigMap>): Record<string, Record<string, string> | undefined> {
  return Object.fromEntries(informer.list().map((cm) => [objectKey(cm), cm.data]));
}

const has = (
  recorded: Recorded,
  type: 'add' | 'update' | 'delete',
  name: string,
  value?: string,
  namespace = ns.name,
) =>
  recorded.events.some(
    (e) =>
      e.type === type && e.key === `${namespace}/${name}` && (value === undefined || e.data?.v === value),
  );

describe('Informer', () => {
  it('lists what exists (paginated, label-selected), then delivers adds, updates and deletes', async () => {
    const label = newLabel();
    for (const i of [1, 2, 3, 4, 5]) await createConfigMap(`pre-${i}`, label, { v: `${i}` });
    await createConfigMap('not-selected', 'someone-else', { v: 'x' });

    const { informer, recorded } = startInformer({ label, pageSize: 2 });
    await informer.waitForSync(10_000);
    expect(informer.hasSynced()).toBe(true);
    expect(Object.keys(cacheState(informer)).sort()).toEqual(
      [1, 2, 3, 4, 5].map((i) => `${ns.name}/pre-${i}`),
    );
    expect(recorded.events.filter((e) => e.type === 'add')).toHaveLength(5);
    expect(informer.get(`${ns.name}/not-selected`)).toBeUndefined();
    // Objects look like the watch's: list items get their apiVersion and kind back.
    expect(informer.get(`${ns.name}/pre-1`)).toMatchObject({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      data: { v: '1' },
    });

    await createConfigMap('new', label, { v: 'a' });
    await updateConfigMap('pre-1', { v: 'changed' });
    await deleteConfigMap('pre-2');
    await waitFor('add, update and delete', () => has(recorded, 'delete', 'pre-2'));
    expect(has(recorded, 'add', 'new', 'a')).toBe(true);
    expect(has(recorded, 'update', 'pre-1', 'changed')).toBe(true);
    expect(informer.get(`${ns.name}/pre-1`)?.data).toEqual({ v: 'changed' });
    expect(informer.get(`${ns.name}/pre-2`)).toBeUndefined();
    expect(cacheState(informer)).toEqual(await serverState(label));

    // A handler registered late is first told about everything cached.
    const late: string[] = [];
    informer.addHandler({ add: (o) => late.push(objectKey(o)) });
    expect(late.sort()).toEqual(Object.keys(await serverState(label)).sort());
  });

  it('watches all namespaces when no namespace is given', async () => {
    const label = newLabel();
    await createConfigMap('here', label, { v: '1' });
    const { informer, recorded } = startInformer({ label, namespace: undefined });
    await informer.waitForSync(10_000);
    await createConfigMap('there', label, { v: '2' }, otherNs.name);
    await waitFor('the object in the other namespace', () =>
      recorded.events.some((e) => e.key === `${otherNs.name}/there`),
    );
    expect(informer.get(`${ns.name}/here`)).toBeDefined();
    expect(splitObjectKey(`${otherNs.name}/there`)).toEqual({ namespace: otherNs.name, name: 'there' });
  });

  it('re-delivers every cached object as an update on each resync', async () => {
    const label = newLabel();
    await createConfigMap('r1', label, { v: '1' });
    await createConfigMap('r2', label, { v: '2' });
    const { informer, recorded } = startInformer({ label, resyncPeriodMs: 300 });
    await informer.waitForSync(10_000);
    const resyncs = (name: string) =>
      recorded.events.filter((e) => e.type === 'update' && e.same && e.key === `${ns.name}/${name}`).length;
    await waitFor('two resyncs of both objects', () => resyncs('r1') >= 2 && resyncs('r2') >= 2, 5000);
  });

  describe('through a TCP proxy', () => {
    let proxy: TcpProxy;
    beforeAll(async () => {
      proxy = await startTcpProxy(kubeConfig.getCurrentCluster()!.server);
    });
    afterAll(() => proxy.close());
    afterEach(() => proxy.setMode('forward'));

    it('recovers from a watch broken mid-test and misses nothing that happened during the outage', async () => {
      const label = newLabel();
      await createConfigMap('before', label, { v: '1' });
      await createConfigMap('doomed', label, { v: '1' });
      const { informer, recorded } = startInformer({ label, kubeConfig: proxy.kubeConfigFor(kubeConfig) });
      await informer.waitForSync(10_000);
      await createConfigMap('live', label, { v: '1' });
      await waitFor('the live add', () => has(recorded, 'add', 'live'));

      // Outage: every connection dies and new ones are refused.
      proxy.setMode('refuse');
      proxy.breakConnections();
      await waitFor('the watch to notice', () =>
        recorded.lifecycle.some(
          (e) => e.type === 'watch-ended' && (e.reason === 'error' || e.reason === 'closed'),
        ),
      );
      await createConfigMap('during', label, { v: '1' });
      await updateConfigMap('before', { v: 'during-outage' });
      await deleteConfigMap('doomed');
      await sleep(500); // several reconnect attempts fail meanwhile
      const attemptsDuringOutage = proxy.acceptedConnections;
      expect(informer.get(`${ns.name}/during`)).toBeUndefined();

      proxy.setMode('forward');
      await waitFor('the outage changes', () => has(recorded, 'delete', 'doomed'), 10_000);
      expect(proxy.acceptedConnections).toBeGreaterThan(attemptsDuringOutage);
      expect(has(recorded, 'add', 'during')).toBe(true);
      expect(has(recorded, 'update', 'before', 'during-outage')).toBe(true);

      // And the watch keeps working after the break.
      await createConfigMap('after', label, { v: '1' });
      await waitFor('an add after recovery', () => has(recorded, 'add', 'after'));
      expect(cacheState(informer)).toEqual(await serverState(label));
      // Each change was delivered once: no duplicate adds from resuming.
      const adds = recorded.events.filter((e) => e.type === 'add').map((e) => e.key);
      expect(new Set(adds).size).toBe(adds.length);
    });

    it('restarts a watch that went silent (watchdog) and then sees what it missed', async () => {
      const label = newLabel();
      const { informer, recorded } = startInformer({
        label,
        kubeConfig: proxy.kubeConfigFor(kubeConfig),
        watchdogMs: 1500,
      });
      await informer.waitForSync(10_000);
      await createConfigMap('warmup', label, { v: '1' });
      await waitFor('the warm-up add', () => has(recorded, 'add', 'warmup'));

      // The connection stays open but no byte moves: no error, no close, only silence.
      proxy.stallConnections();
      const stalledAt = Date.now();
      await createConfigMap('while-silent', label, { v: '1' });
      await waitFor('the missed add', () => has(recorded, 'add', 'while-silent'), 8000);
      const restart = recorded.lifecycle.find(
        (e) => e.type === 'watch-ended' && e.reason === 'watchdog' && e.at >= stalledAt,
      );
      expect(restart).toBeDefined();
      // The object could only arrive through the watch the watchdog started.
      expect(restart!.at - stalledAt).toBeGreaterThanOrEqual(1000);
      expect(informer.get(`${ns.name}/while-silent`)).toBeDefined();
    });
  });

  describe('when the resourceVersion expired (410 Gone)', () => {
    // A control plane of its own: without the watch cache every watch is served by etcd, so
    // compacting etcd (what kube-apiserver does every 5 minutes) makes the real API server
    // answer a resumed watch with 410 Expired, as a long outage does in a real cluster.
    let plane: ControlPlane;
    let proxy: TcpProxy;
    beforeAll(async () => {
      plane = await startControlPlane({ extraApiServerFlags: ['--watch-cache=false'] });
      proxy = await startTcpProxy(plane.server);
    });
    afterAll(async () => {
      await proxy?.close();
      await plane?.stop();
    });

    async function compactEtcd(): Promise<void> {
      const etcd = (path: string, body: unknown) =>
        fetch(`${plane.etcdUrl}${path}`, { method: 'POST', body: JSON.stringify(body) }).then(
          (r) => r.json() as Promise<{ header: { revision: string } }>,
        );
      const { header } = await etcd('/v3/kv/range', {
        key: Buffer.from('compaction-probe').toString('base64'),
      });
      await etcd('/v3/kv/compaction', { revision: header.revision, physical: true });
    }

    it('re-lists from scratch and delivers exactly the difference', async () => {
      const own = plane.kubeConfig.makeApiClient(CoreV1Api);
      const namespace = 'default';
      const make = (name: string) =>
        own.createNamespacedConfigMap({
          namespace,
          body: { metadata: { name, labels: { test: 'gone' } }, data: { v: '1' } },
        });
      for (const name of ['kept', 'changed', 'vanished']) await make(name);
      const { informer, recorded } = startInformer({
        label: 'gone',
        namespace,
        kubeConfig: proxy.kubeConfigFor(plane.kubeConfig),
      });
      await informer.waitForSync(10_000);
      expect(recorded.events).toHaveLength(3);
      const resumeFrom = informer.lastResourceVersion();

      proxy.setMode('refuse');
      proxy.breakConnections();
      await waitFor('the watch to drop', () => recorded.lifecycle.some((e) => e.type === 'watch-ended'));
      await make('appeared');
      await own.replaceNamespacedConfigMap({
        name: 'changed',
        namespace,
        body: { metadata: { name: 'changed', labels: { test: 'gone' } }, data: { v: '2' } },
      });
      await own.deleteNamespacedConfigMap({ name: 'vanished', namespace });
      await compactEtcd();
      const eventsBefore = recorded.events.length;
      proxy.setMode('forward');

      await waitFor(
        'the re-list',
        () => recorded.lifecycle.filter((e) => e.type === 'listed').length >= 2,
        10_000,
      );
      expect(recorded.lifecycle.some((e) => e.type === 'watch-ended' && e.reason === 'expired')).toBe(true);
      expect(informer.lastResourceVersion()).not.toBe(resumeFrom);
      const diff = recorded.events.slice(eventsBefore).map((e) => `${e.type} ${splitObjectKey(e.key).name}`);
      // Nothing for the unchanged object; a delete for the one that vanished unseen.
      expect(diff.sort()).toEqual(['add appeared', 'delete vanished', 'update changed']);
      expect(informer.get('default/changed')?.data).toEqual({ v: '2' });
      expect(Object.keys(cacheState(informer)).sort()).toEqual([
        'default/appeared',
        'default/changed',
        'default/kept',
      ]);

      // The watch started after the re-list works.
      await make('later');
      await waitFor('an add after the re-list', () => has(recorded, 'add', 'later', undefined, namespace));
      await informer.stop();
    });
  });
});
