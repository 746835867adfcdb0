// Two-factor sign-in with TOTP (RFC 6238: SHA-1, 6 digits, 30-second steps, ±1 step of clock
// skew): enrolment and its confirmation (which hands out recovery codes once), disabling, the
// sign-in's second step behind a short-lived signed challenge, and the tenant's policy that
// admins and owners must have it. Routes validate and call one of these.
//
// Secrets are sealed with the API's SEALING_KEYS (purpose TWO_FACTOR_SECRET_PURPOSE). A code is
// accepted at most once: the step it was accepted at is stored, and only later steps pass.
// Recovery codes are 80 random bits each and stored as SHA-256 of the user id and the code (the
// project's hash for opaque credentials, auth/tokens.ts): with that much entropy a fast hash
// cannot be searched, and a slow hash (scrypt) would cost ~32 MiB and tens of ms per stored
// code on every attempt and would protect nothing more.
import { randomBytes } from 'node:crypto';
import { type Db, type TenantTx, withTenant } from '@switchboard/db';
import { tenantKeyPrefix } from '@switchboard/messaging/producer';
import { verifyPassword } from '@switchboard/passwords';
import { RedisScript } from '@switchboard/redis';
import type { SealingKeyring } from '@switchboard/secrets';
import type { FastifyRequest } from 'fastify';
import * as OTPAuth from 'otpauth';
import QRCode from 'qrcode';
import { recordAudit } from '../audit.ts';
import { hashCredential } from '../auth/tokens.ts';
import type { ApiContext } from '../context.ts';
import { ApiError } from '../errors.ts';
import { sendSecurityNotice } from '../mail/security-notices.ts';
import { completeSignIn, noteNewSignIn, type TokenPair } from './auth.ts';
import {
  CHALLENGE_AUDIENCE,
  CHALLENGE_TTL_MS,
  ENROLMENT_AUDIENCE,
  readTwoFactorToken,
  requiredFor,
  type TwoFactorMember,
  tenantRequiresTwoFactor,
} from './two-factor-challenge.ts';

/** The purpose TOTP secrets are sealed under (a sealed value opens for no other purpose). */
export const TWO_FACTOR_SECRET_PURPOSE = 'two-factor-secret';
/** Seconds per TOTP step (RFC 6238's default, what every authenticator app uses). */
export const TOTP_PERIOD_SECONDS = 30;
/** Recovery codes handed out at confirmation. */
export const RECOVERY_CODE_COUNT = 10;
/** Codes tried against one challenge before it is refused (a new sign-in gives a new one). */
export const ATTEMPTS_PER_CHALLENGE = 5;
/** Wrong codes per member (over every challenge) before verification pauses for USER_WINDOW_MS. */
export const FAILURES_PER_USER = 10;
/**
 * The per-member failure window. With ±1 step, 3 codes in a million pass: at 10 guesses per 15
 * minutes a guesser needs about a year on average to hit one.
 */
export const USER_WINDOW_MS = 15 * 60_000;

/** What the two-factor service needs beside the API's context. */
export interface TwoFactorOptions {
  /** SEALING_KEYS: without them enrolment is refused (a secret is never stored in the clear). */
  sealingKeys: SealingKeyring | undefined;
  /** The clock TOTP steps are computed from, in ms (tests inject one; default Date.now). */
  now: () => number;
}

/** A started enrolment: what the authenticator app needs. */
export interface Enrolment {
  /** Base32, for typing into an app that cannot scan. */
  secret: string;
  otpauthUri: string;
  /** The URI as a QR code, an SVG data URL. */
  qrCode: string;
}

/** A member's two-factor state, as the settings page shows it. */
export interface TwoFactorStatus {
  enabled: boolean;
  pendingEnrolment: boolean;
  recoveryCodesLeft: number;
  /** The tenant's policy requires it of this member (an admin or owner). */
  required: boolean;
}

function totpOf(secret: string, label = 'member'): OTPAuth.TOTP {
  return new OTPAuth.TOTP({
    issuer: 'Switchboard',
    label,
    algorithm: 'SHA1',
    digits: 6,
    period: TOTP_PERIOD_SECONDS,
    secret: OTPAuth.Secret.fromBase32(secret),
  });
}

