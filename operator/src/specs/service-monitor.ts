import type { V1LabelSelector, V1ObjectMeta } from '@kubernetes/client-node';
import type { WhatsAppTenant } from '../api/v1alpha1/index.ts';
import { TENANT_LABEL, tenantNamespace, tenantSelectorLabels } from './names.ts';
import { childMetadata } from './owner-reference.ts';

/** A Prometheus Operator ServiceMonitor (monitoring.coreos.com/v1), the fields used here. */
export interface ServiceMonitor {
  apiVersion: 'monitoring.coreos.com/v1';
  kind: 'ServiceMonitor';
  metadata: V1ObjectMeta;
  spec: {
    selector: V1LabelSelector;
    namespaceSelector: { matchNames: string[] };
    endpoints: { port: string; path: string; interval: string; scrapeTimeout: string }[];
    targetLabels: string[];
  };
}

/**
 * The ServiceMonitor for the API and worker metrics Services; undefined when
 * spec.observability.serviceMonitor is false. The controller applies it only where the cluster
 * serves the ServiceMonitor CRD (API discovery), since applying it elsewhere fails.
 */
export function buildServiceMonitor(tenant: WhatsAppTenant): ServiceMonitor | undefined {
  if (!tenant.spec.observability.serviceMonitor) return undefined;
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: childMetadata(tenant, tenant.metadata.name, 'config'),
    spec: {
      selector: {
        matchLabels: { ...tenantSelectorLabels(tenant), 'app.kubernetes.io/name': 'switchboard' },
        matchExpressions: [{ key: 'app.kubernetes.io/component', operator: 'In', values: ['api', 'worker'] }],
      },
      namespaceSelector: { matchNames: [tenantNamespace(tenant)] },
      endpoints: [{ port: 'metrics', path: '/metrics', interval: '30s', scrapeTimeout: '10s' }],
      // Every series gets the tenant as a label, so dashboards can filter by tenant.
      targetLabels: [TENANT_LABEL],
    },
  };
}
