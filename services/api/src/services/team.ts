// The team: members and their roles, and the invites still waiting to be accepted. Only an owner
// grants, takes or removes the owner role, and the last owner stays.
import { type Membership, type TenantTx, tenantIdForSlug, type User, withTenant } from '@switchboard/db';
import type { FastifyRequest } from 'fastify';
import { audit, recordAudit } from '../audit.ts';
import { newTenantToken } from '../auth/tokens.ts';
import { type ApiContext, tenantTx } from '../context.ts';
import { ApiError, notFound } from '../errors.ts';
import { roleAtLeast } from '../plugins/auth.ts';
import { decodeCursor, rowsAfter } from '../schemas.ts';

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
    rowsAfter(decodeCursor(query.cursor), 'createdAt', query.limit, (page) =>
      tx.membership.findMany({
        ...page,
        include: { user: true },
      }),
    ),
  );
}

/** How long an invite link works: a week, time enough to find it in the mail. */
export const INVITE_TTL_MS = 7 * 86_400_000;

/** An invite: the single-use token the accept-invite page takes, and when it stops working. */
export interface Invite {
  token: string;
  expiresAt: Date;
}

/**
 * Issues an invite token for `userId` (a password reset token of purpose "invite" with
 * INVITE_TTL_MS): the inbox's /accept-invite page sets the password with it. Every earlier unused
 * token of the user is spent, so only the newest link works.
 */
async function issueInvite(tx: TenantTx, tenantId: string, slug: string, userId: string): Promise<Invite> {
  const now = new Date();
  await tx.passwordResetToken.updateMany({ where: { userId, usedAt: null }, data: { usedAt: now } });
  const token = newTenantToken(slug);
  const expiresAt = new Date(now.getTime() + INVITE_TTL_MS);
  await tx.passwordResetToken.create({
    data: { tenantId, userId, tokenHash: token.hash, expiresAt, purpose: 'invite' },
  });
  return { token: token.token, expiresAt };
}

/**
 * Invites a member: a user without a password and an invite (the accept-invite page sets the
 * password). A removed member (their user stays, without a membership) can be invited again:
 * the old password is cleared, so they come back only through the new invite.
 */
export async function inviteMember(
  ctx: ApiContext,
  request: FastifyRequest,
  input: { email: string; displayName: string; role: MemberRole; locale?: string | undefined },
): Promise<MemberRow & { invite: Invite }> {
  const p = request.principal;
  if (p.kind === 'user' && input.role === 'owner' && p.role !== 'owner')
    throw new ApiError('forbidden', 'only an owner can invite an owner');
  const email = input.email.toLowerCase();
  return await tenantTx(ctx, request, async (tx) => {
    const existing = await tx.user.findFirst({ where: { email }, include: { memberships: true } });
    if (existing && existing.memberships.length > 0)
      throw new ApiError('conflict', `body.email ${email} is already a member`);
    const user = existing
      ? await tx.user.update({
          where: { id: existing.id },
          data: {
            displayName: input.displayName,
            passwordHash: null,
            disabledAt: null,
            ...(input.locale ? { locale: input.locale } : {}),
          },
        })
      : await tx.user.create({
          data: { tenantId: p.tenantId, email, displayName: input.displayName, locale: input.locale ?? null },
        });
    const membership = await tx.membership.create({
      data: { tenantId: p.tenantId, userId: user.id, role: input.role },
    });
    const invite = await issueInvite(tx, p.tenantId, p.slug, user.id);
    await audit(tx, request, 'invite.sent', { type: 'user', id: user.id }, { role: membership.role });
    return { ...membership, user, invite };
  });
}

/** An invite not accepted yet: the member without a password, and when their newest link stops working. */
export type PendingInvite = MemberRow & { expiresAt: Date | null };

/**
 * The invites not accepted yet, newest first after `cursor`, `limit + 1` of them: members who
 * have not set a password, each with the expiry of their newest invite link (null when it was
 * spent without a password being set, which a resend repairs). Expired ones are listed too: an
 * admin resends or revokes them.
 */