/** The TOTP step a 6-digit code is valid at (within ±1 step of `now`), or undefined. */
export function matchingStep(secret: string, code: string, now: number): number | undefined {
  const delta = totpOf(secret).validate({ token: code, timestamp: now, window: 1 });
  if (delta === null) return undefined;
  return Math.floor(now / 1000 / TOTP_PERIOD_SECONDS) + delta;
}

const RECOVERY_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

/** A new recovery code: 16 base32 characters (80 bits) in groups of four. */
function newRecoveryCode(): string {
  const bytes = randomBytes(16);
  let code = '';
  for (const byte of bytes) code += RECOVERY_ALPHABET[byte & 31];
  return code.match(/.{4}/g)!.join('-');
}

/** A typed recovery code without case, spaces or dashes, or undefined when it cannot be one. */
function normalizedRecoveryCode(input: string): string | undefined {
  const code = input.toLowerCase().replace(/[\s-]/g, '');
  return /^[a-z2-7]{16}$/.test(code) ? code : undefined;
}

function recoveryCodeHash(userId: string, code: string): string {
  return hashCredential(`two-factor-recovery\n${userId}\n${code}`);
}

async function auditAs(
  tx: TenantTx,
  member: TwoFactorMember,
  action: string,
  metadata: Record<string, string | number> = {},
): Promise<void> {
  await recordAudit(tx, {
    tenantId: member.tenantId,
    actorType: 'user',
    actorId: member.userId,
    action,
    target: { type: 'user', id: member.userId },
    metadata,
  });
}

/** The member an enrol-only token (from a sign-in the policy stopped) is for. */
export async function memberOfEnrolmentToken(ctx: ApiContext, token: string): Promise<TwoFactorMember> {
  const member = await readTwoFactorToken(ctx, token, ENROLMENT_AUDIENCE, 'body.enrolmentToken');
  // Still an active member: one removed or disabled since the sign-in enrols nothing.
  const active = await withTenant(ctx.db, member.tenantId, (tx) =>
    tx.membership.findFirst({ where: { userId: member.userId, user: { disabledAt: null } } }),
  );
  if (!active) throw new ApiError('unauthenticated', 'body.enrolmentToken is for someone no longer a member');
  return member;
}

// Counts an attempt against every key whose limit is not reached (each with its own window) and
// answers 0; when a key is at its limit nothing changes and the answer is the ms until it expires.
const CLAIM = new RedisScript(`
for i, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') >= tonumber(ARGV[i * 2 - 1]) then
    local ttl = redis.call('PTTL', key)
    if ttl < 1 then return tonumber(ARGV[i * 2]) end
    return ttl
  end
end
for i, key in ipairs(KEYS) do
  redis.call('INCR', key)
  if redis.call('PTTL', key) < 0 then redis.call('PEXPIRE', key, ARGV[i * 2]) end
end
return 0
`);

function limitKeys(ctx: ApiContext, member: TwoFactorMember, challengeId?: string) {
  // Under the API's own prefix: its Redis ACL user reaches no other prefix.
  const prefix = `${tenantKeyPrefix(ctx.defaultTenant)}api:two-factor:`;
  return {
    user: `${prefix}failures:${member.tenantId}:${member.userId}`,
    challenge: challengeId ? `${prefix}challenge-attempts:${challengeId}` : undefined,
    spent: challengeId ? `${prefix}challenge-spent:${challengeId}` : undefined,
  };
}

async function claimAttempt(ctx: ApiContext, limits: [key: string, max: number, windowMs: number][]) {
  const waitMs = Number(
    await CLAIM.run(
      ctx.redis,
      limits.map(([key]) => key),
      limits.flatMap(([, max, windowMs]) => [max, windowMs]),
    ),
  );
  if (waitMs > 0) {
    throw new ApiError('rate_limited', 'too many two-factor codes tried; wait before trying again', {
      retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)),
    });
  }
}

function invalidCode(): ApiError {
  return new ApiError('two_factor_code_invalid', 'body.code is wrong, expired or already used');
}

