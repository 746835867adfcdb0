import { type Prisma, type TenantTx, tenantIdForSlug, withTenant } from '@switchboard/db';
import { recordAudit } from '../audit.ts';
import type { ApiContext } from '../context.ts';

/** Appends an audit entry of SSO sign-in (the actor is the member, or the system before one is known). */
export async function recordSso(
  ctx: ApiContext,
  action: 'sso.linked' | 'sso.provisioned' | 'sso.refused',
  userId: string | undefined,
  metadata: Prisma.InputJsonObject,
  tx?: TenantTx,
): Promise<void> {
  const tenantId = tenantIdForSlug(ctx.defaultTenant);
  const entry = {
    tenantId,
    actorType: userId ? ('user' as const) : ('system' as const),
    actorId: userId ?? null,
    action,
    target: { type: userId ? 'user' : 'tenant', id: userId ?? tenantId },
    metadata,
  };
  if (tx) await recordAudit(tx, entry);
  else await withTenant(ctx.db, tenantId, (t) => recordAudit(t, entry));
}
