import { randomUUID } from 'node:crypto';
import { tenantIdForSlug, withTenant } from '@switchboard/db';
import { tenantKeyPrefix } from '@switchboard/messaging/producer';
import { hashPassword, needsRehash, verifyPassword } from '@switchboard/passwords';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { hashCredential, newTenantToken, tenantSlugOfToken } from '../auth/tokens.ts';
import type { ApiContext } from '../context.ts';
import { ApiError } from '../errors.ts';
import { signAccessToken } from '../plugins/auth.ts';
import { errorBody } from '../schemas.ts';

const slug = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a tenant slug (a DNS-1123 label)');
const email = z.email({ error: 'must be an email address' }).max(320);
const password = z.string().min(1, 'must not be empty').max(1024);
const newPassword = z.string().min(12, 'must be at least 12 characters').max(1024);

const tokenPair = z.strictObject({
  accessToken: z.string(),
  tokenType: z.literal('Bearer'),
  expiresIn: z.number().int().describe('Seconds until the access token expires.'),
  refreshToken: z.string().describe('Single use: each refresh returns a new one.'),
});

// A hash to verify against when the account does not exist, so "no such user" takes as long as "wrong password".
let dummyHash: Promise<string> | undefined;

async function issueTokens(
  ctx: ApiContext,
  tenant: { id: string; slug: string },
  userId: string,
  familyId: string,
  tx: Parameters<Parameters<typeof withTenant>[2]>[0],
) {
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
  const accessToken = await signAccessToken(
    ctx.jwtKey,
    { userId, tenantId: tenant.id, slug: tenant.slug },
    ctx.accessTokenTtlMs,
  );
  return {
    accessToken,
    tokenType: 'Bearer' as const,
    expiresIn: Math.floor(ctx.accessTokenTtlMs / 1000),
    refreshToken: refresh.token,
  };
}

