import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import {
  CertificateAuthority,
  type CertificateRequest,
  ensureControlPlaneBinaries,
  findOnPath,
  kubeRequest,
  rsaKeyPair,
  run,
} from '@switchboard/envtest';
import { apply, corednsManifests, kubeRouterManifests, traefikManifests } from './addons.ts';
import { type ClusterBinaries, ensureClusterBinaries } from './binaries.ts';
import {
  apiServerArgs,
  cniConflist,
  containerdConfig,
  controllerManagerArgs,
  etcdArgs,
  kubeconfigYaml,
  kubeletArgs,
  kubeletConfig,
  kubeProxyArgs,
  kubeProxyConfig,
  kubeRouterArgs,
  type Layout,
  layout,
  schedulerArgs,
} from './config.ts';
import { ClusterError } from './errors.ts';
import { ensureClusterImageArchives, importImages } from './images.ts';
import { checkAddressSpace, ensureBridge, ensureEgressGuard, NETWORK, NODE_NAME, PORTS } from './network.ts';
import { type ClusterEnv, clusterDir } from './paths.ts';
import { type DaemonSpec, logTail, runningPid, startDaemon, stopDaemon } from './processes.ts';
import {
  type ClusterOptions,
  COMPONENTS,
  type Component,
  clusterStatus,
  exists,
  httpOk,
  isNodeReady,
  loadKubeConfig,
  type RunningCluster,
  waitFor,
  waitForDeployment,
} from './status.ts';
import { clusterDown } from './teardown.ts';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