export async function listPendingInvites(
  ctx: ApiContext,
  request: FastifyRequest,
  query: { cursor?: string | undefined; limit: number },
): Promise<PendingInvite[]> {
  return await tenantTx(ctx, request, async (tx) => {
    const members = await rowsAfter(decodeCursor(query.cursor), 'createdAt', query.limit, (page) =>
      tx.membership.findMany({
        ...page,
        where: { user: { passwordHash: null }, ...page.where },
        include: {
          user: {
            include: {
              passwordResetTokens: {
                where: { purpose: 'invite', usedAt: null },
                orderBy: { createdAt: 'desc' },
                take: 1,
              },
            },
          },
        },
      }),
    );
    return members.map(({ user: { passwordResetTokens, ...user }, ...m }) => ({
      ...m,
      user,
      expiresAt: passwordResetTokens[0]?.expiresAt ?? null,
    }));
  });
}

/** The pending invite of `userId` (a member without a password), locked against a concurrent accept. */
async function pendingInviteOf(tx: TenantTx, userId: string): Promise<MemberRow> {
  const m = await tx.membership.findFirst({ where: { userId }, include: { user: true } });
  if (!m) throw notFound('invite');
  // The user row is locked, then read again: an accept that set the password meanwhile wins.
  await tx.$queryRaw`SELECT id FROM users WHERE id = ${userId}::uuid FOR UPDATE`;
  const user = await tx.user.findUniqueOrThrow({ where: { id: userId } });
  if (user.passwordHash !== null) throw new ApiError('conflict', 'the invite was already accepted');
  return { ...m, user };
}

/**
 * Sends an invite again: a new link (the old one stops working) valid for INVITE_TTL_MS from now.
 * Only an owner resends an owner's invite.
 */
export async function resendInvite(
  ctx: ApiContext,
  request: FastifyRequest,
  userId: string,
): Promise<MemberRow & { invite: Invite }> {
  const p = request.principal;
  return await tenantTx(ctx, request, async (tx) => {
    const m = await pendingInviteOf(tx, userId);
    if (m.role === 'owner' && p.kind === 'user' && p.role !== 'owner')
      throw new ApiError('forbidden', "only an owner can resend an owner's invite");
    const invite = await issueInvite(tx, p.tenantId, p.slug, userId);
    await audit(tx, request, 'invite.resent', { type: 'user', id: userId }, { role: m.role });
    return { ...m, invite };
  });
}

/**
 * Revokes an invite: the membership goes and every link of it stops working. The user stays
 * (without a membership), so the address can be invited again.
 */
export async function revokeInvite(ctx: ApiContext, request: FastifyRequest, userId: string): Promise<void> {
  const p = request.principal;
  await tenantTx(ctx, request, async (tx) => {
    const m = await pendingInviteOf(tx, userId);
    if (m.role === 'owner' && p.kind === 'user' && p.role !== 'owner')
      throw new ApiError('forbidden', "only an owner can revoke an owner's invite");
    await tx.membership.delete({ where: { id: m.id } });
    await tx.passwordResetToken.updateMany({ where: { userId, usedAt: null }, data: { usedAt: new Date() } });
    await audit(tx, request, 'invite.revoked', { type: 'user', id: userId }, { role: m.role });
  });
}

/** Whether the configured tenant has an owner who can sign in (has set a password, not disabled). */
export async function hasActiveOwner(ctx: ApiContext): Promise<boolean> {
  const tenantId = tenantIdForSlug(ctx.defaultTenant);
  const owners = await withTenant(ctx.db, tenantId, (tx) =>
    tx.membership.count({
      where: { role: 'owner', user: { passwordHash: { not: null }, disabledAt: null } },
    }),
  );
  return owners > 0;
}

/**
 * The first owner of the configured tenant (WhatsAppTenant spec.owner.email, asked by the
 * operator): an owner membership for `email` and a fresh invite; earlier invites of that user stop
 * working. Pending owners of another address (the spec's email was changed before anyone
 * accepted) lose their membership and their invites. Refused with owner_exists once an owner
 * can sign in: from then on the team is the owners' business.
 */