/** Login, refresh (rotating), logout, the caller's identity, and password resets. */
export const authRoutes: FastifyPluginAsyncZod = async (app) => {
  const ctx = app.sb;

  async function failures(keys: string[]): Promise<number[]> {
    const values = await ctx.redis.mget(...keys);
    return values.map((v) => Number(v ?? 0));
  }
  async function recordFailure(keys: string[]): Promise<void> {
    const multi = ctx.redis.multi();
    for (const key of keys) multi.incr(key).pexpire(key, ctx.loginLockoutMs);
    await multi.exec();
  }

  app.post(
    '/login',
    {
      config: { public: true },
      schema: {
        summary: 'Exchange email and password for an access token and a refresh token',
        tags: ['auth'],
        security: [],
        body: z.strictObject({ tenant: slug.optional(), email, password }),
        response: { 200: tokenPair, 400: errorBody, 401: errorBody, 429: errorBody },
      },
    },
    async (request) => {
      const tenantSlug = request.body.tenant ?? ctx.defaultTenant;
      const tenant = { id: tenantIdForSlug(tenantSlug), slug: tenantSlug };
      const address = request.body.email.toLowerCase();
      const keyPrefix = tenantKeyPrefix(tenantSlug);
      const accountKey = `${keyPrefix}api:login-failures:account:${hashCredential(address)}`;
      const ipKey = `${tenantKeyPrefix(ctx.defaultTenant)}api:login-failures:ip:${request.ip}`;
      const [accountFailures, ipFailures] = await failures([accountKey, ipKey]);
      // Per IP allows more: one office behind one NAT has many people mistyping.
      if (accountFailures! >= ctx.loginMaxFailures || ipFailures! >= ctx.loginMaxFailures * 4) {
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
        (await verifyPassword(request.body.password, stored)) &&
        !!user?.passwordHash &&
        user.memberships.length > 0;
      if (!ok || !user) {
        await recordFailure([accountKey, ipKey]);
        throw new ApiError('invalid_credentials', 'email or password is wrong');
      }
      await ctx.redis.del(accountKey);
      const rehash = needsRehash(stored, ctx.scrypt)
        ? await hashPassword(request.body.password, ctx.scrypt)
        : undefined;
      return withTenant(ctx.db, tenant.id, async (tx) => {
        await tx.user.update({
          where: { id: user.id },
          data: { lastLoginAt: new Date(), ...(rehash ? { passwordHash: rehash } : {}) },
        });
        return issueTokens(ctx, tenant, user.id, randomUUID(), tx);
      });
    },
  );

  const refreshBody = z.strictObject({ refreshToken: z.string().min(1).max(200) });

  app.post(
    '/refresh',
    {
      config: { public: true },
      schema: {
        summary: 'Rotate a refresh token: the old one stops working, reusing it revokes the family',
        tags: ['auth'],
        security: [],
        body: refreshBody,
        response: { 200: tokenPair, 400: errorBody, 401: errorBody },
      },
    },
    async (request) => {
      const token = request.body.refreshToken;
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
          // family is no longer trustworthy.
          await tx.refreshToken.updateMany({
            where: { familyId: row.familyId, revokedAt: null },
            data: { revokedAt: new Date(), revokedReason: 'reuse' },
          });
          return { kind: 'reused' as const };
        }
        const member = await tx.membership.findFirst({
          where: { userId: row.userId, user: { disabledAt: null } },
        });
        if (!member) return { kind: 'invalid' as const };
        return { kind: 'ok' as const, tokens: await issueTokens(ctx, tenant, row.userId, row.familyId, tx) };
      });
      if (outcome.kind === 'reused') {
        throw new ApiError(
          'refresh_token_reused',
          'this refresh token was already used; every session of its login is revoked',
        );
      }
      if (outcome.kind === 'invalid')
        throw new ApiError('unauthenticated', 'the refresh token is unknown, expired or revoked');
      return outcome.tokens;
    },
  );

  app.post(
    '/logout',
    {
      config: { public: true },
      schema: {
        summary: 'Revoke a refresh token and its whole family',
        tags: ['auth'],
        security: [],
        body: refreshBody,
        response: { 204: z.null(), 400: errorBody },
      },
    },
    async (request, reply) => {
      const token = request.body.refreshToken;
      const tenantSlug = tenantSlugOfToken(token);
      if (tenantSlug) {
        await withTenant(ctx.db, tenantIdForSlug(tenantSlug), async (tx) => {
          const row = await tx.refreshToken.findUnique({ where: { tokenHash: hashCredential(token) } });
          if (!row) return;
          await tx.refreshToken.updateMany({
            where: { familyId: row.familyId, revokedAt: null },
            data: { revokedAt: new Date(), revokedReason: 'logout' },
          });
        });
      }
      // The same answer for an unknown token: logout tells nobody whether a token existed.
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/me',
    {
      config: { access: { role: 'viewer' } },
      schema: {
        summary: 'The calling member',
        tags: ['auth'],
        response: {
          200: z.strictObject({
            id: z.uuid(),
            email: z.string(),
            displayName: z.string(),
            role: z.enum(['owner', 'admin', 'agent', 'viewer']),
            tenant: z.string(),
          }),
          401: errorBody,
          403: errorBody,
        },
      },
    },
    async (request) => {
      const p = request.principal;
      if (p.kind !== 'user') throw new ApiError('forbidden', 'this route is for members, not API keys');
      const user = await withTenant(ctx.db, p.tenantId, (tx) =>
        tx.user.findUniqueOrThrow({ where: { id: p.userId } }),
      );
      return { id: user.id, email: user.email, displayName: user.displayName, role: p.role, tenant: p.slug };
    },
  );

  app.post(
    '/password-reset',
    {
      config: { public: true },
      schema: {
        summary: 'Start a password reset: a single-use token goes to the delivery hook',
        tags: ['auth'],
        security: [],
        body: z.strictObject({ tenant: slug.optional(), email }),
        response: { 202: z.null(), 400: errorBody },
      },
    },
    async (request, reply) => {
      const tenantSlug = request.body.tenant ?? ctx.defaultTenant;
      const tenantId = tenantIdForSlug(tenantSlug);
      const address = request.body.email.toLowerCase();
      const issued = await withTenant(ctx.db, tenantId, async (tx) => {
        const user = await tx.user.findFirst({ where: { email: address, disabledAt: null } });
        if (!user) return undefined;
        const token = newTenantToken(tenantSlug);
        const expiresAt = new Date(Date.now() + ctx.passwordResetTtlMs);
        await tx.passwordResetToken.create({
          data: { tenantId, userId: user.id, tokenHash: token.hash, expiresAt },
        });
        return { token: token.token, expiresAt };
      });
      if (issued) await ctx.onPasswordReset({ tenantSlug, email: address, ...issued });
      // 202 whether or not the account exists: the endpoint does not reveal who has an account.
      return reply.status(202).send(null);
    },
  );

  app.post(
    '/password-reset/confirm',
    {
      config: { public: true },
      schema: {
        summary: 'Set a new password with a reset token (single use; signs out every session)',
        tags: ['auth'],
        security: [],
        body: z.strictObject({ token: z.string().min(1).max(200), password: newPassword }),
        response: { 204: z.null(), 400: errorBody },
      },
    },
    async (request, reply) => {
      const { token } = request.body;
      const tenantSlug = tenantSlugOfToken(token);
      const invalid = new ApiError('invalid_reset_token', 'body.token is unknown, expired or already used');
      if (!tenantSlug) throw invalid;
      const passwordHash = await hashPassword(request.body.password, ctx.scrypt);
      const done = await withTenant(ctx.db, tenantIdForSlug(tenantSlug), async (tx) => {
        const row = await tx.passwordResetToken.findUnique({ where: { tokenHash: hashCredential(token) } });
        if (!row || row.expiresAt <= new Date()) return false;
        const used = await tx.passwordResetToken.updateMany({
          where: { id: row.id, usedAt: null },
          data: { usedAt: new Date() },
        });
        if (used.count === 0) return false;
        await tx.user.update({ where: { id: row.userId }, data: { passwordHash } });
        await tx.refreshToken.updateMany({
          where: { userId: row.userId, revokedAt: null },
          data: { revokedAt: new Date(), revokedReason: 'password_reset' },
        });
        return true;
      });
      if (!done) throw invalid;
      return reply.status(204).send(null);
    },
  );
};
