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
  await tx.auditLogEntry.create({
    data: {
      tenantId: request.principal.tenantId,
      ...actorOf(request),
      action,
      targetType: target.type,
      targetId: target.id,
      metadata,
    },
  });
}
