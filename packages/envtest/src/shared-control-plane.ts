import { KubeConfig } from '@kubernetes/client-node';
import { inject } from 'vitest';
import type { KubernetesVersionInfo } from './control-plane.ts';
import { EnvtestError } from './errors.ts';
import type { CliTools } from './tools.ts';

/** What the global setup hands to every test file (plain data: it crosses process boundaries). */
export interface SharedControlPlaneInfo {
  /** Admin kubeconfig file (credentials inline), for kubectl and helm. */
  kubeconfigPath: string;
  /** The same kubeconfig as YAML text. */
  kubeconfig: string;
  /** https://127.0.0.1:<port> */
  server: string;
  /** PEM CA of the serving certificate. */
  caCertificate: string;
  /** What the API server reports at /version. */
  version: KubernetesVersionInfo;
  /** Where the binaries came from: assets, cache or build. */
  binarySource: string;
  /** helm and kubectl, already extracted. */
  tools: CliTools;
}

declare module 'vitest' {
  export interface ProvidedContext {
    envtest: SharedControlPlaneInfo;
  }
}

/** The shared control plane, as a test file sees it. */
export interface SharedControlPlane extends SharedControlPlaneInfo {
  /** A fresh admin KubeConfig (system:masters) for the shared API server. */
  kubeConfig: KubeConfig;
}

/**
 * Returns the control plane that packages/envtest/src/global-setup.ts started for this test
 * run. Call it inside a test file (it reads vitest's inject('envtest')).
 */
export function useControlPlane(): SharedControlPlane {
  const info = inject('envtest');
  if (!info) {
    throw new EnvtestError(
      'NOT_CONFIGURED',
      "no shared control plane: add 'packages/envtest/src/global-setup.ts' to globalSetup in the vitest config",
    );
  }
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(info.kubeconfig);
  return { ...info, kubeConfig };
}
