// Members signing in: login with lockout, rotating refresh tokens (reuse revokes the family),
// logout, the caller's identity, and password resets. Routes validate and call one of these.
import { randomUUID } from 'node:crypto';
import { type TenantTx, tenantIdForSlug, withTenant } from '@switchboard/db';
import { tenantKeyPrefix } from '@switchboard/messaging/producer';
import { hashPassword, needsRehash, verifyPassword } from '@switchboard/passwords';
import { RedisScript } from '@switchboard/redis';
import type { FastifyRequest } from 'fastify';
import { hashCredential, newTenantToken, tenantSlugOfToken } from '../auth/tokens.ts';
import type { ApiContext } from '../context.ts';
import { ApiError } from '../errors.ts';
import { noteSignIn, sendSecurityNotice } from '../mail/security-notices.ts';
import { memberProfileOf, signAccessToken } from '../plugins/auth.ts';
import { assertPasswordSignInAllowed } from '../sso/policy.ts';
import { recordPasswordResetRequested, recordPasswordSet, recordSignInFailure } from './audit-log.ts';
import { endSessionsInTx, sessionForRefresh, startSession } from './auth-sessions.ts';
import { type TwoFactorStep, twoFactorStepFor } from './two-factor-challenge.ts';

/** What login and refresh answer. */
export interface TokenPair {
  accessToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  refreshToken: string;
}

// A hash to verify against when the account does not exist, so "no such user" takes as long as "wrong password".
let dummyHash: Promise<string> | undefined;

/** Issues an access token and a refresh token of `familyId` (password sign-in, its second step, SSO). */
export async function issueTokens(
  ctx: ApiContext,
  tenant: { id: string; slug: string },
  userId: string,
  familyId: string,
  tx: TenantTx,
): Promise<TokenPair> {
  const refresh = newTenantToken(tenant.slug);
  await tx.refreshToken.create({
    data: {
      tenantId: tenant.id,
      userId,
      familyId,
      tokenHash: refresh.hash,
      expiresAt: new Date(Date.now() + ctx.refreshTokenTtlMs),
    },
  });
  // The family is the signed-in session: its id is the access token's `sid`.
  const accessToken = await signAccessToken(
    ctx.jwtKey,
    { userId, tenantId: tenant.id, slug: tenant.slug, sessionId: familyId },
    ctx.accessTokenTtlMs,
  );
  return {
    accessToken,
    tokenType: 'Bearer' as const,
    expiresIn: Math.floor(ctx.accessTokenTtlMs / 1000),
    refreshToken: refresh.token,
  };
}

// Checks and counts a login attempt in one step (a script runs atomically in Redis): when no
// counter is at its limit, every counter is incremented (with the lockout as its expiry) and the
// attempt may go on; otherwise nothing changes and the attempt is refused. Parallel attempts
// therefore each take one of the remaining slots: exactly `limit` of them get past the check.
const CLAIM_ATTEMPT = new RedisScript(`
for i, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') >= tonumber(ARGV[i + 1]) then return 0 end
end
for _, key in ipairs(KEYS) do
  redis.call('INCR', key)
  redis.call('PEXPIRE', key, ARGV[1])
end
return 1
`);

// After a good password: the account's failures are cleared and the IP's slot is given back
// (never below zero, and DECR keeps the key's expiry).
const RELEASE_ATTEMPT = new RedisScript(`
redis.call('DEL', KEYS[1])
if tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then redis.call('DECR', KEYS[2]) end
return 1
`);

async function claimAttempt(
  ctx: ApiContext,
  limits: [key: string, max: number][],
  windowMs: number = ctx.loginLockoutMs,
): Promise<boolean> {
  const allowed = await CLAIM_ATTEMPT.run(
    ctx.redis,
    limits.map(([key]) => key),
    [windowMs, ...limits.map(([, max]) => max)],
  );
  return allowed === 1;
}