/**
 * Locks the member's credential row (when there is one) for the rest of the transaction: a second
 * request waits here and then reads what the first one wrote (the step or recovery codes it spent,
 * the confirmation). Prisma's updateMany selects its rows before it updates them, so its
 * condition alone does not serialize two requests (two uses of one code both passed).
 */
async function lockCredential(tx: TenantTx, member: TwoFactorMember): Promise<void> {
  await tx.$queryRaw`
    SELECT 1 FROM two_factor_credentials
     WHERE tenant_id = ${member.tenantId}::uuid AND user_id = ${member.userId}::uuid
       FOR UPDATE`;
}

/**
 * Checks `code` (a TOTP code or an unused recovery code) for the member's confirmed credential
 * and spends it: the TOTP step is stored (the code and earlier ones stop working), a recovery
 * code is removed. The row is locked first, so two requests cannot spend one code.
 */
async function spendCode(
  tx: TenantTx,
  options: TwoFactorOptions,
  member: TwoFactorMember,
  code: string,
): Promise<'totp' | 'recovery' | undefined> {
  const where = { tenantId_userId: { tenantId: member.tenantId, userId: member.userId } };
  await lockCredential(tx, member);
  const credential = await tx.twoFactorCredential.findUnique({ where });
  if (!credential?.confirmedAt || !options.sealingKeys) return undefined;
  const compact = code.replace(/\s/g, '');
  if (/^\d{6}$/.test(compact)) {
    const secret = options.sealingKeys.open(credential.secretCiphertext, TWO_FACTOR_SECRET_PURPOSE);
    const step = matchingStep(secret, compact, options.now());
    if (step === undefined) return undefined;
    const spent = await tx.twoFactorCredential.updateMany({
      where: {
        tenantId: member.tenantId,
        userId: member.userId,
        OR: [{ lastUsedStep: null }, { lastUsedStep: { lt: BigInt(step) } }],
      },
      // A secret still sealed with an older key of the ring moves onto the current one.
      data: {
        lastUsedStep: BigInt(step),
        ...(options.sealingKeys.needsReseal(credential.secretCiphertext)
          ? {
              secretCiphertext: options.sealingKeys.seal(
                secret,
                TWO_FACTOR_SECRET_PURPOSE,
              ) as Uint8Array<ArrayBuffer>,
            }
          : {}),
      },
    });
    return spent.count === 1 ? 'totp' : undefined;
  }
  const recovery = normalizedRecoveryCode(code);
  if (!recovery) return undefined;
  const hash = recoveryCodeHash(member.userId, recovery);
  if (!credential.recoveryCodeHashes.includes(hash)) return undefined;
  // array_remove on the row as it is when updated (not as read above): two different codes used
  // at once each remove only their own.
  const bad = await tx.twoFactorCredential.updateMany({
    where: { tenantId: member.tenantId, userId: member.userId, recoveryCodeHashes: { has: hash } },
    data: { recoveryCodeHashes: credential.recoveryCodeHashes.filter((h) => h !== hash) },
  });
  const spent = bad.count;
  return spent === 1 ? 'recovery' : undefined;
}

/**
 * The sign-in's second step: the challenge login gave and a code. Rate-limited per challenge
 * (ATTEMPTS_PER_CHALLENGE) and per member (FAILURES_PER_USER per USER_WINDOW_MS), answered 429
 * with Retry-After; a wrong code is audited as `auth.sign_in_failed`. A challenge signs in once.
 */
