// Signed-in sessions: one per sign-in (and its rotating refresh-token family, whose family id is
// the session id), with the device, IP, created and last-seen times. A member lists and ends
// theirs; an admin ends all of a member's. Ending a session revokes its refresh tokens in the same
// transaction and makes every API process's cached members of the tenant stale before the answer
// (CredentialCache), so its access tokens are refused from the next request on; the realtime hub's
// re-check after the write ends its open streams with `session_ended`.
import { Prisma, type TenantTx, tenantQuery, withTenant } from '@switchboard/db';
import type { FastifyRequest } from 'fastify';
import { audit, recordAudit } from '../audit.ts';
import { MAX_USER_AGENT_LENGTH, parseUserAgent } from '../auth/user-agent.ts';
import type { ApiContext } from '../context.ts';
import { ApiError } from '../errors.ts';
import { roleAtLeast } from '../plugins/auth.ts';

/** Why a session ended (auth_sessions.ended_reason). */
export type SessionEndReason =
  | 'ended_by_user'
  | 'ended_by_admin'
  | 'logout'
  | 'password_reset'
  | 'refresh_token_reused';

/** One signed-in session as the member sees it. */
export interface SignedInSession {
  id: string;
  browser: string;
  os: string;
  ip: string;
  createdAt: Date;
  lastSeenAt: Date;
  /** The session of the access token that asked. */
  current: boolean;
}

/**
 * Records a new session for `userId` (its id is the new refresh-token family's), with the device
 * and IP of `request`, in the caller's transaction, and audits the sign-in as `auth.sign_in`.
 */
export async function startSession(
  tx: TenantTx,
  request: FastifyRequest,
  session: {
    id: string;
    tenantId: string;
    userId: string;
    method?: string;
    methodDetails?: Record<string, string>;
  },
): Promise<void> {
  const userAgent = (request.headers['user-agent'] ?? '').slice(0, MAX_USER_AGENT_LENGTH);
  const device = parseUserAgent(userAgent);
  await tx.authSession.create({
    data: {
      id: session.id,
      tenantId: session.tenantId,
      userId: session.userId,
      userAgent,
      browser: device.browser,
      os: device.os,
      ip: request.ip,
    },
  });
  await recordAudit(tx, {
    tenantId: session.tenantId,
    actorType: 'user',
    actorId: session.userId,
    action: 'auth.sign_in',
    target: { type: 'auth_session', id: session.id },
    metadata: { method: session.method ?? 'password', ...session.methodDetails, ip: request.ip, ...device },
  });
}

/**
 * The refresh-token family's session for a refresh: 'ended' when it was ended, 'adopted' when the
 * family predates sessions (a row is made for it now, with this request's device), else 'active'.
 */
export async function sessionForRefresh(
  tx: TenantTx,
  request: FastifyRequest,
  family: { id: string; tenantId: string; userId: string },
): Promise<'active' | 'ended' | 'adopted'> {
  const row = await tx.authSession.findUnique({ where: { id: family.id } });
  if (row) return row.endedAt || row.userId !== family.userId ? 'ended' : 'active';
  await startSession(tx, request, { ...family, method: 'refresh' });
  return 'adopted';
}

/**
 * Ends sessions matching `where` (only those not ended yet) and revokes their refresh tokens, in
 * `tx`. Returns the ids ended. The caller makes the credential cache stale after the commit
 * (`ctx.credentialCache.invalidate`).
 */
export async function endSessionsInTx(
  tx: TenantTx,
  where: { userId: string; id?: string },
  reason: SessionEndReason,
): Promise<string[]> {
  const now = new Date();
  const sessions = await tx.authSession.findMany({
    where: { ...where, endedAt: null },
    select: { id: true },
  });
  const ids = sessions.map((s) => s.id);
  if (ids.length === 0) return ids;
  await tx.authSession.updateMany({
    where: { id: { in: ids }, endedAt: null },
    data: { endedAt: now, endedReason: reason },
  });
  await tx.refreshToken.updateMany({
    where: { familyId: { in: ids }, revokedAt: null },
    data: { revokedAt: now, revokedReason: reason },
  });
  return ids;
}

/**
 * The caller's sessions that can still be used: not ended, with a refresh token that is neither
 * revoked nor expired (or the caller's own), newest activity first.
 */
export async function listSessions(ctx: ApiContext, request: FastifyRequest): Promise<SignedInSession[]> {
  const p = request.principal;
  if (p.kind !== 'user') throw new ApiError('forbidden', 'this route is for members, not API keys');
  const rows = await tenantQuery<Omit<SignedInSession, 'current'>>(
    ctx.db,
    p.tenantId,
    Prisma.sql`
      SELECT s.id, s.browser, s.os, s.ip, s.created_at AS "createdAt", s.last_seen_at AS "lastSeenAt"
        FROM auth_sessions s
       WHERE s.user_id = ${p.userId}::uuid AND s.ended_at IS NULL
         AND (s.id = ${p.sessionId ?? null}::uuid OR EXISTS (
               SELECT 1 FROM refresh_tokens r
                WHERE r.tenant_id = s.tenant_id AND r.family_id = s.id
                  AND r.revoked_at IS NULL AND r.rotated_at IS NULL AND r.expires_at > now()))
       ORDER BY s.last_seen_at DESC, s.id
       LIMIT 200`,
  );
  return rows.map((row) => ({ ...row, current: row.id === p.sessionId }));
}

/** Ends one of the caller's own sessions (the current one included: that is signing out). */
export async function endOwnSession(
  ctx: ApiContext,
  request: FastifyRequest,
  sessionId: string,
): Promise<void> {
  const p = request.principal;
  if (p.kind !== 'user') throw new ApiError('forbidden', 'this route is for members, not API keys');
  const ended = await withTenant(ctx.db, p.tenantId, async (tx) => {
    const ids = await endSessionsInTx(tx, { userId: p.userId, id: sessionId }, 'ended_by_user');
    if (ids.length > 0) {
      await audit(
        tx,
        request,
        'auth.session_ended',
        { type: 'auth_session', id: sessionId },
        {
          reason: 'ended_by_user',
          userId: p.userId,
          current: sessionId === p.sessionId,
        },
      );
    }
    return ids.length;
  });
  if (ended === 0)
    throw new ApiError('not_found', 'no such signed-in session of yours (or it already ended)');
  await ctx.credentialCache.invalidate(p.slug, p.tenantId);
}

/**
 * Ends every session of a member (an admin's action; only an owner ends an owner's). Returns how
 * many were ended; a member without sessions is 0, not an error.
 */
export async function endMemberSessions(
  ctx: ApiContext,
  request: FastifyRequest,
  userId: string,
): Promise<number> {
  const p = request.principal;
  if (p.kind !== 'user') throw new ApiError('forbidden', 'this route is for members, not API keys');
  const ended = await withTenant(ctx.db, p.tenantId, async (tx) => {
    const member = await tx.membership.findFirst({ where: { userId } });
    if (!member) throw new ApiError('not_found', 'no such member');
    if (member.role === 'owner' && !roleAtLeast(p.role, 'owner'))
      throw new ApiError('forbidden', "only an owner can end an owner's sessions");
    const ids = await endSessionsInTx(tx, { userId }, 'ended_by_admin');
    await audit(
      tx,
      request,
      'auth.sessions_ended',
      { type: 'user', id: userId },
      {
        reason: 'ended_by_admin',
        sessions: ids,
      },
    );
    return ids.length;
  });
  await ctx.credentialCache.invalidate(p.slug, p.tenantId);
  return ended;
}