/**
 * Checks email and password (of `tenant`, default the configured one) and issues a token pair.
 * Failures count per account and per IP in Redis; past the limit the account (or IP) is locked
 * for `loginLockoutMs`. A hash with old parameters is replaced after a good login. A member with
 * two-factor sign-in (or required to enrol) gets the second step instead of tokens.
 */
export async function login(
  ctx: ApiContext,
  request: FastifyRequest,
  input: { tenant?: string | undefined; email: string; password: string },
): Promise<TokenPair | TwoFactorStep> {
  const tenantSlug = input.tenant ?? ctx.defaultTenant;
  const tenant = { id: tenantIdForSlug(tenantSlug), slug: tenantSlug };
  const address = input.email.toLowerCase();
  // Both counters live under the API's own prefix (its Redis ACL user reaches no other tenant's
  // keys): the account's is keyed by the tenant named and the address together.
  const keyPrefix = tenantKeyPrefix(ctx.defaultTenant);
  const accountKey = `${keyPrefix}api:login-failures:account:${hashCredential(`${tenantSlug}\n${address}`)}`;
  const ipKey = `${keyPrefix}api:login-failures:ip:${request.ip}`;
  // Each attempt is counted as a failure before the password is checked (a good one is taken
  // back below), so the check and the count cannot race. Per IP allows more: one office behind
  // one NAT has many people mistyping.
  const claimed = await claimAttempt(ctx, [
    [accountKey, ctx.loginMaxFailures],
    [ipKey, ctx.loginMaxFailures * 4],
  ]);
  if (!claimed) {
    await recordSignInFailure(
      ctx,
      { tenantSlug, tenantId: tenant.id, email: address, ip: request.ip, reason: 'locked' },
      (e) => request.log.error({ err: e }, 'audit failed'),
    );
    throw new ApiError('account_locked', 'too many failed logins; try again later', {
      retryAfterSeconds: Math.ceil(ctx.loginLockoutMs / 1000),
    });
  }
  const user = await withTenant(ctx.db, tenant.id, (tx) =>
    tx.user.findFirst({ where: { email: address, disabledAt: null }, include: { memberships: true } }),
  );
  dummyHash ??= hashPassword('not a password', ctx.scrypt);
  const stored = user?.passwordHash ?? (await dummyHash);
  const ok =
    (await verifyPassword(input.password, stored)) && !!user?.passwordHash && user.memberships.length > 0;
  if (!ok || !user) {
    await recordSignInFailure(
      ctx,
      { tenantSlug, tenantId: tenant.id, email: address, ip: request.ip, reason: 'invalid_credentials' },
      (e) => request.log.error({ err: e }, 'audit failed'),
    );
    throw new ApiError('invalid_credentials', 'email or password is wrong');
  }
  // A good password clears the account's failures and gives back the IP's slot it took.
  await RELEASE_ATTEMPT.run(ctx.redis, [accountKey, ipKey]);
  await assertPasswordSignInAllowed(ctx, user);
  const rehash = needsRehash(stored, ctx.scrypt) ? await hashPassword(input.password, ctx.scrypt) : undefined;
  const secondStep = await twoFactorStepFor(ctx, tenant, user.id);
  const answer = await withTenant(ctx.db, tenant.id, async (tx) => {
    if (rehash) await tx.user.update({ where: { id: user.id }, data: { passwordHash: rehash } });
    // With a second step, the sign-in is completed by it (verifySignIn, or the policy's enrolment).
    return (
      secondStep ?? (await completeSignIn(ctx, request, tx, { tenant, userId: user.id, method: 'password' }))
    );
  });
  if (!secondStep) noteNewSignIn(ctx, request, { tenantId: tenant.id, userId: user.id });
  return answer;
}

/**
 * Completes a sign-in past its checks (a second step, an enrolment the policy asked for, SSO), in
 * `tx`: lastLoginAt, a signed-in session with the request's device (audited `auth.sign_in`), and
 * the session's token pair. The caller calls noteNewSignIn once `tx` has committed.
 */
