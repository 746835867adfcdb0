// Reading the audit log (append-only: entries are written by audit.ts inside each change's transaction).
import type { AuditLogEntry } from '@switchboard/db';
import type { FastifyRequest } from 'fastify';
import { type ApiContext, tenantTx } from '../context.ts';
import { afterCursor, decodeCursor } from '../schemas.ts';

/** Audit entries newest first after `cursor`, `limit + 1` of them, of one `action` when given. */
export async function listAuditEntries(
  ctx: ApiContext,
  request: FastifyRequest,
  query: { cursor?: string | undefined; limit: number; action?: string | undefined },
): Promise<AuditLogEntry[]> {
  const cursor = decodeCursor(query.cursor);
  return await tenantTx(ctx, request, (tx) =>
    tx.auditLogEntry.findMany({
      where: { ...afterCursor(cursor, 'at'), ...(query.action ? { action: query.action } : {}) },
      orderBy: [{ at: 'desc' }, { id: 'desc' }],
      take: query.limit + 1,
    }),
  );
}
