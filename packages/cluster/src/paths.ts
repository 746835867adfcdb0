import { join } from 'node:path';
import { cacheRoot, type EnvtestEnv, KUBERNETES_VERSION } from '@switchboard/envtest';

/** The environment variables this package reads; passed in so tests can supply their own. */
export type ClusterEnv = EnvtestEnv;

/**
 * Where the cluster's binaries and images are cached, per Kubernetes version:
 * <cache>/cluster-binaries/<version>/ (bin/, images/, one stamp and one lock per group).
 */
export function binariesCacheDir(env: ClusterEnv, version: string = KUBERNETES_VERSION): string {
  return join(cacheRoot(env), 'cluster-binaries', version);
}

/**
 * The running cluster's folder: certificates, kubeconfigs, etcd data, containerd's root and
 * state, the kubelet's root, logs and pid files. $SWITCHBOARD_CLUSTER_DIR, else <cache>/cluster.
 * cluster-down removes it.
 */
export function clusterDir(env: ClusterEnv): string {
  return env.SWITCHBOARD_CLUSTER_DIR || join(cacheRoot(env), 'cluster');
}
