import type { SealingKeyring } from '@switchboard/secrets';
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorBody } from '../schemas.ts';
import {
  confirmEnrolment,
  confirmRequiredEnrolment,
  disableTwoFactor,
  memberOfEnrolmentToken,
  startEnrolment,
  type TwoFactorOptions,
  twoFactorStatus,
  verifySignIn,
} from '../services/two-factor.ts';
import type { TwoFactorMember } from '../services/two-factor-challenge.ts';

/** Options of the two-factor routes. */
export interface TwoFactorRouteOptions {
  /** SEALING_KEYS: authenticator secrets are sealed with them; enrolment is refused without. */
  sealingKeys?: SealingKeyring;
  /** The clock TOTP steps are computed from (ms); default Date.now. */
  now?: () => number;
}

/** What login answers (200) when the member has two-factor sign-in. */
export const twoFactorChallengeSchema = z
  .strictObject({
    status: z.literal('two_factor_required'),
    challenge: z.string().describe('Send it with a code to POST /v1/auth/two-factor/verify.'),
    expiresIn: z.number().int().describe('Seconds the challenge can be answered.'),
  })
  .describe('The password was right; a second factor is needed.');

/** What login answers (200) when the tenant requires an admin or owner to enrol first. */
export const twoFactorEnrolmentRequiredSchema = z
  .strictObject({
    status: z.literal('two_factor_enrolment_required'),
    enrolmentToken: z
      .string()
      .describe('Only enrols: POST /v1/auth/two-factor/enrolment/start, then /enrolment/confirm.'),
    expiresIn: z.number().int().describe('Seconds the enrol-only token lasts.'),
  })
  .describe('The password was right; this tenant requires two-factor sign-in of admins and owners.');

const tokenPair = z.strictObject({
  accessToken: z.string(),
  tokenType: z.literal('Bearer'),
  expiresIn: z.number().int(),
  refreshToken: z.string(),
});
const code = z
  .string()
  .trim()
  .min(6, 'must be a 6-digit code or a recovery code')
  .max(64, 'must be a 6-digit code or a recovery code');
const enrolment = z.strictObject({
  secret: z.string().describe('Base32, for an authenticator app that cannot scan.'),
  otpauthUri: z.string(),
  qrCode: z.string().describe('The otpauth URI as a QR code: an SVG data URL.'),
});
const recoveryCodes = z
  .array(z.string())
  .describe('Single-use codes for when the authenticator is lost: shown this once, stored hashed.');
const enrolmentToken = z.string().min(1).max(2000);

function memberOf(request: FastifyRequest): TwoFactorMember {
  const p = request.principal;
  // Member routes only (config.access without a scope refuses API keys before this runs).
  if (p.kind !== 'user') throw new Error('two-factor routes are for members');
  return { tenantId: p.tenantId, slug: p.slug, userId: p.userId };
}

/**
 * Two-factor sign-in (TOTP): a member enrols, confirms (getting recovery codes once), and turns
 * it off with password and code; the sign-in's second step (`/verify`); and the enrol-only steps
 * of an admin or owner whose tenant requires it. Members only: API keys never need a second factor.
 */
export const twoFactorRoutes: FastifyPluginAsyncZod<TwoFactorRouteOptions> = async (app, opts) => {
  const ctx = app.sb;
  const options: TwoFactorOptions = { sealingKeys: opts.sealingKeys, now: opts.now ?? Date.now };
  const member = { role: 'viewer' } as const;

  app.get(
    '/',
    {
      config: { access: member },
      schema: {
        summary: "The calling member's two-factor state",
        tags: ['two-factor'],
        response: {
          200: z.strictObject({
            enabled: z.boolean(),
            pendingEnrolment: z.boolean().describe('Enrolment started and not confirmed.'),
            recoveryCodesLeft: z.number().int(),
            required: z.boolean().describe("The tenant's policy requires it of this member."),
          }),
        },
      },
    },
    async (request) => await twoFactorStatus(ctx.db, memberOf(request)),
  );

  app.post(
    '/enrol',
    {
      config: { access: member },
      schema: {
        summary: 'Start enrolment: a new authenticator secret (unconfirmed) as URI and QR code',
        description: 'Starting again replaces an unconfirmed secret; refused (409) while two-factor is on.',
        tags: ['two-factor'],
        response: { 200: enrolment, 409: errorBody },
      },
    },
    async (request) => await startEnrolment(ctx, options, memberOf(request)),
  );

  app.post(
    '/confirm',
    {
      config: { access: member },
      schema: {
        summary: 'Confirm enrolment with a code: two-factor is on, recovery codes are returned once',
        tags: ['two-factor'],
        body: z.strictObject({ code }),
        response: { 200: z.strictObject({ recoveryCodes }), 409: errorBody },
      },
    },
    async (request) => await confirmEnrolment(ctx, options, memberOf(request), request.body.code, request),
  );

  app.post(
    '/disable',
    {
      config: { access: member },
      schema: {
        summary: 'Turn two-factor sign-in off (password and a code or recovery code)',
        description: 'Refused (403) for admins and owners while the tenant requires two-factor sign-in.',
        tags: ['two-factor'],
        body: z.strictObject({ password: z.string().min(1).max(1024), code }),
        response: { 204: z.null() },
      },
    },
    async (request, reply) => {
      await disableTwoFactor(ctx, options, memberOf(request), request.body, request);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/verify',
    {
      config: { public: true },
      schema: {
        summary: "The sign-in's second step: the challenge login gave and a code (or a recovery code)",
        description:
          'A challenge takes 5 codes and signs in once; 10 wrong codes per member pause verification ' +
          'for 15 minutes (429 with Retry-After). A code is accepted once (±30 s of clock skew).',
        tags: ['two-factor'],
        security: [],
        body: z.strictObject({ challenge: z.string().min(1).max(2000), code }),
        response: { 200: tokenPair, 401: errorBody },
      },
    },
    async (request) => await verifySignIn(ctx, options, request.body, request),
  );

  app.post(
    '/enrolment/start',
    {
      config: { public: true },
      schema: {
        summary: 'Enrol with the enrol-only token a sign-in gave (tenant policy): as POST /enrol',
        tags: ['two-factor'],
        security: [],
        body: z.strictObject({ enrolmentToken }),
        response: { 200: enrolment, 401: errorBody, 409: errorBody },
      },
    },
    async (request) =>
      await startEnrolment(ctx, options, await memberOfEnrolmentToken(ctx, request.body.enrolmentToken)),
  );

  app.post(
    '/enrolment/confirm',
    {
      config: { public: true },
      schema: {
        summary: 'Confirm that enrolment with a code: recovery codes (once) and the sign-in tokens',
        tags: ['two-factor'],
        security: [],
        body: z.strictObject({ enrolmentToken, code }),
        response: {
          200: z.strictObject({ recoveryCodes, tokens: tokenPair }),
          401: errorBody,
          409: errorBody,
        },
      },
    },
    async (request) => await confirmRequiredEnrolment(ctx, options, request.body, request),
  );
};
