import {
  API_VERSION,
  KIND,
  type WhatsAppTenant,
  type WhatsAppTenantSpecInput,
  whatsAppTenantSchema,
} from '../api/v1alpha1/index.ts';
import type { OperatorConfig } from '../specs/operator-config.ts';

/** Test-only: tenants and operator settings for the operator's tests and its benchmark. */

/** Options for tenantFixture. */
export interface TenantFixtureOptions {
  name?: string;
  namespace?: string;
  uid?: string;
}

/**
 * A tenant as the API server would return it: parsed (defaults applied, rules checked) and
 * with the uid and namespace stored objects have.
 */
export function tenantFixture(
  spec: WhatsAppTenantSpecInput = {},
  options: TenantFixtureOptions = {},
): WhatsAppTenant {
  return whatsAppTenantSchema.parse({
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: {
      name: options.name ?? 'acme',
      namespace: options.namespace ?? 'tenants',
      uid: options.uid ?? '4923c631-9c95-4740-8c25-e80159ce85f1',
      generation: 1,
    },
    spec,
  });
}

/** Operator settings as a chart install would give them. */
export function operatorConfigFixture(overrides: Partial<OperatorConfig> = {}): OperatorConfig {
  return {
    images: {
      api: 'ghcr.io/switchboard/api:1.4.2',
      worker: 'ghcr.io/switchboard/worker:1.4.2',
      redis: 'redis:7.4-alpine',
    },
    clusterDomain: 'cluster.local',
    logLevel: 'info',
    network: {
      ingressController: [
        { namespace: 'ingress-nginx', podLabels: { 'app.kubernetes.io/name': 'ingress-nginx' } },
      ],
      prometheus: [{ namespace: 'monitoring', podLabels: { 'app.kubernetes.io/name': 'prometheus' } }],
      dns: [{ namespace: 'kube-system', podLabels: { 'k8s-app': 'kube-dns' } }],
      postgres: {
        peers: [{ namespace: 'switchboard-system', podLabels: { 'cnpg.io/cluster': 'platform' } }],
        port: 5432,
      },
      workerInternetPorts: [443, 5222],
    },
    ...overrides,
  };
}
