import type { V1Secret } from '@kubernetes/client-node';
import type { WhatsAppTenant } from '../api/v1alpha1/index.ts';
import {
  buildManagedDatabaseSecret,
  DATABASE_SECRET_KEYS,
  databaseSecretName,
} from '../specs/database-secret.ts';
import { tenantNamespace } from '../specs/names.ts';
import { createIfMissing } from './apply-children.ts';
import { secretValue } from './platform-database.ts';
import type { ReconcileContext } from './reconcile-context.ts';
import { provisionManagedDatabase } from './tenant-database.ts';
import type { Observation } from './tenant-status.ts';

/**
 * The tenant's database, as the DatabaseReady observation and the Secret the pods read it from.
 * Managed: provisioned on the platform Postgres once, the operator's own Secret (from the
 * informer cache) holding the URLs; external: the tenant's Secret (not watched), checked for
 * every key.
 */
export async function ensureDatabase(
  ctx: ReconcileContext,
  tenant: WhatsAppTenant,
): Promise<{ observation: Observation; secret: V1Secret | undefined }> {
  const namespace = tenantNamespace(tenant);
  const secretName = databaseSecretName(tenant);
  // Managed: the operator's own Secret (cached); external: the tenant's (not watched).
  const existing =
    tenant.spec.database.mode === 'managed'
      ? await ctx.reader.get<V1Secret>('v1', 'Secret', namespace, secretName)
      : await ctx.client.get<V1Secret>('v1', 'Secret', namespace, secretName);
  const missingKeys = Object.values(DATABASE_SECRET_KEYS).filter((k) => !secretValue(existing, k));
  if (tenant.spec.database.mode === 'external') {
    if (!existing) {
      return {
        observation: {
          ok: false,
          reason: 'SecretNotFound',
          message: `Secret ${secretName} (spec.database.external.secretRef) does not exist in ${namespace}.`,
        },
        secret: undefined,
      };
    }
    if (missingKeys.length > 0) {
      return {
        observation: {
          ok: false,
          reason: 'SecretIncomplete',
          message: `Secret ${secretName} lacks ${missingKeys.join(', ')}.`,
        },
        secret: existing,
      };
    }
    return {
      observation: {
        ok: true,
        reason: 'ExternalDatabase',
        message: `Using the database in Secret ${secretName}.`,
      },
      secret: existing,
    };
  }
  if (existing && missingKeys.length === 0) {
    return {
      observation: {
        ok: true,
        reason: 'Provisioned',
        message: 'The managed database and its roles exist.',
      },
      secret: existing,
    };
  }
  const adminUrl = await ctx.platformDatabaseUrl();
  if (!adminUrl) {
    return {
      observation: {
        ok: false,
        reason: 'PlatformDatabaseMissing',
        message:
          'database.mode is managed but the operator has no platform Postgres (chart value platformPostgres.secretName).',
      },
      secret: existing,
    };
  }
  try {
    const values = await provisionManagedDatabase(adminUrl, tenant);
    const { live } = await createIfMissing(
      ctx.client,
      ctx.reader,
      buildManagedDatabaseSecret(tenant, values),
    );
    void ctx.events.normal(
      tenant,
      'DatabaseProvisioned',
      `Created the database and roles on the platform Postgres; URLs in Secret ${secretName}.`,
    );
    return {
      observation: {
        ok: true,
        reason: 'Provisioned',
        message: 'The managed database and its roles exist.',
      },
      secret: live,
    };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // Never the URL: it holds the admin password. pg's messages name the server, not the URL.
    return {
      observation: {
        ok: false,
        reason: 'ProvisioningFailed',
        message: `Provisioning the database failed: ${message}`,
      },
      secret: existing,
    };
  }
}
