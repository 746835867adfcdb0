import type { V1ServiceAccount } from '@kubernetes/client-node';
import type { WhatsAppTenant } from '../api/v1alpha1/index.ts';
import { type Component, childNames } from './names.ts';
import { childMetadata } from './owner-reference.ts';

/**
 * One ServiceAccount per kind of pod (api, worker, migrations, redis), so an IAM or Vault role
 * can be granted to exactly one of them. None mounts an API token (see basePodSpec).
 */

/** EKS IRSA's annotation: the IAM role pods of this ServiceAccount assume. */
export const IRSA_ROLE_ANNOTATION = 'eks.amazonaws.com/role-arn';

/** The tenant's ServiceAccounts. */
export function buildServiceAccounts(tenant: WhatsAppTenant): V1ServiceAccount[] {
  const names = childNames(tenant);
  const roleArn = tenant.spec.secrets.aws?.roleArn;
  const accounts: [string, Component, boolean][] = [
    // [name, component, reads tenant secrets from AWS]
    [names.api, 'api', true],
    [names.worker, 'worker', true],
    [names.migrations, 'migrations', false],
    [names.redis, 'redis', false],
  ];
  return accounts.map(([name, component, readsSecrets]) => ({
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: childMetadata(
      tenant,
      name,
      component,
      roleArn && readsSecrets ? { annotations: { [IRSA_ROLE_ANNOTATION]: roleArn } } : {},
    ),
    automountServiceAccountToken: false,
  }));
}