export async function completeSignIn(
  ctx: ApiContext,
  request: FastifyRequest,
  tx: TenantTx,
  member: {
    tenant: { id: string; slug: string };
    userId: string;
    method: string;
    /** Facts of the method for the `auth.sign_in` audit entry (SSO: the issuer and subject). */
    methodDetails?: Record<string, string>;
  },
): Promise<TokenPair> {
  await tx.user.update({ where: { id: member.userId }, data: { lastLoginAt: new Date() } });
  const sessionId = randomUUID();
  await startSession(tx, request, {
    id: sessionId,
    tenantId: member.tenant.id,
    userId: member.userId,
    method: member.method,
    ...(member.methodDetails ? { methodDetails: member.methodDetails } : {}),
  });
  return await issueTokens(ctx, member.tenant, member.userId, sessionId, tx);
}

/**
 * After a completed sign-in (password, second step or SSO) has committed: mails the member a
 * new-sign-in notice when this device (IP and User-Agent) is new to them. Never throws.
 */
export function noteNewSignIn(
  ctx: ApiContext,
  request: FastifyRequest,
  member: { tenantId: string; userId: string },
): void {
  noteSignIn(ctx, { ...member, ip: request.ip, userAgent: request.headers['user-agent'] }, (e) =>
    request.log.error({ err: e }, 'new sign-in notice failed'),
  );
}

/** Rotates a refresh token: the old one stops working; presenting a rotated one revokes its family. */
export async function refreshTokens(
  ctx: ApiContext,
  request: FastifyRequest,
  token: string,
): Promise<TokenPair> {
  const tenantSlug = tenantSlugOfToken(token);
  if (!tenantSlug) throw new ApiError('unauthenticated', 'body.refreshToken is not a refresh token');
  const tenant = { id: tenantIdForSlug(tenantSlug), slug: tenantSlug };
  const outcome = await withTenant(ctx.db, tenant.id, async (tx) => {
    const row = await tx.refreshToken.findUnique({ where: { tokenHash: hashCredential(token) } });
    if (!row || row.revokedAt || row.expiresAt <= new Date()) return { kind: 'invalid' as const };
    const rotated = await tx.refreshToken.updateMany({
      where: { id: row.id, rotatedAt: null },
      data: { rotatedAt: new Date() },
    });
    if (rotated.count === 0) {
      // Presented after it was rotated: it leaked, or a client raced itself. Either way the
      // family (its signed-in session) is no longer trustworthy.
      await tx.refreshToken.updateMany({
        where: { familyId: row.familyId, revokedAt: null },
        data: { revokedAt: new Date(), revokedReason: 'reuse' },
      });
      await endSessionsInTx(tx, { userId: row.userId, id: row.familyId }, 'refresh_token_reused');
      return { kind: 'reused' as const };
    }
    const member = await tx.membership.findFirst({
      where: { userId: row.userId, user: { disabledAt: null } },
    });
    if (!member) return { kind: 'invalid' as const };
    const session = { id: row.familyId, tenantId: tenant.id, userId: row.userId };
    if ((await sessionForRefresh(tx, request, session)) === 'ended') return { kind: 'invalid' as const };
    return { kind: 'ok' as const, tokens: await issueTokens(ctx, tenant, row.userId, row.familyId, tx) };
  });
  if (outcome.kind === 'reused') {
    await ctx.credentialCache.invalidate(tenantSlug, tenant.id);
    throw new ApiError(
      'refresh_token_reused',
      'this refresh token was already used; every session of its login is revoked',
    );
  }
  if (outcome.kind === 'invalid')
    throw new ApiError('unauthenticated', 'the refresh token is unknown, expired or revoked');
  return outcome.tokens;
}

/**
 * Revokes a refresh token's whole family and ends its signed-in session (its access tokens stop
 * working); an unknown token changes nothing (and says nothing).
 */
/**
 * Ends the session (the refresh-token family) of `token`. Answers the tenant's slug when a session
 * was ended (so the caller can have every API process re-check its realtime streams), else
 * undefined (an unknown token, or one whose family was revoked before: nothing changed).
 */
