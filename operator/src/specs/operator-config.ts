import type { WhatsAppTenant } from '../api/v1alpha1/index.ts';

/**
 * What the builders need to know about the operator's installation (chart values), as opposed
 * to the tenant. The runtime reads it once at start (environment, zod); the builders take it as
 * a plain value so tests can say exactly what they build against.
 */

/** Images the tenant stacks run, unless a tenant overrides them in spec.images. */
export interface OperatorImages {
  /** API image; it also runs the migration Job (`node packages/db/src/cli.ts up`). */
  api: string;
  /** Worker image. */
  worker: string;
  /** Redis 7+ image that also has redis-sentinel, redis-cli, sh and timeout (e.g. redis:7.4-alpine). */
  redis: string;
}

/**
 * Pods a NetworkPolicy allows traffic with: pods (optionally of some labels) in a namespace, or
 * an address range outside the cluster.
 */
export type NetworkPeer =
  | { namespace: string; podLabels?: Record<string, string> }
  | { cidr: string; except?: string[] };

/** Where the traffic the tenant's NetworkPolicies allow comes from and goes to. */
export interface NetworkConfig {
  /** The ingress controller's pods, which reach the API. */
  ingressController: NetworkPeer[];
  /** Prometheus, which scrapes the API and workers. */
  prometheus: NetworkPeer[];
  /** Cluster DNS (CoreDNS): every pod resolves names. */
  dns: NetworkPeer[];
  /** Ports the DNS pods listen on (after the kube-dns Service's DNAT); 53 when absent. */
  dnsPorts?: number[];
  /** The platform Postgres that managed databases live on. */
  postgres: { peers: NetworkPeer[]; port: number };
  /** The OpenTelemetry collector tenants send traces to; any pod in the cluster when absent. */
  otelCollector?: NetworkPeer[];
  /** Ports workers may reach on the internet: WhatsApp (443, 5222) and webhook targets. */
  workerInternetPorts: number[];
  /**
   * The operator's pods, which read each tenant API's /internal/status and ask for the owner
   * invite; the runtime defaults it to the operator's namespace. None: no such rule (and the
   * Sessions column stays unknown where NetworkPolicies are enforced).
   */
  operator?: NetworkPeer[];
}

/** The operator-wide settings the builders use. */
export interface OperatorConfig {
  /** Default images. */
  images: OperatorImages;
  /** Pull policy of every container; Kubernetes' default (by tag) when absent. */
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** Names of image pull Secrets, which must exist in each tenant namespace. */
  imagePullSecrets?: string[];
  /** Cluster DNS domain, for the Redis pods' stable names. */
  clusterDomain: string;
  /** The platform kill switch of every tenant's AI assistant (chart tenantStack.assistantEnabled); on when absent. */
  assistantEnabled?: boolean;
  /** LOG_LEVEL given to the tenant's services. */
  logLevel: string;
  /** NetworkPolicy peers. */
  network: NetworkConfig;
}

/** The images one tenant runs: its overrides, else the operator's. */
export function tenantImages(tenant: WhatsAppTenant, config: OperatorConfig): OperatorImages {
  const overrides = tenant.spec.images ?? {};
  return {
    api: overrides.api ?? config.images.api,
    worker: overrides.worker ?? config.images.worker,
    redis: overrides.redis ?? config.images.redis,
  };
}
