import { realtimeStreamKey, tenantKeyPrefix } from '@switchboard/messaging/producer';
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorBody } from '../schemas.ts';
import {
  confirmPasswordReset,
  currentMember,
  describeResetToken,
  login,
  logout,
  refreshTokens,
  startPasswordReset,
} from '../services/auth.ts';
import { twoFactorChallengeSchema, twoFactorEnrolmentRequiredSchema } from './two-factor.ts';

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

/** Login, refresh (rotating), logout, the caller's identity, and password resets. */
export const authRoutes: FastifyPluginAsyncZod = async (app) => {
  const ctx = app.sb;

  app.post(
    '/login',
    {
      config: { public: true },
      schema: {
        summary: 'Exchange email and password for an access token and a refresh token',
        tags: ['auth'],
        security: [],
        body: z.strictObject({ tenant: slug.optional(), email, password }),
        description:
          'Members with two-factor sign-in get a challenge instead of tokens (answer it at ' +
          '/v1/auth/two-factor/verify); admins and owners the tenant requires it of, an enrol-only token.',
        response: {
          200: z.union([tokenPair, twoFactorChallengeSchema, twoFactorEnrolmentRequiredSchema]),
          400: errorBody,
          401: errorBody,
          429: errorBody,
        },
      },
    },
    async (request) => await login(ctx, request, request.body),
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
    async (request) => await refreshTokens(ctx, request, request.body.refreshToken),
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
      const ended = await logout(ctx, request.body.refreshToken);
      // The route is public, so the realtime plugin's re-check after identity writes knows no
      // tenant: the ended session's tenant stream gets the control entry here, and every API
      // process reading it re-checks its streams at once (this one too).
      if (ended) await app.realtime.announceChange(realtimeStreamKey(tenantKeyPrefix(ended)));
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
            locale: z.string().nullable().describe("the member's mail language; null: the tenant's default"),
          }),
          401: errorBody,
          403: errorBody,
        },
      },
    },
    async (request) => await currentMember(ctx, request),
  );

  app.post(
    '/password-reset',
    {
      config: { public: true },
      schema: {
        summary: 'Start a password reset: a single-use token goes to the delivery hook',
        description:
          'Answered 202 at once, whatever the account; at most 3 tokens per account per token lifetime.',
        tags: ['auth'],
        security: [],
        body: z.strictObject({ tenant: slug.optional(), email }),
        response: { 202: z.null(), 400: errorBody },
      },
    },
    async (request, reply) => {
      // 202 at once whether or not the account exists (or is over its limit): the lookup, the
      // token and the delivery happen after the answer, so neither its content nor its timing
      // reveals who has an account.
      startPasswordReset(ctx, request.body, (error) =>
        request.log.error({ err: error }, 'password reset request failed'),
      );
      return reply.status(202).send(null);
    },
  );

  const tokenBody = z.strictObject({ token: z.string().min(1).max(200) });
  /** A reset or invite token and the new password: both confirm routes take it, and do the same. */
  const tokenAndPassword = tokenBody.extend({ password: newPassword });
  const setPasswordWithToken = async (
    request: { body: z.infer<typeof tokenAndPassword> },
    reply: FastifyReply,
  ) => {
    await confirmPasswordReset(ctx, request.body.token, request.body.password);
    return reply.status(204).send(null);
  };

  app.post(
    '/password-reset/confirm',
    {
      config: { public: true },
      schema: {
        summary: 'Set a new password with a reset token (single use; signs out every session)',
        tags: ['auth'],
        security: [],
        body: tokenAndPassword,
        response: { 204: z.null(), 400: errorBody },
      },
    },
    setPasswordWithToken,
  );

  app.post(
    '/invite',
    {
      config: { public: true },
      schema: {
        summary: 'Who an invite (or reset) token is for, while it can be used',
        description: 'The accept-invite page shows the address before the password is set.',
        tags: ['auth'],
        security: [],
        body: tokenBody,
        response: {
          200: z.strictObject({
            email: z.string(),
            displayName: z.string(),
            tenant: z.string(),
            expiresAt: z.iso.datetime(),
            purpose: z.enum(['invite', 'reset']).describe('What the token was issued for.'),
          }),
          400: errorBody,
        },
      },
    },
    async (request) => {
      const invite = await describeResetToken(ctx, request.body.token);
      return { ...invite, expiresAt: invite.expiresAt.toISOString() };
    },
  );

  app.post(
    '/invite/accept',
    {
      config: { public: true },
      schema: {
        summary: 'Accept an invite: set the password with its token (single use), then sign in',
        tags: ['auth'],
        security: [],
        body: tokenAndPassword,
        response: { 204: z.null(), 400: errorBody },
      },
    },
    setPasswordWithToken,
  );
};
