// Command line for the envtest binaries and control plane:
//   node packages/envtest/src/cli.ts build   build (or reuse) kube-apiserver and etcd, extract helm and kubectl
//   node packages/envtest/src/cli.ts start   start a control plane and keep it running until Ctrl-C
// `make envtest-binaries` and CI run `build` before the tests, so a cold build (minutes) never
// runs inside a test timeout.
import { ensureControlPlaneBinaries } from './binaries.ts';
import { startControlPlane } from './control-plane.ts';
import { EnvtestError } from './errors.ts';
import { ensureTools } from './tools.ts';
import { ETCD_VERSION, KUBERNETES_VERSION } from './versions.ts';

const log = (message: string) => console.warn(`[envtest] ${message}`);
const say = (message: string) => process.stdout.write(`${message}\n`);

async function build(): Promise<void> {
  const started = Date.now();
  const [binaries, tools] = await Promise.all([ensureControlPlaneBinaries({ log }), ensureTools()]);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const how = {
    assets: 'taken from KUBEBUILDER_ASSETS / TEST_ASSET_*',
    cache: 'reused from the cache',
    build: 'built',
  };
  say(
    `envtest binaries for Kubernetes ${KUBERNETES_VERSION} / etcd ${ETCD_VERSION} ${how[binaries.source]} in ${seconds} s:`,
  );
  say(`  kube-apiserver ${binaries.kubeApiserver}`);
  say(`  etcd           ${binaries.etcd}`);
  say(`  helm           ${tools.helm}`);
  say(`  kubectl        ${tools.kubectl}`);
}

async function start(): Promise<void> {
  const started = Date.now();
  const plane = await startControlPlane();
  say(`kube-apiserver ${plane.version.gitVersion} ready at ${plane.server} in ${Date.now() - started} ms`);
  say(`export KUBECONFIG=${plane.kubeconfigPath}`);
  say('Ctrl-C stops it and removes its directory.');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await plane.stop();
}

const commands: Record<string, () => Promise<void>> = { build, start };
const command = commands[process.argv[2] ?? ''];
if (!command) {
  console.error('usage: node packages/envtest/src/cli.ts build|start');
  process.exitCode = 2;
} else {
  command().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    if (error instanceof EnvtestError && error.output) console.error(error.output);
    process.exitCode = 1;
  });
}
