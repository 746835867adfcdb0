// What runs, and waiting for it: the components, their status, readiness of the node and of
// Deployments.
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { kubeRequest } from '@switchboard/envtest';
import { layout } from './config.ts';
import { ClusterError } from './errors.ts';
import { NODE_NAME } from './network.ts';
import { type ClusterEnv, clusterDir } from './paths.ts';
import { runningPid } from './processes.ts';

/** The daemons, in start order (cluster-down stops them in reverse). */
export const COMPONENTS = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'containerd',
  'kubelet',
  'kube-proxy',
  'kube-router',
] as const;
export type Component = (typeof COMPONENTS)[number];

/** Where the cluster lives (its environment) and where progress lines go. */
export interface ClusterOptions {
  env?: ClusterEnv;
  log?: (message: string) => void;
}

/** A running cluster, as cluster-up leaves it. */
export interface RunningCluster {
  dir: string;
  /** The admin kubeconfig (system:masters). */
  kubeconfigPath: string;
  kubeConfig: KubeConfig;
  server: string;
  /** http://127.0.0.1:<port>: Traefik's web entry point, where Ingresses answer. */
  ingressUrl: string;
  /** Seconds per phase of this cluster-up, and in total. */
  timings: Record<string, number>;
  /** true when cluster-up found it already running and changed nothing. */
  reused: boolean;
}

/** The kubeconfig at `path`. */
export function loadKubeConfig(path: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

/** True when `path` exists. */
export async function exists(path: string): Promise<boolean> {
  try {
    await access(path, constants.F_OK);
    return true;
  } catch {
    return false;
  }
}

/** Polls `probe` every `intervalMs` until it returns true; throws TIMEOUT with `detail()` after `timeoutMs`. */
export async function waitFor(
  what: string,
  probe: () => Promise<boolean>,
  options: { timeoutMs: number; intervalMs?: number; detail?: () => Promise<string> },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) {
      throw new ClusterError('TIMEOUT', `timed out after ${options.timeoutMs / 1000} s waiting for ${what}`, {
        ...(options.detail ? { output: await options.detail().catch(() => '') } : {}),
      });
    }
    await sleep(options.intervalMs ?? 250);
  }
}

/** True when `url` answers 2xx within 2 s. */
export async function httpOk(url: string): Promise<boolean> {
  const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return response.ok;
}

/** True when every component is running, the API server is ready and the node is Ready. */
export async function clusterStatus(options: ClusterOptions = {}): Promise<{
  running: Component[];
  stopped: Component[];
  apiReady: boolean;
  nodeReady: boolean;
}> {
  const dir = clusterDir(options.env ?? process.env);
  const running: Component[] = [];
  const stopped: Component[] = [];
  for (const component of COMPONENTS) {
    ((await runningPid(dir, component)) !== undefined ? running : stopped).push(component);
  }
  let apiReady = false;
  let nodeReady = false;
  const paths = layout(dir);
  if (running.includes('kube-apiserver') && (await exists(paths.adminKubeconfig))) {
    const kc = loadKubeConfig(paths.adminKubeconfig);
    apiReady = await kubeRequest(kc, { path: '/readyz' })
      .then((r) => r.status === 200)
      .catch(() => false);
    if (apiReady) nodeReady = await isNodeReady(kc);
  }
  return { running, stopped, apiReady, nodeReady };
}

interface NodeObject {
  status?: { conditions?: { type: string; status: string }[] };
}

/** True when the node reports Ready. */
export async function isNodeReady(kc: KubeConfig): Promise<boolean> {
  const node = await kubeRequest<NodeObject>(kc, { path: `/api/v1/nodes/${NODE_NAME}` }).catch(
    () => undefined,
  );
  if (node?.status !== 200) return false;
  return node.body.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

interface DeploymentObject {
  spec?: { replicas?: number };
  status?: { availableReplicas?: number; updatedReplicas?: number; observedGeneration?: number };
  metadata?: { generation?: number };
}

/** Waits until a Deployment's pods are all updated and available. */
export async function waitForDeployment(
  kc: KubeConfig,
  namespace: string,
  name: string,
  timeoutMs: number,
): Promise<void> {
  await waitFor(
    `Deployment ${namespace}/${name} to be available`,
    async () => {
      const response = await kubeRequest<DeploymentObject>(kc, {
        path: `/apis/apps/v1/namespaces/${namespace}/deployments/${name}`,
      });
      if (response.status !== 200) return false;
      const d = response.body;
      const want = d.spec?.replicas ?? 1;
      return (
        (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 1) &&
        (d.status?.updatedReplicas ?? 0) === want &&
        (d.status?.availableReplicas ?? 0) === want
      );
    },
    {
      timeoutMs,
      intervalMs: 500,
      detail: async () =>
        (await kubeRequest(kc, { path: `/api/v1/namespaces/${namespace}/pods` })).text.slice(0, 4000),
    },
  );
}
