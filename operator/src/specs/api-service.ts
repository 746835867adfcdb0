import type { V1Service } from '@kubernetes/client-node';
import type { WhatsAppTenant } from '../api/v1alpha1/index.ts';
import { childNames, PORTS, selectorLabels } from './names.ts';
import { childMetadata } from './owner-reference.ts';

/**
 * The API Service: `http` for the Ingress (port 80, so in-cluster callers need no port), and
 * `metrics` for the ServiceMonitor.
 */
export function buildApiService(tenant: WhatsAppTenant): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: childMetadata(tenant, childNames(tenant).api, 'api'),
    spec: {
      type: 'ClusterIP',
      selector: selectorLabels(tenant, 'api'),
      ports: [
        { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' },
        { name: 'metrics', port: PORTS.metrics, targetPort: 'metrics', protocol: 'TCP' },
      ],
    },
  };
}