export async function verifySignIn(
  ctx: ApiContext,
  options: TwoFactorOptions,
  input: { challenge: string; code: string },
  request: FastifyRequest,
): Promise<TokenPair> {
  const challenge = await readTwoFactorToken(ctx, input.challenge, CHALLENGE_AUDIENCE, 'body.challenge');
  const keys = limitKeys(ctx, challenge, challenge.id);
  if (await ctx.redis.exists(keys.spent!)) {
    throw new ApiError('unauthenticated', 'body.challenge was already used; sign in again');
  }
  await claimAttempt(ctx, [
    [keys.challenge!, ATTEMPTS_PER_CHALLENGE, CHALLENGE_TTL_MS],
    [keys.user, FAILURES_PER_USER, USER_WINDOW_MS],
  ]);
  const tenant = { id: challenge.tenantId, slug: challenge.slug };
  const outcome = await withTenant(ctx.db, tenant.id, async (tx) => {
    const member = await tx.membership.findFirst({
      where: { userId: challenge.userId, user: { disabledAt: null } },
    });
    const kind = member ? await spendCode(tx, options, challenge, input.code) : undefined;
    if (!kind) return undefined;
    if (kind === 'recovery') {
      const left = await tx.twoFactorCredential.findUniqueOrThrow({
        where: { tenantId_userId: { tenantId: tenant.id, userId: challenge.userId } },
      });
      await auditAs(tx, challenge, 'two_factor.recovery_code_used', {
        recoveryCodesLeft: left.recoveryCodeHashes.length,
      });
    }
    return kind;
  });
  if (!outcome) {
    await withTenant(ctx.db, tenant.id, (tx) =>
      auditAs(tx, challenge, 'auth.sign_in_failed', { reason: 'two_factor_code_invalid', ip: request.ip }),
    );
    throw invalidCode();
  }
  // One sign-in per challenge: a second request with the same challenge (even a good code of
  // the next step) is refused.
  const first = await ctx.redis.set(keys.spent!, '1', 'PX', CHALLENGE_TTL_MS, 'NX');
  if (first !== 'OK') throw new ApiError('unauthenticated', 'body.challenge was already used; sign in again');
  await ctx.redis.del(keys.user);
  const tokens = await withTenant(ctx.db, tenant.id, (tx) =>
    completeSignIn(ctx, request, tx, { tenant, userId: challenge.userId, method: 'password+two_factor' }),
  );
  noteNewSignIn(ctx, request, { tenantId: tenant.id, userId: challenge.userId });
  return tokens;
}

/** How long a started, unconfirmed enrolment's key is answered again to a new start. */
const PENDING_ENROLMENT_MS = 10 * 60_000;

/**
 * Starts (or restarts) enrolment: a secret, sealed and unconfirmed (the pending one again when it
 * was started less than PENDING_ENROLMENT_MS ago). Refused while two-factor
 * sign-in is on (disable it first) and without SEALING_KEYS.
 */
