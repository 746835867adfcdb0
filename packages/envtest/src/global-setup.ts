// vitest globalSetup: starts ONE control plane for the whole test run (kube-apiserver takes
// several seconds to start; per-file planes would cost that in every file) and hands its
// kubeconfig to the test files through project.provide('envtest'); useControlPlane() reads it.
import type { TestProject } from 'vitest/node';
import { ensureControlPlaneBinaries } from './binaries.ts';
import { startControlPlane } from './control-plane.ts';
import type { SharedControlPlaneInfo } from './shared-control-plane.ts';
import { ensureTools } from './tools.ts';

const log = (message: string) => console.warn(`[envtest] ${message}`);

/** Starts the shared control plane and returns the teardown that stops it. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const [binaries, tools] = await Promise.all([ensureControlPlaneBinaries({ log }), ensureTools()]);
  const plane = await startControlPlane({ binaries });

  // Ctrl-C or a CI timeout: stop the children and remove the directory before going. stop() is
  // asynchronous, so the signal is re-raised once it is done, and only if nobody else (vitest)
  // handles that signal, so their shutdown still runs.
  const onSignal = (signal: NodeJS.Signals) => {
    void plane.stop().finally(() => {
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const info: SharedControlPlaneInfo = {
    kubeconfigPath: plane.kubeconfigPath,
    kubeconfig: plane.kubeConfig.exportConfig(),
    server: plane.server,
    caCertificate: plane.caCertificate,
    version: plane.version,
    binarySource: binaries.source,
    tools,
  };
  project.provide('envtest', info);
  log(
    `kube-apiserver ${plane.version.gitVersion} at ${plane.server} (${binaries.source} binaries, ready in ${Date.now() - started} ms)`,
  );

  return async () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await plane.stop();
  };
}
