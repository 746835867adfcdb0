import { KubeConfig } from '@kubernetes/client-node';
import { EnvtestError } from './errors.ts';

/** Which service account to act as. */
export interface ImpersonateOptions {
  namespace: string;
  serviceAccount: string;
}

/**
 * Returns a KubeConfig that sends every request as system:serviceaccount:<ns>:<name> (the
 * Impersonate-User header; the API server adds the service-account groups itself), so a test
 * can prove that an RBAC Role grants what a component needs, and nothing it does not. The
 * service account does not have to exist: RBAC only looks at the name.
 */
export function impersonate(kc: KubeConfig, options: ImpersonateOptions): KubeConfig {
  const cluster = kc.getCurrentCluster();
  const user = kc.getCurrentUser();
  if (!cluster || !user)
    throw new EnvtestError('NOT_CONFIGURED', 'the KubeConfig has no current cluster or user');
  const username = `system:serviceaccount:${options.namespace}:${options.serviceAccount}`;
  const impersonated = new KubeConfig();
  impersonated.loadFromOptions({
    clusters: [cluster],
    users: [{ ...user, name: username, impersonateUser: username }],
    contexts: [{ name: username, cluster: cluster.name, user: username, namespace: options.namespace }],
    currentContext: username,
  });
  return impersonated;
}
