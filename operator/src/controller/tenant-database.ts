import { createHash, randomBytes } from 'node:crypto';
import { dropTenantDatabase, provisionTenantDatabase } from '@switchboard/db';
import type { WhatsAppTenant } from '../api/v1alpha1/index.ts';
import type { DatabaseSecretValues } from '../specs/database-secret.ts';
import { tenantNamespace } from '../specs/names.ts';

/**
 * Managed databases: a database and two roles per tenant on the platform Postgres, named from
 * the tenant so that two tenants of the same name in different namespaces never share one.
 */

/** The finalizer that holds a managed tenant's deletion until its database is dealt with. */
export const DATABASE_FINALIZER = 'switchboard.dev/database';

/** Database and role names of a managed tenant. */
export interface ManagedDatabaseNames {
  database: string;
  ownerRole: string;
  appRole: string;
}

/**
 * `sb_<name>_<8 hex of sha256(namespace/name)>`: readable in psql, unique per namespace, and
 * at most 3 + 40 + 1 + 8 + 6 = 58 characters with the role suffix, inside Postgres' 63.
 */
export function managedDatabaseNames(tenant: WhatsAppTenant): ManagedDatabaseNames {
  const namespace = tenantNamespace(tenant);
  const digest = createHash('sha256')
    .update(`${namespace}/${tenant.metadata.name}`)
    .digest('hex')
    .slice(0, 8);
  const base = `sb_${tenant.metadata.name.replace(/[^a-z0-9]/g, '_')}_${digest}`;
  return { database: base, ownerRole: `${base}_owner`, appRole: `${base}_app` };
}

/** Creates (or re-creates the passwords of) the tenant's database and roles; returns the Secret's values. */
export async function provisionManagedDatabase(
  adminUrl: string,
  tenant: WhatsAppTenant,
): Promise<DatabaseSecretValues> {
  const names = managedDatabaseNames(tenant);
  // Fresh passwords each time this runs: it runs only when the tenant's database Secret is
  // missing, so no running pod holds the old ones.
  const passwords = {
    owner: randomBytes(24).toString('base64url'),
    app: randomBytes(24).toString('base64url'),
  };
  const urls = await provisionTenantDatabase(adminUrl, { ...names, passwords });
  return { ownerUrl: urls.ownerUrl, appUrl: urls.appUrl, appRole: names.appRole };
}

/** Drops the tenant's database and roles (deletionPolicy Delete). */
export async function dropManagedDatabase(adminUrl: string, tenant: WhatsAppTenant): Promise<void> {
  const names = managedDatabaseNames(tenant);
  await dropTenantDatabase(adminUrl, { database: names.database, roles: [names.appRole, names.ownerRole] });
}
