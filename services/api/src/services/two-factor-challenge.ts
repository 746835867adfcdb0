// The sign-in's hook into two-factor sign-in (services/auth.ts calls twoFactorStepFor after a
// good password), and the short-lived signed tokens it hands out instead of an access token:
// a challenge (answered with a code at /v1/auth/two-factor/verify) and an enrol-only token (for
// an admin or owner the tenant's policy requires to enrol first). Both are HS256 JWTs with the
// API's signing key but their own audiences, so neither passes as an access token.
import { randomUUID } from 'node:crypto';
import { type MembershipRole, type TenantTx, tenantIdForSlug, withTenant } from '@switchboard/db';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import type { ApiContext } from '../context.ts';
import { ApiError } from '../errors.ts';
import { roleAtLeast } from '../plugins/auth.ts';

/** How long a sign-in challenge (password accepted, code awaited) can be answered. */
export const CHALLENGE_TTL_MS = 5 * 60_000;
/** How long the enrol-only token of a member the policy requires to enrol lasts. */
export const ENROLMENT_TOKEN_TTL_MS = 15 * 60_000;
/** The issuer of both tokens (the access token's too). */
export const ISSUER = 'switchboard-api';
/** The audience of a sign-in challenge. */
export const CHALLENGE_AUDIENCE = 'switchboard-two-factor';
/** The audience of an enrol-only token. */
export const ENROLMENT_AUDIENCE = 'switchboard-two-factor-enrolment';

/** A member as the two-factor service acts for them. */
export interface TwoFactorMember {
  tenantId: string;
  slug: string;
  userId: string;
}

/** What login answers instead of tokens when a second step is needed. */
export type TwoFactorStep =
  | { status: 'two_factor_required'; challenge: string; expiresIn: number }
  | { status: 'two_factor_enrolment_required'; enrolmentToken: string; expiresIn: number };

/** Signs a challenge or enrol-only token (by `audience`) for `member`, with its own id (jti). */
export async function signTwoFactorToken(
  ctx: ApiContext,
  member: TwoFactorMember,
  audience: string,
  ttlMs: number,
): Promise<string> {
  return new SignJWT({ tid: member.tenantId, ten: member.slug })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(member.userId)
    .setJti(randomUUID())
    .setIssuedAt()
    .setIssuer(ISSUER)
    .setAudience(audience)
    .setExpirationTime(new Date(Date.now() + ttlMs))
    .sign(ctx.jwtKey);
}

/** Verifies a token of `audience`; refused (401, naming `what`) when forged, expired or of another kind. */
export async function readTwoFactorToken(
  ctx: ApiContext,
  token: string,
  audience: string,
  what: string,
): Promise<TwoFactorMember & { id: string }> {
  const invalid = new ApiError('unauthenticated', `${what} is unknown or expired; sign in again`);
  let payload: { sub?: string; tid?: unknown; ten?: unknown; jti?: string };
  try {
    ({ payload } = await jwtVerify(token, ctx.jwtKey, { algorithms: ['HS256'], issuer: ISSUER, audience }));
  } catch (error) {
    if (error instanceof joseErrors.JOSEError) throw invalid;
    throw error;
  }
  const { sub, tid, ten, jti } = payload;
  if (
    typeof sub !== 'string' ||
    typeof tid !== 'string' ||
    typeof ten !== 'string' ||
    typeof jti !== 'string' ||
    tenantIdForSlug(ten) !== tid
  )
    throw invalid;
  return { tenantId: tid, slug: ten, userId: sub, id: jti };
}

/** Whether the tenant's policy requires two-factor sign-in of admins and owners. */
export async function tenantRequiresTwoFactor(tx: TenantTx, tenantId: string): Promise<boolean> {
  const row = await tx.tenantSecurityPolicy.findUnique({ where: { tenantId } });
  return row?.requireTwoFactorForAdmins ?? false;
}

/** Whether the policy applies to a member of `role`. */
export function requiredFor(role: MembershipRole | undefined, policy: boolean): boolean {
  return policy && !!role && roleAtLeast(role, 'admin');
}

/**
 * The sign-in hook (services/auth.ts `login`, after a good password): a challenge when the member
 * has two-factor sign-in, an enrol-only token when the tenant requires it of them (an admin or
 * owner) and they have not enrolled, else undefined (tokens are issued at once).
 */
export async function twoFactorStepFor(
  ctx: ApiContext,
  tenant: { id: string; slug: string },
  userId: string,
): Promise<TwoFactorStep | undefined> {
  const member = { tenantId: tenant.id, slug: tenant.slug, userId };
  const state = await withTenant(ctx.db, tenant.id, async (tx) => ({
    credential: await tx.twoFactorCredential.findUnique({
      where: { tenantId_userId: { tenantId: tenant.id, userId } },
    }),
    membership: await tx.membership.findFirst({ where: { userId } }),
    policy: await tenantRequiresTwoFactor(tx, tenant.id),
  }));
  if (state.credential?.confirmedAt) {
    return {
      status: 'two_factor_required',
      challenge: await signTwoFactorToken(ctx, member, CHALLENGE_AUDIENCE, CHALLENGE_TTL_MS),
      expiresIn: CHALLENGE_TTL_MS / 1000,
    };
  }
  if (requiredFor(state.membership?.role, state.policy)) {
    return {
      status: 'two_factor_enrolment_required',
      enrolmentToken: await signTwoFactorToken(ctx, member, ENROLMENT_AUDIENCE, ENROLMENT_TOKEN_TTL_MS),
      expiresIn: ENROLMENT_TOKEN_TTL_MS / 1000,
    };
  }
  return undefined;
}
