// The audit log: reading it (a page, or a range exported as JSON lines) and the identity events
// written without a signed-in caller (sign-ins, failed ones, password resets, invites accepted).
// Entries are append-only: every other entry is written by audit.ts inside its change's transaction.
import { Readable } from 'node:stream';
import { type AuditLogEntry, type TenantTx, withTenant } from '@switchboard/db';
import type { FastifyRequest } from 'fastify';
import { recordAudit } from '../audit.ts';
import { hashCredential } from '../auth/tokens.ts';
import { type ApiContext, tenantTx } from '../context.ts';
import { decodeCursor, rowsAfter } from '../schemas.ts';

/** Audit entries newest first after `cursor`, `limit + 1` of them, of one `action` when given. */
export async function listAuditEntries(
  ctx: ApiContext,
  request: FastifyRequest,
  query: { cursor?: string | undefined; limit: number; action?: string | undefined },
): Promise<AuditLogEntry[]> {
  const cursor = decodeCursor(query.cursor);
  return await tenantTx(ctx, request, (tx) =>
    rowsAfter(cursor, 'at', query.limit, (page) =>
      tx.auditLogEntry.findMany({
        ...page,
        where: { ...page.where, ...(query.action ? { action: query.action } : {}) },
      }),
    ),
  );
}

/** Rows read per query of an export: one short transaction each, so a long export holds no snapshot. */
export const EXPORT_BATCH = 1000;

interface ExportRow {
  id: string;
  actorType: string;
  actorId: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  metadata: unknown;
  /** `at` to the microsecond, as Postgres keeps it (a JS Date would cut it to milliseconds). */
  at: string;
}

/**
 * The entries with `from <= at < to`, oldest first, as JSON lines (one entry and a newline each),
 * streamed: read EXPORT_BATCH at a time in keyset order on (at, id) with `at` compared at
 * Postgres's microsecond precision, so no entry is skipped or repeated between batches.
 */
export function exportAuditEntries(
  ctx: ApiContext,
  request: FastifyRequest,
  range: { from: Date; to: Date },
): Readable {
  const tenantId = request.principal.tenantId;
  async function* lines(): AsyncGenerator<string> {
    let after = { at: '-infinity', id: '00000000-0000-0000-0000-000000000000' };
    for (;;) {
      const rows = await withTenant(
        ctx.db,
        tenantId,
        (tx) =>
          tx.$queryRaw<ExportRow[]>`
          SELECT id, actor_type::text AS "actorType", actor_id AS "actorId", action,
                 target_type AS "targetType", target_id AS "targetId", metadata,
                 to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at
          FROM audit_log
          WHERE at >= ${range.from} AND at < ${range.to}
            AND (at, id) > (${after.at}::timestamptz, ${after.id}::uuid)
          ORDER BY at, id
          LIMIT ${EXPORT_BATCH}`,
      );
      if (rows.length > 0) yield rows.map((r) => `${JSON.stringify(r)}\n`).join('');
      const last = rows.at(-1);
      if (!last || rows.length < EXPORT_BATCH) return;
      after = { at: last.at, id: last.id };
    }
  }
  return Readable.from(lines(), { objectMode: false });
}

/** Why a sign-in was refused (the `reason` of auth.sign_in_failed). */
export type SignInFailure = 'invalid_credentials' | 'locked';

/**
 * Records a refused sign-in (auth.sign_in_failed) in a transaction of its own. The actor is the
 * account when it exists, else the system with the address's hash (an attacker trying addresses
 * leaves no list of them in the log). Only for the API's own tenant: a login naming another
 * tenant has no tenant row here to write under. Never throws: a failure goes to `onError`.
 */
export async function recordSignInFailure(
  ctx: ApiContext,
  attempt: { tenantSlug: string; tenantId: string; email: string; ip: string; reason: SignInFailure },
  onError: (error: unknown) => void,
): Promise<void> {
  if (attempt.tenantSlug !== ctx.defaultTenant) return;
  try {
    await withTenant(ctx.db, attempt.tenantId, async (tx) => {
      const user = await tx.user.findFirst({ where: { email: attempt.email }, select: { id: true } });
      await recordAudit(tx, {
        tenantId: attempt.tenantId,
        actorType: user ? 'user' : 'system',
        actorId: user?.id ?? null,
        action: 'auth.sign_in_failed',
        target: user
          ? { type: 'user', id: user.id }
          : { type: 'email_hash', id: hashCredential(attempt.email) },
        metadata: { reason: attempt.reason, ip: attempt.ip },
      });
    });
  } catch (error) {
    onError(error);
  }
}

/**
 * Records a password set with a single-use token, in its transaction: invite.accepted for an
 * invite's token, auth.password_reset_completed for a reset's.
 */
export async function recordPasswordSet(
  tx: TenantTx,
  row: { tenantId: string; userId: string; purpose: string },
): Promise<void> {
  await recordAudit(tx, {
    tenantId: row.tenantId,
    actorType: 'user',
    actorId: row.userId,
    action: row.purpose === 'invite' ? 'invite.accepted' : 'auth.password_reset_completed',
    target: { type: 'user', id: row.userId },
  });
}

/** Records a password reset token issued to an existing account (auth.password_reset_requested). */
export async function recordPasswordResetRequested(
  tx: TenantTx,
  request: { tenantId: string; userId: string },
): Promise<void> {
  await recordAudit(tx, {
    tenantId: request.tenantId,
    actorType: 'system',
    actorId: null,
    action: 'auth.password_reset_requested',
    target: { type: 'user', id: request.userId },
  });
}
