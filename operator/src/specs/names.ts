import type { WhatsAppTenant } from '../api/v1alpha1/index.ts';
import { SpecError } from './errors.ts';

/**
 * Names, labels and ports of a tenant's children, in one place so builders, NetworkPolicies,
 * selectors and (later) the controller's lookups cannot drift apart.
 */

/** Label on every child: which tenant it belongs to. Tenant-wide selectors use it. */
export const TENANT_LABEL = 'switchboard.dev/tenant';
/** Pod-template annotation whose change rolls the pods (see config-hash.ts). */
export const CONFIG_HASH_ANNOTATION = 'switchboard.dev/config-hash';
/** Value of app.kubernetes.io/managed-by on every child. */
export const MANAGED_BY = 'switchboard-operator';
/** Sentinel's name for the tenant's Redis primary, as Sentinel deployments conventionally call it. */
export const REDIS_MASTER_NAME = 'mymaster';

/** The parts of a tenant stack, as app.kubernetes.io/component says. */
export type Component = 'api' | 'worker' | 'redis' | 'sentinel' | 'migrations' | 'config';

/** Container ports, fixed so policies, probes and Services agree without configuration. */
export const PORTS = {
  /** API HTTP: REST API, inbox, webhooks, health. */
  http: 8080,
  /** Prometheus metrics and, on workers, /livez and /readyz. */
  metrics: 9464,
  redis: 6379,
  sentinel: 26379,
} as const;

/** Names of every child of a tenant. */
export interface ChildNames {
  /** ServiceAccount, Deployment, Service, Ingress, HPA and PDB of the API. */
  api: string;
  /** ServiceAccount, Deployment, metrics Service and PDB of the workers. */
  worker: string;
  /** ServiceAccount of the migration Jobs (their own names carry the image: migration-job.ts). */
  migrations: string;
  /** ServiceAccount, StatefulSet, headless Service and PDB of Redis. */
  redis: string;
  /** StatefulSet, headless Service and PDB of the Sentinels (ServiceAccount: redis). */
  sentinel: string;
  /** ConfigMap of non-secret settings and declared sessions. */
  config: string;
  /** ConfigMap with the Redis and Sentinel start and probe scripts. */
  redisScripts: string;
  /** Secret the operator generates once: signing key, internal token, Redis password. */
  generatedSecret: string;
  /** Secret with the managed database's connection URLs. */
  databaseSecret: string;
  /** Secret with the first owner's invite link, while it is not accepted (spec.owner). */
  ownerInvite: string;
}

/** The names of a tenant's children: `<tenant>-<part>`. */
export function childNames(tenant: WhatsAppTenant): ChildNames {
  const base = tenant.metadata.name;
  return {
    api: `${base}-api`,
    worker: `${base}-worker`,
    migrations: `${base}-migrations`,
    redis: `${base}-redis`,
    sentinel: `${base}-sentinel`,
    config: `${base}-config`,
    redisScripts: `${base}-redis-scripts`,
    generatedSecret: `${base}-internal`,
    databaseSecret: `${base}-db`,
    ownerInvite: `${base}-owner-invite`,
  };
}

/** Labels every child carries, whatever its component. */
export function tenantLabels(tenant: WhatsAppTenant): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'switchboard',
    'app.kubernetes.io/instance': tenant.metadata.name,
    'app.kubernetes.io/part-of': 'switchboard',
    'app.kubernetes.io/managed-by': MANAGED_BY,
    [TENANT_LABEL]: tenant.metadata.name,
  };
}

/** Labels of one component's objects and pods. */
export function componentLabels(tenant: WhatsAppTenant, component: Component): Record<string, string> {
  return { ...tenantLabels(tenant), 'app.kubernetes.io/component': component };
}

/**
 * The labels a workload selects its pods by. Deliberately few and never-changing: a
 * Deployment's or StatefulSet's selector is immutable, so anything added here later would
 * force deleting and recreating the workload.
 */
export function selectorLabels(tenant: WhatsAppTenant, component: Component): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'switchboard',
    'app.kubernetes.io/instance': tenant.metadata.name,
    'app.kubernetes.io/component': component,
  };
}

/** Selects every pod of the tenant (NetworkPolicies' default deny). */
export function tenantSelectorLabels(tenant: WhatsAppTenant): Record<string, string> {
  return { [TENANT_LABEL]: tenant.metadata.name };
}

/** `a=1,b=2`: a label selector as a string, e.g. for status.selector. */
export function labelSelectorString(labels: Record<string, string>): string {
  return Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
}

/** The worker pods' selector as status.selector, which the scale subresource reads. */
export function workerSelector(tenant: WhatsAppTenant): string {
  return labelSelectorString(selectorLabels(tenant, 'worker'));
}

/** Namespace of a tenant's children: the tenant's own. */
export function tenantNamespace(tenant: WhatsAppTenant): string {
  const namespace = tenant.metadata.namespace;
  if (namespace === undefined || namespace === '') {
    throw new SpecError(
      'TENANT_NOT_STORED',
      `WhatsAppTenant ${tenant.metadata.name} has no namespace; build from the object the API server returned`,
    );
  }
  return namespace;
}

/** Stable DNS name of pod `ordinal` of a StatefulSet behind its headless Service. */
export function statefulPodHost(
  statefulSet: string,
  ordinal: number,
  namespace: string,
  clusterDomain: string,
): string {
  return `${statefulSet}-${ordinal}.${statefulSet}.${namespace}.svc.${clusterDomain}`;
}
