// The versions the cluster's own components are built from. Kubernetes itself (kubelet,
// kube-proxy, kube-scheduler, kube-controller-manager) follows packages/envtest's pin, the
// version of the kube-apiserver it runs with (go/kube/go.mod requires the same release).

/** github.com/coredns/coredns, go/coredns/go.mod. */
export const COREDNS_VERSION = 'v1.15.0';
/**
 * github.com/traefik/traefik/v3, built from its own module tree. v3.7.13 (and v3.7.x) cannot be
 * built here: the module proxy answers 403 "This module version is not available" for some of
 * its dependencies (github.com/containous/go-http-auth v0.4.1-0.20260804094822-b975dcaa8c48,
 * lego's oci-go-sdk, sacloud, ucloud and yandex-cloud SDK versions). v3.6.12 resolves fully.
 */
export const TRAEFIK_VERSION = 'v3.6.12';
/** github.com/cloudnativelabs/kube-router/v2, its NetworkPolicy controller. */
export const KUBE_ROUTER_VERSION = 'v2.1.0';
/** The -DVERSION the pause binary is compiled with, and its image tag. */
export const PAUSE_VERSION = '3.10';
