import { type Db, withTenant } from '@switchboard/db';
import { type PrincipalCheck, type PrincipalGoneReason, principalKey } from './hub.ts';

/**
 * The principal check against the tenant's database, by the rules the auth plugin applies to a
 * request: a member must still have a membership and an enabled user; an API key must be
 * unrevoked, unexpired, still hold the `read` scope the stream requires, and its creator must still
 * be an active member. One transaction per tenant, two or three queries whatever the stream count.
 */
export function databasePrincipalCheck(db: Db): PrincipalCheck {
  return async (tenantId, principals) => {
    const userIds = new Set<string>();
    const keyIds = new Set<string>();
    for (const p of principals) {
      if (p.kind === 'user') userIds.add(p.userId);
      else keyIds.add(p.apiKeyId);
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
      const liveKeys = new Set(
        keys
          .filter((k) => k.scopes.includes('read') && k.createdById && active.has(k.createdById))
          .map((k) => k.id),
      );
      for (const p of principals) {
        if (p.kind === 'user' && !active.has(p.userId)) gone.set(principalKey(p), 'member_removed');
        if (p.kind === 'api_key' && !liveKeys.has(p.apiKeyId))
          gone.set(principalKey(p), 'credential_revoked');
      }
    });
    return gone;
  };
}
