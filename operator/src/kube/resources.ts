import { API_VERSION, KIND, PLURAL } from '../api/v1alpha1/index.ts';

/**
 * The kinds the operator reads and writes, with their REST paths. A static table rather than
 * discovery: the operator only ever touches these, and resolving them up front saves a
 * discovery round trip per kind and keeps the request count of a reconcile predictable.
 */

/** Where a kind lives in the REST API. */
export interface ResourceType {
  apiVersion: string;
  kind: string;
  /** Lower-case plural, as in the URL. */
  plural: string;
  namespaced: boolean;
}

const table: ResourceType[] = [
  { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true },
  { apiVersion: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true },
  { apiVersion: 'v1', kind: 'Service', plural: 'services', namespaced: true },
  { apiVersion: 'v1', kind: 'ServiceAccount', plural: 'serviceaccounts', namespaced: true },
  { apiVersion: 'v1', kind: 'Event', plural: 'events', namespaced: true },
  { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments', namespaced: true },
  { apiVersion: 'apps/v1', kind: 'StatefulSet', plural: 'statefulsets', namespaced: true },
  { apiVersion: 'batch/v1', kind: 'Job', plural: 'jobs', namespaced: true },
  { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', plural: 'poddisruptionbudgets', namespaced: true },
  { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', plural: 'ingresses', namespaced: true },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', plural: 'networkpolicies', namespaced: true },
  {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    plural: 'horizontalpodautoscalers',
    namespaced: true,
  },
  {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    plural: 'servicemonitors',
    namespaced: true,
  },
  {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    plural: 'prometheusrules',
    namespaced: true,
  },
  { apiVersion: API_VERSION, kind: KIND, plural: PLURAL, namespaced: true },
];

const byKey = new Map(table.map((type) => [`${type.apiVersion}/${type.kind}`, type]));

/** Thrown for a kind the table does not know: a programming error, not a cluster state. */
export class UnknownResourceTypeError extends Error {
  /** Stable code for logs. */
  readonly code = 'UNKNOWN_RESOURCE_TYPE';
  constructor(apiVersion: string, kind: string) {
    super(`the operator has no REST mapping for ${apiVersion} ${kind}; add it to kube/resources.ts`);
    this.name = 'UnknownResourceTypeError';
  }
}

/** The REST mapping of a kind. */
export function resourceType(apiVersion: string, kind: string): ResourceType {
  const type = byKey.get(`${apiVersion}/${kind}`);
  if (!type) throw new UnknownResourceTypeError(apiVersion, kind);
  return type;
}

/** `/api/v1/namespaces/ns/configmaps[/name]` or `/apis/apps/v1/...`. */
export function resourcePath(type: ResourceType, namespace: string | undefined, name?: string): string {
  const root = type.apiVersion.includes('/') ? `/apis/${type.apiVersion}` : `/api/${type.apiVersion}`;
  const ns = type.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  const tail = name === undefined ? '' : `/${encodeURIComponent(name)}`;
  return `${root}${ns}/${type.plural}${tail}`;
}
