// The versions the test control plane is built from. They must agree with the Go modules in
// packages/envtest/go/ (versions.test.ts fails when they drift).

/** The pinned Kubernetes release; kube-apiserver is built from k8s.io/kubernetes at this version. */
export const KUBERNETES_VERSION = '1.35.4';

/**
 * The release's tag time, stamped as buildDate so /version is the same on every machine.
 * The Time that `go list -m -json k8s.io/kubernetes@v1.35.4` prints.
 */
export const KUBERNETES_RELEASE_DATE = '2026-04-15T18:01:22Z';

/**
 * The pinned etcd server. Kubernetes 1.35 vendors the etcd 3.6.5 client (its go.mod), and
 * etcd 3.6 is the line that Kubernetes 1.34+ is tested against.
 */
export const ETCD_VERSION = '3.6.5';
