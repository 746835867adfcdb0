import type { V1Job } from '@kubernetes/client-node';
import type { WhatsAppTenant } from '../api/v1alpha1/index.ts';
import { buildMigrationJob } from '../specs/migration-job.ts';
import { tenantNamespace } from '../specs/names.ts';
import { tenantImages } from '../specs/operator-config.ts';
import { createIfMissing } from './apply-children.ts';
import { jobState } from './child-observations.ts';
import type { ReconcileContext } from './reconcile-context.ts';
import type { MigrationState } from './tenant-status.ts';

/**
 * The migration Job for the tenant's target image: created once the database is ready (an
 * existing one is only observed before that); its state gates the API and worker rollout.
 */
export async function ensureMigrations(
  ctx: ReconcileContext,
  tenant: WhatsAppTenant,
  databaseReady: boolean,
): Promise<{ state: MigrationState; reason: string; message: string }> {
  const job = buildMigrationJob(tenant, ctx.config);
  const image = tenantImages(tenant, ctx.config).api;
  if (!databaseReady) {
    const existing = await ctx.reader.get<V1Job>(
      'batch/v1',
      'Job',
      tenantNamespace(tenant),
      job.metadata!.name!,
    );
    if (!existing) {
      return {
        state: 'Blocked',
        reason: 'WaitingForDatabase',
        message: `Migrations for ${image} wait for the database.`,
      };
    }
    return jobState(existing);
  }
  const { created, live } = await createIfMissing(ctx.client, ctx.reader, job);
  if (created) {
    void ctx.events.normal(
      tenant,
      'MigrationStarted',
      `Started migration Job ${live.metadata?.name} for ${image}.`,
    );
  }
  return jobState(live);
}
