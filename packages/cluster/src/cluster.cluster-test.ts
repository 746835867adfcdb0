// The one-node cluster, for real: pods from locally built images, a Service found by DNS name,
// an Ingress from the host, a NetworkPolicy enforced, a kubelet restart that leaves pods
// running, an idempotent cluster-up and a cluster-down that leaves nothing behind.
// Run by vitest.cluster.config.ts (its global setup brings the cluster up and takes it down).
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { kubeRequest, kubeRequestOk, run } from '@switchboard/envtest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apply, type Manifest } from './addons.ts';
import { clusterUp, restartComponent } from './cluster.ts';
import { CLUSTER_IMAGES } from './images.ts';
import { mountsUnder, NETWORK, NODE_NAME, PORTS } from './network.ts';
import { clusterDir } from './paths.ts';
import { runningPid } from './processes.ts';
import { clusterStatus, waitFor, waitForDeployment } from './status.ts';
import { clusterDown } from './teardown.ts';

const dir = clusterDir(process.env);
const kc = new KubeConfig();
kc.loadFromFile(join(dir, 'kubeconfig'));

const NS = `cluster-test-${process.pid}`;
const APP_VERSION = (
  JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

const restricted = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

interface PodObject {
  metadata: { uid: string; name: string };
  status?: {
    phase?: string;
    podIP?: string;
    containerStatuses?: { containerID?: string; restartCount: number; ready: boolean }[];
  };
}

function pod(name: string, image: string, command: string[], labels: Record<string, string> = {}): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, labels },
    spec: {
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 1,
      securityContext: { runAsUser: 65532, runAsGroup: 65532 },
      containers: [{ name: 'main', image, imagePullPolicy: 'Never', command, securityContext: restricted }],
    },
  };
}

async function getPod(name: string): Promise<PodObject> {
  return kubeRequestOk<PodObject>(kc, { path: `/api/v1/namespaces/${NS}/pods/${name}` });
}

/** Runs a pod to completion; returns its phase (Succeeded or Failed) and its log. */
async function runToCompletion(
  manifest: Manifest,
  timeoutMs = 60_000,
): Promise<{ phase: string; log: string }> {
  await apply(kc, [manifest]);
  const name = manifest.metadata.name;
  let phase = '';
  await waitFor(
    `pod ${name} to finish`,
    async () => {
      phase = (await getPod(name)).status?.phase ?? '';
      return phase === 'Succeeded' || phase === 'Failed';
    },
    { timeoutMs, intervalMs: 300, detail: async () => JSON.stringify((await getPod(name)).status) },
  );
  // The log comes from the kubelet through the API server (node address 127.0.0.1).
  const log = await kubeRequest(kc, { path: `/api/v1/namespaces/${NS}/pods/${name}/log` });
  expect(log.status).toBe(200);
  return { phase, log: log.text };
}

function hostGet(path: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: PORTS.ingressHttp, path, headers: { host }, timeout: 5000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

const webUrl = `http://web.${NS}.svc.cluster.local/`;

beforeAll(async () => {
  await apply(kc, [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } }]);
  await waitFor(
    `the default ServiceAccount in ${NS}`,
    async () =>
      (await kubeRequest(kc, { path: `/api/v1/namespaces/${NS}/serviceaccounts/default` })).status === 200,
    { timeoutMs: 30_000 },
  );
  const labels = { app: 'web' };
  await apply(kc, [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: NS },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            terminationGracePeriodSeconds: 1,
            securityContext: { runAsUser: 65532, runAsGroup: 65532 },
            containers: [
              {
                name: 'web',
                image: CLUSTER_IMAGES.testserver,
                imagePullPolicy: 'Never',
                args: ['serve', ':8080'],
                ports: [{ containerPort: 8080 }],
                securityContext: restricted,
                readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1 },
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: NS },
      spec: { selector: labels, ports: [{ port: 80, targetPort: 8080 }] },
    },
  ]);
  await waitForDeployment(kc, NS, 'web', 90_000);
});

afterAll(async () => {
  if ((await clusterStatus()).apiReady) {
    await kubeRequest(kc, { method: 'DELETE', path: `/api/v1/namespaces/${NS}` });
  }
});

