import type { V1ObjectMeta, V1OwnerReference } from '@kubernetes/client-node';
import { API_VERSION, KIND, type WhatsAppTenant } from '../api/v1alpha1/index.ts';
import { SpecError } from './errors.ts';
import { type Component, componentLabels, tenantNamespace } from './names.ts';

/**
 * The owner reference every child carries. controller: true marks the tenant as the one
 * controller of the child (adoption by anything else is refused; owner lookups find it);
 * blockOwnerDeletion: true makes foreground deletion of the tenant wait for its children.
 * Garbage collection then deletes the children with the tenant: no finalizer needed for them.
 */
export function tenantOwnerReference(tenant: WhatsAppTenant): V1OwnerReference {
  const uid = tenant.metadata.uid;
  if (uid === undefined || uid === '') {
    throw new SpecError(
      'TENANT_NOT_STORED',
      `WhatsAppTenant ${tenant.metadata.name} has no uid; owner references need the object the API server returned`,
    );
  }
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: tenant.metadata.name,
    uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** Options for childMetadata. */
export interface ChildMetadataOptions {
  /** Labels beyond the component's own. */
  labels?: Record<string, string>;
  /** Annotations of the object. */
  annotations?: Record<string, string>;
}

/** Metadata of a child: its name, the tenant's namespace, component labels and owner reference. */
export function childMetadata(
  tenant: WhatsAppTenant,
  name: string,
  component: Component,
  options: ChildMetadataOptions = {},
): V1ObjectMeta {
  return {
    name,
    namespace: tenantNamespace(tenant),
    labels: { ...componentLabels(tenant, component), ...options.labels },
    ...(options.annotations ? { annotations: options.annotations } : {}),
    ownerReferences: [tenantOwnerReference(tenant)],
  };
}
