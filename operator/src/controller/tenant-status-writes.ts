import { API_VERSION, KIND, type WhatsAppTenant, type WhatsAppTenantStatus } from '../api/v1alpha1/index.ts';
import { KubeApiError } from '../kube/kube-client.ts';
import { tenantNamespace } from '../specs/names.ts';
import type { ReconcileContext } from './reconcile-context.ts';
import {
  buildStatus,
  failedStatus,
  replaceLists,
  sameStatus,
  type TenantObservations,
} from './tenant-status.ts';

/**
 * Writing a tenant's status: the one a pass observed, or the one of a pass that failed; each
 * only when it changed, with the Events a human should see on a transition.
 */

/** Where a pass is, for the status of one that fails. */
export interface Progress {
  step: string;
  done: string[];
}

/** Writes `status` over the tenant's (its lists replaced whole) through the status subresource. */
async function patchStatus(ctx: ReconcileContext, tenant: WhatsAppTenant, status: WhatsAppTenantStatus) {
  await ctx.client.mergePatch(
    API_VERSION,
    KIND,
    tenantNamespace(tenant),
    tenant.metadata.name,
    { status: replaceLists(tenant.status, status) },
    { subresource: 'status' },
  );
}

/** The API server's message without the request line; any other error's message. */
function errorMessage(error: unknown): string {
  if (error instanceof KubeApiError) return `${error.status} ${error.reason}: ${error.apiMessage}`;
  return error instanceof Error ? error.message : String(error);
}

/**
 * The status a pass observed (buildStatus), written when it changed; Events for a Degraded
 * or Ready transition.
 */
export async function writeStatus(
  ctx: ReconcileContext,
  tenant: WhatsAppTenant,
  observations: TenantObservations,
): Promise<WhatsAppTenantStatus> {
  const previous = tenant.status;
  const status = buildStatus(previous, observations, ctx.now());
  if (sameStatus(previous, status)) return status;
  await patchStatus(ctx, tenant, status);
  const before = new Map((previous?.conditions ?? []).map((c) => [c.type, c]));
  for (const c of status.conditions ?? []) {
    const old = before.get(c.type);
    if (old && old.status === c.status && old.reason === c.reason) continue;
    if (c.type === 'Degraded' && c.status === 'True') void ctx.events.warning(tenant, c.reason, c.message);
    if (c.type === 'Ready' && c.status === 'True') void ctx.events.normal(tenant, 'Ready', c.message);
  }
  return status;
}

/**
 * The status of a pass that failed at `progress.step`: Degraded (ReconcileFailed) with the
 * step, what was done before it and the API server's message; the other conditions keep
 * what the last complete pass found. Written only when it changed.
 */
export async function writeFailure(
  ctx: ReconcileContext,
  tenant: WhatsAppTenant,
  progress: Progress,
  error: unknown,
): Promise<void> {
  const previous = tenant.status;
  const generation = tenant.metadata.generation ?? 0;
  const message = `Reconcile failed at ${progress.step}: ${errorMessage(error).replace(/[.\s]*$/, '.')}${
    progress.done.length > 0 ? ` Done before it: ${progress.done.join(', ')}.` : ''
  } Retrying with backoff.`;
  const status = failedStatus(previous, generation, message, ctx.now());
  if (sameStatus(previous, status)) return;
  await patchStatus(ctx, tenant, status);
  void ctx.events.warning(tenant, 'ReconcileFailed', message);
}
