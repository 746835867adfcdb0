import type { V1Ingress } from '@kubernetes/client-node';
import type { WhatsAppTenant } from '../api/v1alpha1/index.ts';
import { childNames } from './names.ts';
import { childMetadata } from './owner-reference.ts';

/**
 * The Ingress in front of the API (inbox, REST API, Meta's webhooks all on one host); undefined
 * when spec.api.ingress is unset, and the controller then deletes any it made before.
 */
export function buildApiIngress(tenant: WhatsAppTenant): V1Ingress | undefined {
  const ingress = tenant.spec.api.ingress;
  if (ingress === undefined) return undefined;
  const name = childNames(tenant).api;
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: childMetadata(
      tenant,
      name,
      'api',
      ingress.annotations ? { annotations: ingress.annotations } : {},
    ),
    spec: {
      ...(ingress.className ? { ingressClassName: ingress.className } : {}),
      ...(ingress.tlsSecretName
        ? { tls: [{ hosts: [ingress.host], secretName: ingress.tlsSecretName }] }
        : {}),
      rules: [
        {
          host: ingress.host,
          http: {
            paths: [
              { path: '/', pathType: 'Prefix', backend: { service: { name, port: { name: 'http' } } } },
            ],
          },
        },
      ],
    },
  };
}