export async function logout(ctx: ApiContext, token: string): Promise<string | undefined> {
  const tenantSlug = tenantSlugOfToken(token);
  if (!tenantSlug) return undefined;
  const tenantId = tenantIdForSlug(tenantSlug);
  const ended = await withTenant(ctx.db, tenantId, async (tx) => {
    const row = await tx.refreshToken.findUnique({ where: { tokenHash: hashCredential(token) } });
    if (!row) return false;
    const revoked = await tx.refreshToken.updateMany({
      where: { familyId: row.familyId, revokedAt: null },
      data: { revokedAt: new Date(), revokedReason: 'logout' },
    });
    await endSessionsInTx(tx, { userId: row.userId, id: row.familyId }, 'logout');
    // A family revoked before (a second logout, an ended session) changed nothing now.
    return revoked.count > 0;
  });
  if (!ended) return undefined;
  await ctx.credentialCache.invalidate(tenantSlug, tenantId);
  return tenantSlug;
}

/** The calling member (API keys are refused: they are not members). */
export async function currentMember(
  ctx: ApiContext,
  request: FastifyRequest,
): Promise<{
  id: string;
  email: string;
  displayName: string;
  role: 'owner' | 'admin' | 'agent' | 'viewer';
  tenant: string;
  locale: string | null;
}> {
  const p = request.principal;
  if (p.kind !== 'user') throw new ApiError('forbidden', 'this route is for members, not API keys');
  // Read with the membership by the credential check (fresh, or cached under the same rules as
  // the role); the database only when that check did not keep it.
  const user =
    memberProfileOf(request) ??
    (await withTenant(ctx.db, p.tenantId, (tx) => tx.user.findUniqueOrThrow({ where: { id: p.userId } })));
  return {
    id: p.userId,
    email: user.email,
    displayName: user.displayName,
    role: p.role,
    tenant: p.slug,
    locale: user.locale,
  };
}

// Reset requests per account (whether it exists or not) per passwordResetTtlMs: enough for a
// lost email and a retry, and too few to flood a member's mailbox through the delivery hook.
export const PASSWORD_RESETS_PER_ACCOUNT = 3;

const pendingResets = new Set<Promise<void>>();

/** Resolves when every reset request started so far has been handled (tests, shutdown). */
export async function settledPasswordResets(): Promise<void> {
  await Promise.all([...pendingResets]);
}

/**
 * Starts a password reset: a single-use token goes to the delivery hook when the account exists,
 * at most PASSWORD_RESETS_PER_ACCOUNT times per passwordResetTtlMs. Returns before anything that
 * depends on the account is done (the lookup, the token, the delivery), so the answer has the
 * same shape and timing whether the account exists, is over its limit or not; a failure of the
 * work after the answer goes to `onError` (the request's log), never to the caller.
 */
export function startPasswordReset(
  ctx: ApiContext,
  input: { tenant?: string | undefined; email: string },
  onError: (error: unknown) => void,
): void {
  const work = issuePasswordReset(ctx, input).catch(onError);
  pendingResets.add(work);
  void work.finally(() => pendingResets.delete(work));
}

async function issuePasswordReset(
  ctx: ApiContext,
  input: { tenant?: string | undefined; email: string },
): Promise<void> {
  const tenantSlug = input.tenant ?? ctx.defaultTenant;
  const tenantId = tenantIdForSlug(tenantSlug);
  const address = input.email.toLowerCase();
  const limitKey = `${tenantKeyPrefix(tenantSlug)}api:password-resets:account:${hashCredential(address)}`;
  const allowed = await claimAttempt(ctx, [[limitKey, PASSWORD_RESETS_PER_ACCOUNT]], ctx.passwordResetTtlMs);
  if (!allowed) return;
  const issued = await withTenant(ctx.db, tenantId, async (tx) => {
    const user = await tx.user.findFirst({ where: { email: address, disabledAt: null } });
    if (!user) return undefined;
    const token = newTenantToken(tenantSlug);
    const expiresAt = new Date(Date.now() + ctx.passwordResetTtlMs);
    await tx.passwordResetToken.create({
      data: { tenantId, userId: user.id, tokenHash: token.hash, expiresAt },
    });
    await recordPasswordResetRequested(tx, { tenantId, userId: user.id });
    return { token: token.token, expiresAt, locale: user.locale };
  });
  if (issued) await ctx.onPasswordReset({ tenantSlug, email: address, ...issued });
}

