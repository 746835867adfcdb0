import { withTenant } from '@switchboard/db';
import type { FastifyRequest } from 'fastify';
import { audit } from '../audit.ts';
import type { ApiContext } from '../context.ts';
import { ApiError } from '../errors.ts';
import { roleAtLeast } from '../plugins/auth.ts';

/** A member's link to an identity provider account (`sso_identities`), as admins see it. */
export interface SsoLink {
  id: string;
  issuer: string;
  subject: string;
  email: string;
  createdAt: Date;
  lastSignInAt: Date;
}

/**
 * Checks the caller may act on the links of `member` (the membership of the user named): 404 when
 * not a member of the tenant; for a change, 403 on an owner's unless the caller is an owner (the
 * team routes' rule).
 */
function checkMember(request: FastifyRequest, member: { role: string } | null, change: boolean): void {
  const p = request.principal;
  if (!member) throw new ApiError('not_found', 'no such member');
  if (change && member.role === 'owner' && !(p.kind === 'user' && roleAtLeast(p.role, 'owner')))
    throw new ApiError('forbidden', "only an owner can unlink an owner's single sign-on account");
}

/** The SSO links of member `userId` (admins), oldest first. */
export async function listSsoLinks(
  ctx: ApiContext,
  request: FastifyRequest,
  userId: string,
): Promise<SsoLink[]> {
  return await withTenant(ctx.db, request.principal.tenantId, async (tx) => {
    checkMember(request, await tx.membership.findFirst({ where: { userId } }), false);
    return await tx.ssoIdentity.findMany({
      where: { userId },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      select: { id: true, issuer: true, subject: true, email: true, createdAt: true, lastSignInAt: true },
    });
  });
}

/**
 * Removes the link `id` of member `userId` (admins; an owner's only by an owner), audited as
 * `sso.unlinked`. The member's next SSO sign-in links the provider account it comes with, found by
 * its verified address: this is how an admin resolves `sso_identity_conflict` (the address now
 * belongs to another account at the provider).
 */
export async function unlinkSso(
  ctx: ApiContext,
  request: FastifyRequest,
  userId: string,
  id: string,
): Promise<void> {
  await withTenant(ctx.db, request.principal.tenantId, async (tx) => {
    checkMember(request, await tx.membership.findFirst({ where: { userId } }), true);
    const link = await tx.ssoIdentity.findFirst({ where: { id, userId } });
    if (!link) throw new ApiError('not_found', 'no such single sign-on link of this member');
    await tx.ssoIdentity.delete({ where: { id: link.id } });
    await audit(
      tx,
      request,
      'sso.unlinked',
      { type: 'user', id: userId },
      { link: link.id, issuer: link.issuer, subject: link.subject, email: link.email },
    );
  });
}