export async function inviteFirstOwner(
  ctx: ApiContext,
  email: string,
): Promise<{ email: string; displayName: string; locale: string | null } & Invite> {
  const slug = ctx.defaultTenant;
  const tenantId = tenantIdForSlug(slug);
  const address = email.toLowerCase();
  return await withTenant(ctx.db, tenantId, async (tx) => {
    // Serializes concurrent calls (two operator replicas during a leader change) on the tenant row.
    await tx.$queryRaw`SELECT id FROM tenants WHERE id = ${tenantId}::uuid FOR UPDATE`;
    const owners = await tx.membership.findMany({ where: { role: 'owner' }, include: { user: true } });
    if (owners.some((o) => o.user.passwordHash !== null && o.user.disabledAt === null))
      throw new ApiError('owner_exists', 'the tenant already has an owner who can sign in');
    for (const stale of owners.filter((o) => o.user.email !== address)) {
      await tx.membership.delete({ where: { id: stale.id } });
      await tx.passwordResetToken.updateMany({
        where: { userId: stale.userId, usedAt: null },
        data: { usedAt: new Date() },
      });
    }
    const user =
      (await tx.user.findFirst({ where: { email: address } })) ??
      (await tx.user.create({ data: { tenantId, email: address, displayName: address.split('@')[0]! } }));
    if (user.disabledAt) await tx.user.update({ where: { id: user.id }, data: { disabledAt: null } });
    await tx.membership.upsert({
      where: { tenantId_userId: { tenantId, userId: user.id } },
      create: { tenantId, userId: user.id, role: 'owner' },
      update: { role: 'owner' },
    });
    const invite = await issueInvite(tx, tenantId, slug, user.id);
    await recordAudit(tx, {
      tenantId,
      actorType: 'system',
      actorId: null,
      action: 'invite.sent',
      target: { type: 'user', id: user.id },
      metadata: { role: 'owner', firstOwner: true },
    });
    return { email: address, displayName: user.displayName, locale: user.locale, ...invite };
  });
}

/**
 * Locks the tenant's owner memberships (FOR UPDATE) and counts them. Every change that can take
 * the owner role away takes these locks first, so two of them at once are serialized: the second
 * waits for the first to commit, then counts what is left (under READ COMMITTED a row lock that
 * had to wait re-reads the row, so an owner demoted meanwhile is no longer counted). Without the
 * locks two owners demoting each other both saw two owners and left none.
 */
async function lockedOwnerCount(tx: TenantTx): Promise<number> {
  const owners = await tx.$queryRaw<{ id: string }[]>`
    SELECT id FROM memberships WHERE role = 'owner' FOR UPDATE`;
  return owners.length;
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
    if (m.role === 'owner' && role !== 'owner' && (await lockedOwnerCount(tx)) <= 1) {
      throw new ApiError('conflict', 'the last owner cannot be demoted');
    }
    // Conditional on the role read above: a change made meanwhile (by the transaction this one
    // waited for) makes this one a conflict instead of a blind overwrite.
    const changed = await tx.membership.updateMany({ where: { id: m.id, role: m.role }, data: { role } });
    if (changed.count === 0) throw new ApiError('conflict', "the member's role changed meanwhile; retry");
    const updated = await tx.membership.findUniqueOrThrow({ where: { id: m.id } });
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
    if (m.role === 'owner' && (await lockedOwnerCount(tx)) <= 1)
      throw new ApiError('conflict', 'the last owner cannot be removed');
    const removed = await tx.membership.deleteMany({ where: { id: m.id, role: m.role } });
    if (removed.count === 0) throw new ApiError('conflict', "the member's role changed meanwhile; retry");
    await tx.refreshToken.updateMany({
      where: { userId: m.userId, revokedAt: null },
      data: { revokedAt: new Date(), revokedReason: 'removed' },
    });
    await audit(tx, request, 'member.removed', { type: 'user', id: m.userId }, { role: m.role });
  });
}

/**
 * Sets the calling member's language (their mails); null returns to the tenant's default. API keys
 * are refused: they are not members.
 */
export async function setOwnLocale(
  ctx: ApiContext,
  request: FastifyRequest,
  locale: string | null,
): Promise<{ locale: string | null }> {
  const p = request.principal;
  if (p.kind !== 'user') throw new ApiError('forbidden', 'this route is for members, not API keys');
  return await tenantTx(ctx, request, async (tx) => {
    const user = await tx.user.update({ where: { id: p.userId }, data: { locale } });
    return { locale: user.locale };
  });
}