export async function startEnrolment(
  ctx: ApiContext,
  options: TwoFactorOptions,
  member: TwoFactorMember,
): Promise<Enrolment> {
  const keys = options.sealingKeys;
  if (!keys) {
    throw new ApiError(
      'conflict',
      'two-factor sign-in is off: the API has no SEALING_KEYS to seal authenticator secrets with',
    );
  }
  const fresh = new OTPAuth.Secret({ size: 20 }).base32;
  const { email, secret } = await withTenant(ctx.db, member.tenantId, async (tx) => {
    const where = { tenantId_userId: { tenantId: member.tenantId, userId: member.userId } };
    const seal = (value: string) => keys.seal(value, TWO_FACTOR_SECRET_PURPOSE) as Uint8Array<ArrayBuffer>;
    // Two starts at once (two tabs, a repeated request) end on one row: the second insert waits
    // for the first and does nothing, and both answer the same pending key.
    await tx.twoFactorCredential.createMany({
      data: [{ tenantId: member.tenantId, userId: member.userId, secretCiphertext: seal(fresh) }],
      skipDuplicates: true,
    });
    await lockCredential(tx, member);
    const row = await tx.twoFactorCredential.findUniqueOrThrow({ where });
    if (row.confirmedAt) {
      throw new ApiError('conflict', 'two-factor sign-in is already on; disable it to enrol again');
    }
    const user = await tx.user.findUniqueOrThrow({ where: { id: member.userId } });
    // A pending key started within PENDING_ENROLMENT_MS is answered again, so a second start
    // never invalidates a code already scanned; an older one is replaced.
    if (Date.now() - row.updatedAt.getTime() < PENDING_ENROLMENT_MS) {
      return { email: user.email, secret: keys.open(row.secretCiphertext, TWO_FACTOR_SECRET_PURPOSE) };
    }
    await tx.twoFactorCredential.update({
      where,
      data: { secretCiphertext: seal(fresh), lastUsedStep: null, recoveryCodeHashes: [] },
    });
    return { email: user.email, secret: fresh };
  });
  const otpauthUri = totpOf(secret, `${email} (${member.slug})`).toString();
  const svg = await QRCode.toString(otpauthUri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
  return { secret, otpauthUri, qrCode: `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}` };
}

/**
 * Confirms enrolment with a code of the new secret: two-factor sign-in is on from here, and the
 * recovery codes are returned (the only time they exist in the clear). Audited
 * `two_factor.enrolled`. Wrong codes count against the member's failure limit.
 */
export async function confirmEnrolment(
  ctx: ApiContext,
  options: TwoFactorOptions,
  member: TwoFactorMember,
  code: string,
  request: FastifyRequest,
): Promise<{ recoveryCodes: string[] }> {
  const keys = limitKeys(ctx, member);
  await claimAttempt(ctx, [[keys.user, FAILURES_PER_USER, USER_WINDOW_MS]]);
  const recoveryCodes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
  const confirmed = await withTenant(ctx.db, member.tenantId, async (tx) => {
    const where = { tenantId_userId: { tenantId: member.tenantId, userId: member.userId } };
    await lockCredential(tx, member);
    const credential = await tx.twoFactorCredential.findUnique({ where });
    if (!credential) throw new ApiError('conflict', 'no enrolment is started; start one first');
    if (credential.confirmedAt) throw new ApiError('conflict', 'two-factor sign-in is already on');
    if (!options.sealingKeys) return false;
    const secret = options.sealingKeys.open(credential.secretCiphertext, TWO_FACTOR_SECRET_PURPOSE);
    const step = /^\d{6}$/.test(code.trim()) ? matchingStep(secret, code.trim(), options.now()) : undefined;
    if (step === undefined) return false;
    const done = await tx.twoFactorCredential.updateMany({
      where: { tenantId: member.tenantId, userId: member.userId, confirmedAt: null },
      data: {
        confirmedAt: new Date(),
        lastUsedStep: BigInt(step),
        recoveryCodeHashes: recoveryCodes.map((c) => recoveryCodeHash(member.userId, c.replace(/-/g, ''))),
      },
    });
    if (done.count !== 1) return false;
    await auditAs(tx, member, 'two_factor.enrolled');
    return true;
  });
  if (!confirmed) throw invalidCode();
  await ctx.redis.del(keys.user);
  noticeOfChange(ctx, request, member, 'enabled');
  return { recoveryCodes };
}

/** Confirms the enrolment an enrol-only token asked for, and completes that sign-in. */
export async function confirmRequiredEnrolment(
  ctx: ApiContext,
  options: TwoFactorOptions,
  input: { enrolmentToken: string; code: string },
  request: FastifyRequest,
): Promise<{ recoveryCodes: string[]; tokens: TokenPair }> {
  const member = await memberOfEnrolmentToken(ctx, input.enrolmentToken);
  const { recoveryCodes } = await confirmEnrolment(ctx, options, member, input.code, request);
  const tenant = { id: member.tenantId, slug: member.slug };
  const tokens = await withTenant(ctx.db, tenant.id, (tx) =>
    completeSignIn(ctx, request, tx, { tenant, userId: member.userId, method: 'password+two_factor' }),
  );
  noteNewSignIn(ctx, request, { tenantId: tenant.id, userId: member.userId });
  return { recoveryCodes, tokens };
}

/**
 * Turns two-factor sign-in off, given the member's password and a code (TOTP or recovery).
 * Refused for an admin or owner while the tenant requires it. Audited `two_factor.disabled`.
 */
export async function disableTwoFactor(
  ctx: ApiContext,
  options: TwoFactorOptions,
  member: TwoFactorMember,
  input: { password: string; code: string },
  request: FastifyRequest,
): Promise<void> {
  const keys = limitKeys(ctx, member);
  await claimAttempt(ctx, [[keys.user, FAILURES_PER_USER, USER_WINDOW_MS]]);
  const state = await withTenant(ctx.db, member.tenantId, async (tx) => ({
    user: await tx.user.findUniqueOrThrow({ where: { id: member.userId }, include: { memberships: true } }),
    policy: await tenantRequiresTwoFactor(tx, member.tenantId),
  }));
  if (requiredFor(state.user.memberships[0]?.role, state.policy)) {
    throw new ApiError(
      'forbidden',
      "this tenant requires two-factor sign-in of admins and owners; it can't be turned off",
    );
  }
  if (!state.user.passwordHash || !(await verifyPassword(input.password, state.user.passwordHash))) {
    // 400 with the field, not 401: the caller is signed in, and a 401 would make clients refresh.
    throw new ApiError('validation_failed', 'body.password is wrong', {
      issues: [{ path: 'body.password', message: 'is wrong' }],
    });
  }
  const disabled = await withTenant(ctx.db, member.tenantId, async (tx) => {
    if (!(await spendCode(tx, options, member, input.code))) return false;
    await tx.twoFactorCredential.delete({
      where: { tenantId_userId: { tenantId: member.tenantId, userId: member.userId } },
    });
    await auditAs(tx, member, 'two_factor.disabled');
    return true;
  });
  if (!disabled) throw invalidCode();
  await ctx.redis.del(keys.user);
  noticeOfChange(ctx, request, member, 'disabled');
}

/** Mails the member that their two-factor sign-in changed (never throws, never waits). */
function noticeOfChange(
  ctx: ApiContext,
  request: FastifyRequest,
  member: TwoFactorMember,
  change: 'enabled' | 'disabled',
): void {
  sendSecurityNotice(
    ctx,
    {
      tenantId: member.tenantId,
      userId: member.userId,
      kind: 'two_factor_changed',
      change,
      ip: request.ip,
      userAgent: request.headers['user-agent'],
    },
    (e) => request.log.error({ err: e }, 'two-factor notice failed'),
  );
}

/** The member's two-factor state. */
export async function twoFactorStatus(db: Db, member: TwoFactorMember): Promise<TwoFactorStatus> {
  return await withTenant(db, member.tenantId, async (tx) => {
    const credential = await tx.twoFactorCredential.findUnique({
      where: { tenantId_userId: { tenantId: member.tenantId, userId: member.userId } },
    });
    const membership = await tx.membership.findFirst({ where: { userId: member.userId } });
    return {
      enabled: !!credential?.confirmedAt,
      pendingEnrolment: !!credential && !credential.confirmedAt,
      recoveryCodesLeft: credential?.confirmedAt ? credential.recoveryCodeHashes.length : 0,
      required: requiredFor(membership?.role, await tenantRequiresTwoFactor(tx, member.tenantId)),
    };
  });
}

/** The tenant's security policy. */
export async function securityPolicy(
  db: Db,
  tenantId: string,
): Promise<{ requireTwoFactorForAdmins: boolean }> {
  return {
    requireTwoFactorForAdmins: await withTenant(db, tenantId, (tx) => tenantRequiresTwoFactor(tx, tenantId)),
  };
}

/** Sets the tenant's security policy; audited `two_factor.policy_changed` when it changes. */
export async function setSecurityPolicy(
  db: Db,
  member: TwoFactorMember,
  input: { requireTwoFactorForAdmins: boolean },
): Promise<{ requireTwoFactorForAdmins: boolean }> {
  await withTenant(db, member.tenantId, async (tx) => {
    const before = await tenantRequiresTwoFactor(tx, member.tenantId);
    await tx.tenantSecurityPolicy.upsert({
      where: { tenantId: member.tenantId },
      create: { tenantId: member.tenantId, requireTwoFactorForAdmins: input.requireTwoFactorForAdmins },
      update: { requireTwoFactorForAdmins: input.requireTwoFactorForAdmins },
    });
    if (before !== input.requireTwoFactorForAdmins) {
      await recordAudit(tx, {
        tenantId: member.tenantId,
        actorType: 'user',
        actorId: member.userId,
        action: 'two_factor.policy_changed',
        target: { type: 'tenant', id: member.tenantId },
        metadata: { requireTwoFactorForAdmins: input.requireTwoFactorForAdmins },
      });
    }
  });
  return input;
}