async function checkPreconditions(env: ClusterEnv): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new ClusterError(
      'PRECONDITION_FAILED',
      'the cluster needs root (containerd, the kubelet, bridges, iptables); run as root',
    );
  }
  const missing: string[] = [];
  for (const tool of ['containerd', 'ctr', 'runc', 'iptables', 'ip', 'podman', 'ipset', 'umount']) {
    if (!(await findOnPath(tool, { PATH: `${env.PATH ?? ''}:/usr/sbin:/sbin` }))) missing.push(tool);
  }
  for (const plugin of ['bridge', 'host-local', 'loopback', 'portmap']) {
    if (!(await exists(`/usr/lib/cni/${plugin}`))) missing.push(`/usr/lib/cni/${plugin}`);
  }
  if (missing.length > 0) {
    throw new ClusterError(
      'PRECONDITION_FAILED',
      `missing: ${missing.join(', ')} (make install installs the Debian packages the cluster needs)`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Certificates and configuration files.

async function writePki(paths: Layout): Promise<void> {
  await mkdir(paths.pki, { recursive: true, mode: 0o700 });
  const ca = await CertificateAuthority.create('switchboard-cluster-ca', 365);
  const sa = await rsaKeyPair();
  const write = (path: string, text: string, secret = false) =>
    writeFile(path, text, secret ? { mode: 0o600 } : {});
  await write(paths.caCert, ca.cert);
  await write(paths.caKey, ca.key, true);
  await write(paths.saPub, sa.publicKey);
  await write(paths.saKey, sa.privateKey, true);
  const issue = async (name: string, request: CertificateRequest) => {
    const pair = await ca.issue(request);
    await write(paths.cert(name), pair.cert);
    await write(paths.key(name), pair.key, true);
    return pair;
  };
  // RSA keys come from the thread pool: issuing them all at once takes a fraction of the time.
  const servers = Promise.all([
    issue('apiserver', {
      commonName: 'kube-apiserver',
      server: {
        dnsNames: [
          'localhost',
          'kubernetes',
          'kubernetes.default',
          'kubernetes.default.svc',
          'kubernetes.default.svc.cluster.local',
        ],
        ipAddresses: ['127.0.0.1', NETWORK.gateway, NETWORK.apiServiceIp],
      },
    }),
    issue('apiserver-kubelet-client', {
      commonName: 'kube-apiserver-kubelet-client',
      organizations: ['system:masters'],
      client: true,
    }),
    issue('kubelet-serving', {
      commonName: `system:node:${NODE_NAME}`,
      server: { dnsNames: [NODE_NAME, 'localhost'], ipAddresses: ['127.0.0.1', NETWORK.gateway] },
    }),
  ]);
  // One client certificate per component; the names are the users RBAC's bootstrap policy
  // (and the Node authorizer) grant exactly what each component needs.
  const clients: Record<string, { commonName: string; organizations?: string[] }> = {
    admin: { commonName: 'admin', organizations: ['system:masters'] },
    'kube-controller-manager': { commonName: 'system:kube-controller-manager' },
    'kube-scheduler': { commonName: 'system:kube-scheduler' },
    kubelet: { commonName: `system:node:${NODE_NAME}`, organizations: ['system:nodes'] },
    'kube-proxy': { commonName: 'system:kube-proxy' },
    'kube-router': { commonName: 'system:kube-router' },
  };
  await mkdir(join(paths.dir, 'config'), { recursive: true });
  await Promise.all(
    Object.entries(clients).map(async ([component, subject]) => {
      const pair = await issue(component, { ...subject, client: true });
      const path = component === 'admin' ? paths.adminKubeconfig : paths.kubeconfig(component);
      await write(path, kubeconfigYaml(subject.commonName, ca.cert, pair.cert, pair.key), true);
    }),
  );
  await servers;
}

async function writeConfigs(paths: Layout): Promise<void> {
  await mkdir(join(paths.dir, 'config'), { recursive: true });
  await mkdir(join(paths.dir, 'containerd'), { recursive: true });
  await mkdir(paths.cniConfDir, { recursive: true });
  await mkdir(paths.cniIpamDir, { recursive: true });
  await mkdir(paths.kubeletRoot, { recursive: true });
  await writeFile(paths.containerdConfig, containerdConfig(paths));
  await writeFile(join(paths.cniConfDir, '10-switchboard.conflist'), cniConflist(paths));
  await writeFile(paths.kubeletConfig, kubeletConfig(paths));
  await writeFile(
    paths.kubeletResolvConf,
    '# No name servers: pods with dnsPolicy Default resolve nothing.\n',
  );
  await writeFile(paths.kubeProxyConfig, kubeProxyConfig(paths));
}

// ---------------------------------------------------------------------------------------------
// Starting.

interface Binaries extends ClusterBinaries {
  etcd: string;
  'kube-apiserver': string;
}

function specs(binaries: Binaries, paths: Layout): Record<Component, DaemonSpec> {
  return {
    etcd: { name: 'etcd', binary: binaries.etcd, args: etcdArgs(paths) },
    'kube-apiserver': {
      name: 'kube-apiserver',
      binary: binaries['kube-apiserver'],
      args: apiServerArgs(paths),
    },
    'kube-controller-manager': {
      name: 'kube-controller-manager',
      binary: binaries['kube-controller-manager'],
      args: controllerManagerArgs(paths),
    },
    'kube-scheduler': {
      name: 'kube-scheduler',
      binary: binaries['kube-scheduler'],
      args: schedulerArgs(paths),
    },
    containerd: { name: 'containerd', binary: 'containerd', args: ['--config', paths.containerdConfig] },
    kubelet: { name: 'kubelet', binary: binaries.kubelet, args: kubeletArgs(paths) },
    'kube-proxy': { name: 'kube-proxy', binary: binaries['kube-proxy'], args: kubeProxyArgs(paths) },
    'kube-router': { name: 'kube-router', binary: binaries['kube-router'], args: kubeRouterArgs(paths) },
  };
}

async function resolveBinaries(env: ClusterEnv, log: (message: string) => void): Promise<Binaries> {
  const [plane, cluster] = await Promise.all([
    ensureControlPlaneBinaries({ env, log }),
    ensureClusterBinaries({ env, log }),
  ]);
  return { ...cluster.binaries, etcd: plane.etcd, 'kube-apiserver': plane.kubeApiserver };
}

async function startAndWait(
  dir: string,
  spec: DaemonSpec,
  ready: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const pid = await startDaemon(dir, spec);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await runningPid(dir, spec.name)) !== pid) {
      throw new ClusterError('START_FAILED', `${spec.name} exited during start`, {
        output: await logTail(dir, spec.name),
      });
    }
    if (await ready().catch(() => false)) return;
    if (Date.now() > deadline) {
      throw new ClusterError('START_FAILED', `${spec.name} was not ready within ${timeoutMs / 1000} s`, {
        output: await logTail(dir, spec.name),
      });
    }
    await sleep(200);
  }
}

/** The OCI archives `make images` leaves in .build/images (imported when present). */
async function appImageArchives(): Promise<string[]> {
  const dir = join(REPO_ROOT, '.build', 'images');
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.filter((name) => name.endsWith('.oci.tar')).map((name) => join(dir, name));
}

/**
 * Brings the cluster up (make cluster-up): builds or reuses every binary and image, writes
 * certificates and configuration into the cluster's folder, starts the daemons in order and
 * waits until the node is Ready and CoreDNS and Traefik are available. When everything is
 * already running and healthy it changes nothing; a half-running cluster is taken down first.
 */
