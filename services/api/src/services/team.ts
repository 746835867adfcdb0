// The team: members and their roles. Only an owner grants, takes or removes the owner role, and
// the last owner stays.
import type { Membership, User } from '@switchboard/db';
import type { FastifyRequest } from 'fastify';
import { audit } from '../audit.ts';
import { type ApiContext, tenantTx } from '../context.ts';
import { ApiError, notFound } from '../errors.ts';
import { roleAtLeast } from '../plugins/auth.ts';
import { afterCursor, decodeCursor } from '../schemas.ts';

/** A membership with its user (what every member answer shows). */
export type MemberRow = Membership & { user: User };

/** A member's role. */
export type MemberRole = Membership['role'];

/** Members newest first after `cursor`, `limit + 1` of them. */
export async function listMembers(
  ctx: ApiContext,
  request: FastifyRequest,
  query: { cursor?: string | undefined; limit: number },
): Promise<MemberRow[]> {
  return await tenantTx(ctx, request, (tx) =>
    tx.membership.findMany({
      where: afterCursor(decodeCursor(query.cursor), 'createdAt'),
      include: { user: true },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: query.limit + 1,
    }),
  );
}

/** Invites a member (a user without a password: they set it through a password reset). */
export async function inviteMember(
  ctx: ApiContext,
  request: FastifyRequest,
  input: { email: string; displayName: string; role: MemberRole },
): Promise<MemberRow> {
  const p = request.principal;
  if (p.kind === 'user' && input.role === 'owner' && p.role !== 'owner')
    throw new ApiError('forbidden', 'only an owner can invite an owner');
  const email = input.email.toLowerCase();
  return await tenantTx(ctx, request, async (tx) => {
    if (await tx.user.findFirst({ where: { email } }))
      throw new ApiError('conflict', `body.email ${email} is already a member`);
    const user = await tx.user.create({
      data: { tenantId: p.tenantId, email, displayName: input.displayName },
    });
    const membership = await tx.membership.create({
      data: { tenantId: p.tenantId, userId: user.id, role: input.role },
    });
    await audit(tx, request, 'member.invited', { type: 'user', id: user.id }, { role: membership.role });
    return { ...membership, user };
  });
}

/** Changes the role of the member whose user id is `userId`. */
export async function changeMemberRole(
  ctx: ApiContext,
  request: FastifyRequest,
  userId: string,
  role: MemberRole,
): Promise<MemberRow> {
  const p = request.principal;
  return await tenantTx(ctx, request, async (tx) => {
    const m = await tx.membership.findFirst({ where: { userId }, include: { user: true } });
    if (!m) throw notFound('member');
    if (p.kind === 'user' && (m.role === 'owner' || role === 'owner') && !roleAtLeast(p.role, 'owner')) {
      throw new ApiError('forbidden', 'only an owner can grant or take the owner role');
    }
    if (
      m.role === 'owner' &&
      role !== 'owner' &&
      (await tx.membership.count({ where: { role: 'owner' } })) === 1
    ) {
      throw new ApiError('conflict', 'the last owner cannot be demoted');
    }
    const updated = await tx.membership.update({ where: { id: m.id }, data: { role } });
    await audit(
      tx,
      request,
      'member.role_changed',
      { type: 'user', id: m.userId },
      { from: m.role, to: updated.role },
    );
    return { ...updated, user: m.user };
  });
}

/** Removes the member whose user id is `userId`; their refresh tokens are revoked at once. */
export async function removeMember(ctx: ApiContext, request: FastifyRequest, userId: string): Promise<void> {
  const p = request.principal;
  await tenantTx(ctx, request, async (tx) => {
    const m = await tx.membership.findFirst({ where: { userId } });
    if (!m) throw notFound('member');
    if (m.role === 'owner' && p.kind === 'user' && p.role !== 'owner')
      throw new ApiError('forbidden', 'only an owner can remove an owner');
    if (m.role === 'owner' && (await tx.membership.count({ where: { role: 'owner' } })) === 1)
      throw new ApiError('conflict', 'the last owner cannot be removed');
    await tx.membership.delete({ where: { id: m.id } });
    await tx.refreshToken.updateMany({
      where: { userId: m.userId, revokedAt: null },
      data: { revokedAt: new Date(), revokedReason: 'removed' },
    });
    await audit(tx, request, 'member.removed', { type: 'user', id: m.userId }, { role: m.role });
  });
}
