import { API_VERSION, KIND, type WhatsAppTenant } from '../api/v1alpha1/index.ts';
import { tenantNamespace } from '../specs/names.ts';
import type { ReconcileContext, ReconcileResult } from './reconcile-context.ts';
import { DATABASE_FINALIZER, dropManagedDatabase } from './tenant-database.ts';

/**
 * The finalizer of a managed-database tenant: added before anything is provisioned, and on
 * deletion removed only once the database is dropped (deletionPolicy Delete) or kept (Retain).
 */

// A deletion that waits for a platform Postgres to be configured is tried again this often.
const FINALIZER_RETRY_MS = 60_000;

/** metadata fields the schema leaves loose (the API server owns them). */
export function finalizersOf(tenant: WhatsAppTenant): string[] {
  return (tenant.metadata.finalizers as string[] | undefined) ?? [];
}

/** Adds the database finalizer to a managed tenant that lacks it (a 422 when the cache was behind). */
export async function addDatabaseFinalizer(ctx: ReconcileContext, tenant: WhatsAppTenant): Promise<void> {
  if (tenant.spec.database.mode !== 'managed' || finalizersOf(tenant).includes(DATABASE_FINALIZER)) return;
  await ctx.client.jsonPatch(API_VERSION, KIND, tenantNamespace(tenant), tenant.metadata.name, [
    { op: 'test', path: '/metadata/resourceVersion', value: tenant.metadata.resourceVersion },
    tenant.metadata.finalizers
      ? { op: 'add', path: '/metadata/finalizers/-', value: DATABASE_FINALIZER }
      : { op: 'add', path: '/metadata/finalizers', value: [DATABASE_FINALIZER] },
  ]);
}

/** A deleted tenant: its managed database dropped or kept, then the finalizer removed. */
export async function finalize(ctx: ReconcileContext, tenant: WhatsAppTenant): Promise<ReconcileResult> {
  const finalizers = finalizersOf(tenant);
  const index = finalizers.indexOf(DATABASE_FINALIZER);
  if (index === -1) return {};
  if (tenant.spec.database.mode === 'managed' && tenant.spec.database.deletionPolicy === 'Delete') {
    const adminUrl = await ctx.platformDatabaseUrl();
    if (!adminUrl) {
      void ctx.events.warning(
        tenant,
        'DatabaseNotDropped',
        'No platform Postgres is configured; the finalizer stays until one is.',
      );
      return { requeueAfter: FINALIZER_RETRY_MS };
    }
    await dropManagedDatabase(adminUrl, tenant);
    void ctx.events.normal(
      tenant,
      'DatabaseDropped',
      'The managed database and its roles were dropped (deletionPolicy Delete).',
    );
  }
  // The test op makes the removal fail (and be retried) if someone changed the list meanwhile.
  await ctx.client.jsonPatch(API_VERSION, KIND, tenantNamespace(tenant), tenant.metadata.name, [
    { op: 'test', path: `/metadata/finalizers/${index}`, value: DATABASE_FINALIZER },
    { op: 'remove', path: `/metadata/finalizers/${index}` },
  ]);
  return {};
}