export async function clusterUp(options: ClusterOptions = {}): Promise<RunningCluster> {
  const env = options.env ?? process.env;
  const log = options.log ?? (() => {});
  const dir = clusterDir(env);
  const paths = layout(dir);
  const timings: Record<string, number> = {};
  const started = Date.now();
  let mark = started;
  const phase = (name: string) => {
    const now = Date.now();
    timings[name] = (now - mark) / 1000;
    mark = now;
  };
  const result = (reused: boolean): RunningCluster => {
    timings.total = (Date.now() - started) / 1000;
    return {
      dir,
      kubeconfigPath: paths.adminKubeconfig,
      kubeConfig: loadKubeConfig(paths.adminKubeconfig),
      server: `https://${NETWORK.gateway}:${PORTS.apiServer}`,
      ingressUrl: `http://127.0.0.1:${PORTS.ingressHttp}`,
      timings,
      reused,
    };
  };

  await checkPreconditions(env);
  const status = await clusterStatus({ env });
  if (status.stopped.length === 0 && status.apiReady && status.nodeReady) {
    log('the cluster is already running');
    return result(true);
  }
  if (status.running.length > 0 || (await exists(dir))) {
    log(`taking down what is left of an earlier cluster (${status.running.join(', ') || 'files only'})`);
    await clusterDown({ env, log });
  }
  await checkAddressSpace();

  const binaries = await resolveBinaries(env, log);
  const archives = await ensureClusterImageArchives(binaries, { env, log });
  phase('binaries');

  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writePki(paths);
    await writeConfigs(paths);
    await ensureBridge();
    await ensureEgressGuard();
    phase('pki');

    const all = specs(binaries, paths);
    await startAndWait(
      dir,
      all.etcd,
      async () => {
        const response = await fetch(`http://127.0.0.1:${PORTS.etcdClient}/health`, {
          signal: AbortSignal.timeout(2000),
        });
        return response.ok && ((await response.json()) as { health?: string }).health === 'true';
      },
      30_000,
    );
    const kc = loadKubeConfig(paths.adminKubeconfig);
    await startAndWait(
      dir,
      all['kube-apiserver'],
      async () => (await kubeRequest(kc, { path: '/readyz' })).status === 200,
      90_000,
    );
    phase('control-plane');
    await apply(kc, kubeRouterManifests());
    // Both serve /healthz only over TLS with a self-signed certificate; that they keep running
    // is checked once the node is Ready.
    await startDaemon(dir, all['kube-controller-manager']);
    await startDaemon(dir, all['kube-scheduler']);

    await startAndWait(
      dir,
      all.containerd,
      async () =>
        (await run('ctr', ['--address', paths.containerdSocket, 'version'], { env: process.env })).code === 0,
      30_000,
    );
    await importImages(paths.containerdSocket, archives.values());
    phase('containerd');

    await startAndWait(dir, all.kubelet, () => isNodeReady(kc), 90_000);
    phase('node-ready');
    // Pods may only start once kube-proxy has written the Service rules: before that, a pod's
    // connection to a Service IP (CoreDNS to the API server) would leave through the default
    // route instead.
    await startAndWait(
      dir,
      all['kube-proxy'],
      () => httpOk(`http://127.0.0.1:${PORTS.kubeProxyHealthz}/healthz`),
      60_000,
    );
    await startDaemon(dir, all['kube-router']);

    await apply(kc, [...corednsManifests(), ...traefikManifests()]);
    await waitForDeployment(kc, 'kube-system', 'coredns', 120_000);
    await waitForDeployment(kc, 'ingress', 'traefik', 120_000);
    await waitFor(
      'Traefik to answer on the ingress port',
      () => httpOk(`http://127.0.0.1:${PORTS.ingressPing}/ping`),
      {
        timeoutMs: 30_000,
      },
    );
    for (const component of [
      'kube-controller-manager',
      'kube-scheduler',
      'kube-proxy',
      'kube-router',
    ] as const) {
      if ((await runningPid(dir, component)) === undefined) {
        throw new ClusterError('START_FAILED', `${component} exited`, {
          output: await logTail(dir, component),
        });
      }
    }
    phase('addons');
    // The app images are large (hundreds of MB each to unpack): imported last, once the node
    // and the add-ons are up.
    await importImages(paths.containerdSocket, await appImageArchives());
    phase('app-images');
    return result(false);
  } catch (error) {
    log('cluster-up failed; the last lines of each log, then taking down what it started:');
    for (const component of COMPONENTS) {
      const text = await logTail(dir, component, 1500);
      if (text) log(`--- ${component}\n${text}`);
    }
    await clusterDown({ env, log }).catch(() => {});
    throw error;
  }
}

/** Restarts one daemon with the configuration cluster-up wrote (e.g. the kubelet-restart test). */
export async function restartComponent(component: Component, options: ClusterOptions = {}): Promise<number> {
  const env = options.env ?? process.env;
  const dir = clusterDir(env);
  const binaries = await resolveBinaries(env, options.log ?? (() => {}));
  await stopDaemon(dir, component);
  return startDaemon(dir, specs(binaries, layout(dir))[component]);
}
