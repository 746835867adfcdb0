import type { V1Secret } from '@kubernetes/client-node';
import type { WhatsAppTenant } from '../api/v1alpha1/index.ts';
import { childNames } from './names.ts';
import { childMetadata } from './owner-reference.ts';

/**
 * The database Secret: connection URLs for the two roles packages/db provisions. Managed mode:
 * the operator writes `<tenant>-db` after provisioning (built here). External mode: the tenant
 * supplies a Secret with the same keys (spec.database.external.secretRef).
 */

/** Keys of a database Secret. */
export const DATABASE_SECRET_KEYS = {
  /** URL as the owner role, which runs migrations. */
  ownerUrl: 'ownerUrl',
  /** URL as the application role (NOSUPERUSER NOBYPASSRLS), which the API and workers use. */
  appUrl: 'appUrl',
  /** Name of the application role, granted DML by the migrations. */
  appRole: 'appRole',
} as const;

/** Contents of a database Secret. */
export type DatabaseSecretValues = Record<keyof typeof DATABASE_SECRET_KEYS, string>;

/** Name of the Secret the tenant's database URLs are read from, whichever the mode. */
export function databaseSecretName(tenant: WhatsAppTenant): string {
  const { database } = tenant.spec;
  return database.mode === 'external' ? database.external!.secretRef.name : childNames(tenant).databaseSecret;
}

/** The managed database's Secret, from what provisioning returned. */
export function buildManagedDatabaseSecret(tenant: WhatsAppTenant, values: DatabaseSecretValues): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: childMetadata(tenant, childNames(tenant).databaseSecret, 'config'),
    type: 'Opaque',
    data: Object.fromEntries(
      Object.entries(DATABASE_SECRET_KEYS).map(([field, key]) => [
        key,
        Buffer.from(values[field as keyof DatabaseSecretValues], 'utf8').toString('base64'),
      ]),
    ),
  };
}
