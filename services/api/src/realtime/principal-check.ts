import { type Db, withTenant } from '@switchboard/db';
import { checkKey, type PrincipalCheck, type PrincipalGoneReason } from './hub.ts';

/**
 * The principal check against the tenant's database, by the rules the auth plugin applies to a
 * request: a member must still have a membership and an enabled user, and its signed-in session
 * must not be ended; an API key must be
 * unrevoked, unexpired, still hold the `read` scope the stream requires, and its creator must still
 * be an active member. One transaction per tenant, at most four queries whatever the stream count.
 */
export function databasePrincipalCheck(db: Db): PrincipalCheck {
  return async (tenantId, principals) => {
    const userIds = new Set<string>();
    const keyIds = new Set<string>();
    const sessionIds = new Set<string>();
    for (const p of principals) {
      if (p.kind === 'user') {
        userIds.add(p.userId);
        if (p.sessionId) sessionIds.add(p.sessionId);
      } else keyIds.add(p.apiKeyId);
    }
    const gone = new Map<string, PrincipalGoneReason>();
    await withTenant(db, tenantId, async (tx) => {
      const now = new Date();
      const keys =
        keyIds.size === 0
          ? []
          : await tx.apiKey.findMany({
              where: {
                id: { in: [...keyIds] },
                revokedAt: null,
                OR: [{ expiresAt: null }, { expiresAt: { gt: now } }],
              },
              select: { id: true, createdById: true, scopes: true },
            });
      const creators = keys.flatMap((k) => (k.createdById ? [k.createdById] : []));
      const memberIds = [...new Set([...userIds, ...creators])];
      const members =
        memberIds.length === 0
          ? []
          : await tx.membership.findMany({
              where: { userId: { in: memberIds }, user: { disabledAt: null } },
              select: { userId: true },
            });
      const active = new Set(members.map((m) => m.userId));
      const sessions =
        sessionIds.size === 0
          ? []
          : await tx.authSession.findMany({
              where: { id: { in: [...sessionIds] }, endedAt: null },
              select: { id: true, userId: true },
            });
      const liveSessions = new Set(sessions.map((s) => `${s.userId}:${s.id}`));
      const liveKeys = new Set(
        keys
          .filter((k) => k.scopes.includes('read') && k.createdById && active.has(k.createdById))
          .map((k) => k.id),
      );
      for (const p of principals) {
        if (p.kind === 'user' && !active.has(p.userId)) gone.set(checkKey(p), 'member_removed');
        else if (p.kind === 'user' && p.sessionId && !liveSessions.has(`${p.userId}:${p.sessionId}`))
          gone.set(checkKey(p), 'session_ended');
        if (p.kind === 'api_key' && !liveKeys.has(p.apiKeyId)) gone.set(checkKey(p), 'credential_revoked');
      }
    });
    return gone;
  };
}
