// Command line for the one-node cluster (the Makefile's cluster-* targets):
//   node packages/cluster/src/cli.ts build    build (or reuse) every binary and image the cluster runs
//   node packages/cluster/src/cli.ts up       start the cluster (idempotent); prints export KUBECONFIG=...
//   node packages/cluster/src/cli.ts down     stop it and remove everything it left on the machine
//   node packages/cluster/src/cli.ts status   which components run, whether the node is Ready
import { ensureControlPlaneBinaries } from '@switchboard/envtest';
import { ensureClusterBinaries } from './binaries.ts';
import { clusterUp } from './cluster.ts';
import { ClusterError } from './errors.ts';
import { ensureClusterImageArchives } from './images.ts';
import { clusterStatus } from './status.ts';
import { clusterDown } from './teardown.ts';

const log = (message: string) => console.warn(`[cluster] ${message}`);
const say = (message: string) => process.stdout.write(`${message}\n`);

async function build(): Promise<void> {
  const started = Date.now();
  const plane = await ensureControlPlaneBinaries({ log });
  const { binaries, results } = await ensureClusterBinaries({ log });
  await ensureClusterImageArchives(binaries, { log });
  say(`kube-apiserver and etcd: ${plane.source}`);
  for (const r of results) say(`${r.group}: ${r.source}${r.source === 'build' ? ` in ${r.seconds} s` : ''}`);
  say(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

async function up(): Promise<void> {
  const cluster = await clusterUp({ log });
  const timings = Object.entries(cluster.timings)
    .map(([name, seconds]) => `${name} ${seconds.toFixed(1)} s`)
    .join(', ');
  say(cluster.reused ? 'The cluster was already running.' : `The cluster is up (${timings}).`);
  say(`Ingresses answer at ${cluster.ingressUrl}`);
  say(`export KUBECONFIG=${cluster.kubeconfigPath}`);
}

async function down(): Promise<void> {
  await clusterDown({ log });
  say('The cluster is down.');
}

async function status(): Promise<void> {
  const s = await clusterStatus();
  say(`running: ${s.running.join(', ') || 'nothing'}`);
  if (s.stopped.length > 0) say(`stopped: ${s.stopped.join(', ')}`);
  say(`API server ready: ${s.apiReady}; node Ready: ${s.nodeReady}`);
}

const commands: Record<string, () => Promise<void>> = { build, up, down, status };
const command = commands[process.argv[2] ?? ''];
if (!command) {
  console.error('usage: node packages/cluster/src/cli.ts build|up|down|status');
  process.exitCode = 2;
} else {
  command().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    if (error instanceof ClusterError && error.output) console.error(error.output);
    process.exitCode = 1;
  });
}
