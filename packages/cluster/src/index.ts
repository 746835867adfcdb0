// @switchboard/cluster: a real one-node Kubernetes on this machine (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, containerd, kubelet, kube-proxy, kube-router's
// NetworkPolicy controller, CoreDNS, Traefik), every binary and image built here.

export { apply, type Manifest, objectPath } from './addons.ts';
/** Build or reuse the binaries and images. */
export {
  BINARY_GROUPS,
  CLUSTER_BINARIES,
  type ClusterBinaries,
  type ClusterBinary,
  ensureClusterBinaries,
  type GroupResult,
} from './binaries.ts';
/** Start, stop, inspect the cluster. */
export { clusterUp, restartComponent } from './cluster.ts';
export { ClusterError, type ClusterErrorCode } from './errors.ts';
export { CLUSTER_IMAGES, ensureClusterImageArchives, importImages, listImages } from './images.ts';
export { CLUSTER_DOMAIN, NETWORK, NODE_NAME, PORTS } from './network.ts';
export { binariesCacheDir, clusterDir } from './paths.ts';
export {
  type ClusterOptions,
  COMPONENTS,
  type Component,
  clusterStatus,
  type RunningCluster,
  waitFor,
  waitForDeployment,
} from './status.ts';
export { clusterDown } from './teardown.ts';
export { COREDNS_VERSION, KUBE_ROUTER_VERSION, PAUSE_VERSION, TRAEFIK_VERSION } from './versions.ts';