/**
 * Sets a new password with a reset or invite token (single use) and signs out every session of
 * the user. Every other outstanding token of the user is spent with it: a reset link lying in an
 * old email must not work after the password was set with a newer one.
 */
export async function confirmPasswordReset(ctx: ApiContext, token: string, password: string): Promise<void> {
  const tenantSlug = tenantSlugOfToken(token);
  const invalid = new ApiError('invalid_reset_token', 'body.token is unknown, expired or already used');
  if (!tenantSlug) throw invalid;
  const tenantId = tenantIdForSlug(tenantSlug);
  const tokenHash = hashCredential(token);
  // The token is checked before the password is hashed: hashing (scrypt, ~32 MiB) is the
  // expensive step, so an unknown, expired or used token is refused without it. The claim below
  // (usedAt still null) keeps the token single-use when two confirmations race.
  const pending = await withTenant(ctx.db, tenantId, (tx) =>
    tx.passwordResetToken.findUnique({ where: { tokenHash } }),
  );
  if (!pending || pending.usedAt || pending.expiresAt <= new Date()) throw invalid;
  const passwordHash = await hashPassword(password, ctx.scrypt);
  const done = await withTenant(ctx.db, tenantId, async (tx) => {
    const row = await tx.passwordResetToken.findUnique({ where: { tokenHash } });
    if (!row || row.expiresAt <= new Date()) return false;
    const now = new Date();
    const used = await tx.passwordResetToken.updateMany({
      where: { id: row.id, usedAt: null },
      data: { usedAt: now },
    });
    if (used.count === 0) return false;
    await tx.passwordResetToken.updateMany({
      where: { userId: row.userId, usedAt: null },
      data: { usedAt: now },
    });
    await tx.user.update({ where: { id: row.userId }, data: { passwordHash } });
    await tx.refreshToken.updateMany({
      where: { userId: row.userId, revokedAt: null },
      data: { revokedAt: now, revokedReason: 'password_reset' },
    });
    await endSessionsInTx(tx, { userId: row.userId }, 'password_reset');
    await recordPasswordSet(tx, row);
    return row;
  });
  if (!done) throw invalid;
  await ctx.credentialCache.invalidate(tenantSlug, tenantId);
  if (done.purpose === 'reset')
    sendSecurityNotice(ctx, { tenantId, userId: done.userId, kind: 'password_changed' });
}

/** Who a reset or invite token is for, while it can still be used (the accept-invite page shows it). */
export async function describeResetToken(
  ctx: ApiContext,
  token: string,
): Promise<{
  email: string;
  displayName: string;
  tenant: string;
  expiresAt: Date;
  purpose: 'invite' | 'reset';
}> {
  const tenantSlug = tenantSlugOfToken(token);
  const invalid = new ApiError('invalid_reset_token', 'body.token is unknown, expired or already used');
  if (!tenantSlug) throw invalid;
  const row = await withTenant(ctx.db, tenantIdForSlug(tenantSlug), (tx) =>
    tx.passwordResetToken.findUnique({
      where: { tokenHash: hashCredential(token) },
      include: { user: true },
    }),
  );
  if (!row || row.usedAt || row.expiresAt <= new Date() || row.user.disabledAt) throw invalid;
  return {
    email: row.user.email,
    displayName: row.user.displayName,
    tenant: tenantSlug,
    expiresAt: row.expiresAt,
    purpose: row.purpose === 'invite' ? 'invite' : 'reset',
  };
}
