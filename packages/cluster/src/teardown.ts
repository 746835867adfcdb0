import { readdir, readFile, readlink, rm, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { kubeRequest, run } from '@switchboard/envtest';
import { ensureClusterBinaries } from './binaries.ts';
import { type Layout, layout } from './config.ts';
import { ClusterError } from './errors.ts';
import { removeBridge, removeIptablesLeftovers, unmountUnder } from './network.ts';
import { clusterDir } from './paths.ts';
import { runningPid, stopDaemon } from './processes.ts';
import { type ClusterOptions, clusterStatus, exists, loadKubeConfig, waitFor } from './status.ts';

async function ctr(paths: Layout, args: string[]) {
  return run('ctr', ['--address', paths.containerdSocket, '--namespace', 'k8s.io', ...args], {
    env: process.env,
  });
}

async function listTasks(paths: Layout): Promise<string[]> {
  const result = await ctr(paths, ['tasks', 'list', '--quiet']);
  return result.code === 0 ? result.stdout.split('\n').filter(Boolean) : [];
}

// Pods are stopped through the kubelet, so the CNI plugins remove each pod's network (veth,
// address, iptables rules) and containerd its network namespace and mounts.
async function stopPods(paths: Layout, log: (message: string) => void): Promise<void> {
  const kc = loadKubeConfig(paths.adminKubeconfig);
  const namespaces = await kubeRequest<{ items: { metadata: { name: string } }[] }>(kc, {
    path: '/api/v1/namespaces',
  });
  if (namespaces.status !== 200) return;
  for (const ns of namespaces.body.items) {
    await kubeRequest(kc, {
      method: 'DELETE',
      path: `/api/v1/namespaces/${ns.metadata.name}/pods?gracePeriodSeconds=0`,
    });
  }
  await waitFor('the kubelet to stop every pod', async () => (await listTasks(paths)).length === 0, {
    timeoutMs: 60_000,
    intervalMs: 500,
  }).catch(() => log('some pods were still running after 60 s; killing their containers'));
}

async function killShims(paths: Layout): Promise<void> {
  // Shims outlive containerd; ours carry our socket address on their command line.
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.startsWith('/usr/bin/containerd-shim') && cmdline.includes(paths.containerdSocket)) {
      try {
        process.kill(Number(entry), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

// The kubelet links each container's log into /var/log/containers (a fixed path); ours point
// into the cluster's folder.
async function removeContainerLogLinks(dir: string): Promise<void> {
  const links = '/var/log/containers';
  for (const name of await readdir(links).catch(() => [] as string[])) {
    const target = await readlink(join(links, name)).catch(() => '');
    if (target.startsWith(`${dir}/`)) await rm(join(links, name), { force: true });
  }
}

// Directories containerd's shims and the CNI library create at fixed paths; removed when empty
// (rmdir fails on anything still in use by someone else).
async function removeEmptyRuntimeDirs(): Promise<void> {
  for (const d of [
    '/run/containerd/s',
    '/run/containerd/runc/k8s.io',
    '/run/containerd/runc',
    '/run/containerd',
    '/var/lib/cni/results',
    '/var/lib/cni',
    '/run/netns',
  ]) {
    await rmdir(d).catch(() => {});
  }
}

async function removeCgroups(): Promise<void> {
  // The kubelet's cgroupfs hierarchy (kubepods) in each v1 controller; empty once pods are gone.
  const root = '/sys/fs/cgroup';
  for (const controller of await readdir(root).catch(() => [] as string[])) {
    const top = join(root, controller, 'kubepods');
    if (!(await exists(top))) continue;
    const dirs = (await readdir(top, { recursive: true, withFileTypes: true }))
      .filter((entry) => entry.isDirectory())
      .map((entry) => join(entry.parentPath, entry.name))
      .sort((a, b) => b.length - a.length);
    for (const d of [...dirs, top]) await rmdir(d).catch(() => {});
  }
}

/**
 * Stops everything cluster-up started and removes what it left on the machine: pods (through
 * the kubelet, so CNI cleans their networks), the daemons, containerd's shims, kube-proxy's and
 * kube-router's iptables chains, the CNI rules and chains, mounts under the cluster's folder,
 * the kubelet's cgroups, the bridge, and the folder itself. Safe to run when nothing runs.
 */
export async function clusterDown(options: ClusterOptions = {}): Promise<{ removedRules: string[] }> {
  const env = options.env ?? process.env;
  const log = options.log ?? (() => {});
  const dir = clusterDir(env);
  const paths = layout(dir);
  const status = await clusterStatus({ env });
  // No new pods while the old ones go.
  await stopDaemon(dir, 'kube-controller-manager');
  await stopDaemon(dir, 'kube-scheduler');
  if (status.apiReady && status.running.includes('kubelet') && status.running.includes('containerd')) {
    await stopPods(paths, log).catch((error: unknown) => log(`stopping pods: ${String(error)}`));
  }
  await stopDaemon(dir, 'kube-router');
  await stopDaemon(dir, 'kube-proxy');
  await stopDaemon(dir, 'kubelet');
  if ((await runningPid(dir, 'containerd')) !== undefined) {
    for (const task of await listTasks(paths)) {
      await ctr(paths, ['tasks', 'kill', '--signal', 'SIGKILL', task]);
    }
    await waitFor(
      'killed containers to exit',
      async () => {
        const out = await ctr(paths, ['tasks', 'list']);
        return !/RUNNING/.test(out.stdout);
      },
      { timeoutMs: 15_000 },
    ).catch(() => {});
    for (const task of await listTasks(paths)) await ctr(paths, ['tasks', 'delete', '--force', task]);
  }
  await stopDaemon(dir, 'containerd');
  await killShims(paths);
  await stopDaemon(dir, 'kube-apiserver');
  await stopDaemon(dir, 'etcd');

  // kube-proxy and kube-router remove their own iptables chains.
  const binaries = await ensureClusterBinaries({ env, groups: ['kubernetes', 'kube-router'] }).catch(
    () => undefined,
  );
  if (binaries) {
    await run(binaries.binaries['kube-proxy'], ['--cleanup'], { env: process.env });
    await run(binaries.binaries['kube-router'], ['--cleanup-config'], { env: process.env });
  }
  await removeContainerLogLinks(dir);
  await removeEmptyRuntimeDirs();
  const removedRules = await removeIptablesLeftovers();
  await unmountUnder(dir);
  await removeCgroups();
  await removeBridge();
  await rm(dir, { recursive: true, force: true }).catch(async (error: unknown) => {
    // A mount that came back (a late container exit) makes rm fail once; unmount and retry.
    await unmountUnder(dir);
    await rm(dir, { recursive: true, force: true }).catch(() => {
      throw new ClusterError('COMMAND_FAILED', `could not remove ${dir}: ${String(error)}`);
    });
  });
  const left = await stat(dir).then(
    () => true,
    () => false,
  );
  if (left) log(`${dir} could not be removed`);
  return { removedRules };
}
