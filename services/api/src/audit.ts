import type { Prisma, TenantTx } from '@switchboard/db';
import type { FastifyRequest } from 'fastify';
import { actorOf } from './context.ts';

/** Appends an audit entry for the caller's action (in the same transaction as the change). */
export async function audit(
  tx: TenantTx,
  request: FastifyRequest,
  action: string,
  target: { type: string; id: string },
  metadata: Prisma.InputJsonObject = {},
): Promise<void> {
  await recordAudit(tx, {
    tenantId: request.principal.tenantId,
    ...actorOf(request),
    action,
    target,
    metadata,
  });
}

/**
 * Appends an audit entry without a signed-in caller (a sign-in, a failed one, a password reset):
 * the actor is the user the event is about, or the system (actorId null) when there is none.
 */
export async function recordAudit(
  tx: TenantTx,
  entry: {
    tenantId: string;
    actorType: 'user' | 'api_key' | 'system';
    actorId: string | null;
    action: string;
    target?: { type: string; id: string } | undefined;
    metadata?: Prisma.InputJsonObject | undefined;
  },
): Promise<void> {
  await tx.auditLogEntry.create({
    data: {
      tenantId: entry.tenantId,
      actorType: entry.actorType,
      actorId: entry.actorId,
      action: entry.action,
      targetType: entry.target?.type ?? null,
      targetId: entry.target?.id ?? null,
      metadata: entry.metadata ?? {},
    },
  });
}