describe('the one-node cluster', () => {
  it('runs a pod from a locally built app image (Node 24, user 65532, read-only root) and reads its log back', async () => {
    const result = await runToCompletion(
      pod('hello', `ghcr.io/switchboard/operator:${APP_VERSION}`, [
        'node',
        '-e',
        'console.log("hello from node " + process.version + " as " + process.getuid())',
      ]),
    );
    expect(result.phase).toBe('Succeeded');
    expect(result.log).toMatch(/^hello from node v24\.\d+\.\d+ as 65532$/m);
  });

  it('routes to a Service by its DNS name from another pod (CoreDNS, kube-proxy)', async () => {
    const result = await runToCompletion(
      pod('client-dns', CLUSTER_IMAGES.testserver, ['/testserver', 'get', webUrl]),
    );
    expect(result.log).toMatch(/: 200 hello from web-/);
    expect(result.phase).toBe('Succeeded');
  });

  it('routes an Ingress from the host through Traefik', async () => {
    await apply(kc, [
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'Ingress',
        metadata: { name: 'web', namespace: NS },
        spec: {
          ingressClassName: 'traefik',
          rules: [
            {
              host: 'web.cluster.test',
              http: {
                paths: [
                  {
                    path: '/',
                    pathType: 'Prefix',
                    backend: { service: { name: 'web', port: { number: 80 } } },
                  },
                ],
              },
            },
          ],
        },
      },
    ]);
    // Traefik picks the Ingress up from its watch; until then it answers 404.
    let last = { status: 0, body: '' };
    await waitFor(
      'Traefik to route web.cluster.test',
      async () => {
        last = await hostGet('/', 'web.cluster.test');
        return last.status === 200;
      },
      { timeoutMs: 30_000, intervalMs: 300, detail: async () => JSON.stringify(last) },
    );
    expect(last.body).toMatch(/^hello from web-/);
    // A host no Ingress names is not routed.
    expect((await hostGet('/', 'nothing.cluster.test')).status).toBe(404);
  });

  it('enforces a NetworkPolicy (kube-router): only labelled pods reach the web pods', async () => {
    const service = await kubeRequestOk<{ spec: { clusterIP: string } }>(kc, {
      path: `/api/v1/namespaces/${NS}/services/web`,
    });
    const url = `http://${service.spec.clusterIP}/`;
    await apply(kc, [
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'web-allow-labelled', namespace: NS },
        spec: {
          podSelector: { matchLabels: { app: 'web' } },
          policyTypes: ['Ingress'],
          ingress: [{ from: [{ podSelector: { matchLabels: { access: 'web' } } }] }],
        },
      },
    ]);
    // Precondition: kube-router has programmed this policy into iptables.
    await waitFor(
      'kube-router to program the policy',
      async () =>
        (await run('iptables-save', ['-t', 'filter'])).stdout.includes(
          `run through nw policy web-allow-labelled"`,
        ),
      { timeoutMs: 30_000, intervalMs: 300 },
    );
    const denied = await runToCompletion(
      pod('client-denied', CLUSTER_IMAGES.testserver, ['/testserver', 'get', url]),
    );
    expect(denied.log).toMatch(/failed/);
    expect(denied.phase).toBe('Failed');

    // The same request from a pod the policy allows. Its address joins the policy's set when
    // kube-router sees the new pod, so this client tries again for up to 30 s until it gets through.
    const allowed = await runToCompletion(
      pod('client-allowed', CLUSTER_IMAGES.testserver, ['/testserver', 'get', url, '30'], { access: 'web' }),
    );
    expect(allowed.log).toMatch(/: 200 hello from web-/);
    expect(allowed.phase).toBe('Succeeded');
    await kubeRequestOk(kc, {
      method: 'DELETE',
      path: `/apis/networking.k8s.io/v1/namespaces/${NS}/networkpolicies/web-allow-labelled`,
    });
  });

  it('keeps pods running across a kubelet restart', async () => {
    const pods = await kubeRequestOk<{ items: PodObject[] }>(kc, {
      path: `/api/v1/namespaces/${NS}/pods?labelSelector=app%3Dweb`,
    });
    const before = pods.items[0];
    expect(before?.status?.containerStatuses?.[0]?.ready).toBe(true);
    const oldPid = await runningPid(dir, 'kubelet');
    const restartedAt = Date.now();
    const newPid = await restartComponent('kubelet');
    expect(newPid).not.toBe(oldPid);
    // The restarted kubelet has synced once it posts a fresh Ready heartbeat.
    await waitFor(
      'the restarted kubelet to report the node Ready',
      async () => {
        const node = await kubeRequestOk<{
          status: { conditions: { type: string; status: string; lastHeartbeatTime: string }[] };
        }>(kc, { path: `/api/v1/nodes/${NODE_NAME}` });
        const ready = node.status.conditions.find((c) => c.type === 'Ready');
        return ready?.status === 'True' && Date.parse(ready.lastHeartbeatTime) >= restartedAt - 1000;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    const after = await getPod(before?.metadata.name ?? '');
    expect(after.metadata.uid).toBe(before?.metadata.uid);
    expect(after.status?.containerStatuses?.[0]?.containerID).toBe(
      before?.status?.containerStatuses?.[0]?.containerID,
    );
    expect(after.status?.containerStatuses?.[0]?.restartCount).toBe(0);
    // The NetworkPolicy of the test before is gone; kube-router drops its rules on its next
    // sync, so this client tries again for up to 30 s.
    const result = await runToCompletion(
      pod('client-after-restart', CLUSTER_IMAGES.testserver, ['/testserver', 'get', webUrl, '30']),
    );
    expect(result.phase).toBe('Succeeded');
  });

  it('cluster-up on a running cluster changes nothing', async () => {
    const apiPid = await runningPid(dir, 'kube-apiserver');
    const again = await clusterUp();
    expect(again.reused).toBe(true);
    expect(await runningPid(dir, 'kube-apiserver')).toBe(apiPid);
  });

  it('cluster-down stops everything and leaves no bridge, iptables rule, mount or folder behind', async () => {
    await kubeRequest(kc, { method: 'DELETE', path: `/api/v1/namespaces/${NS}` });
    await clusterDown();
    const status = await clusterStatus();
    expect(status.running).toEqual([]);
    expect((await run('ip', ['link', 'show', NETWORK.bridge])).code).not.toBe(0);
    const rules = (await run('iptables-save', [])).stdout;
    expect(rules).not.toMatch(/KUBE-|CNI-|SB-CLUSTER-|10\.244\.|10\.96\./);
    expect(await mountsUnder(dir)).toEqual([]);
    await expect(readFile(join(dir, 'kubeconfig'))).rejects.toThrow();
  });
});
