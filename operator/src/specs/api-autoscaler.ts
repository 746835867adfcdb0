import type { V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import type { WhatsAppTenant } from '../api/v1alpha1/index.ts';
import { childNames } from './names.ts';
import { childMetadata } from './owner-reference.ts';

/**
 * The API's HorizontalPodAutoscaler (CPU); undefined when autoscaling is off or the tenant is
 * suspended (an HPA would scale a suspended API back up to minReplicas).
 */
export function buildApiAutoscaler(tenant: WhatsAppTenant): V2HorizontalPodAutoscaler | undefined {
  const { autoscaling } = tenant.spec.api;
  if (!autoscaling.enabled || tenant.spec.suspend) return undefined;
  const name = childNames(tenant).api;
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: childMetadata(tenant, name, 'api'),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
      minReplicas: autoscaling.minReplicas,
      maxReplicas: autoscaling.maxReplicas,
      metrics: [
        {
          type: 'Resource',
          resource: {
            name: 'cpu',
            target: { type: 'Utilization', averageUtilization: autoscaling.targetCPUUtilizationPercentage },
          },
        },
      ],
    },
  };
}
