import { timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ApiError } from '../errors.ts';
import { errorBody } from '../schemas.ts';
import { SESSION_STATES, tenantStatus } from '../services/status.ts';
import { inviteFirstOwner } from '../services/team.ts';

/**
 * What the operator asks of the configured tenant. Guarded by INTERNAL_TOKEN (compared in
 * constant time), not by a member's credential: the operator is not a member of the tenant.
 *
 * - GET /internal/status: sessions (counts by state, each by name) and whether an owner can
 *   sign in. The operator polls it for the Sessions column and the SessionsHealthy condition.
 * - POST /internal/owner-invite: the first owner's invite (WhatsAppTenant spec.owner.email);
 *   the operator puts the link in a Secret for the platform team.
 */
export const internalRoutes: FastifyPluginAsyncZod<{ token: string }> = async (app, options) => {
  const ctx = app.sb;
  const expected = Buffer.from(`Bearer ${options.token}`);
  app.addHook('onRequest', async (request) => {
    const given = Buffer.from(request.headers.authorization ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new ApiError('unauthenticated', 'Authorization must be Bearer <INTERNAL_TOKEN>');
    }
  });

  const state = z.enum(SESSION_STATES);
  app.get(
    '/status',
    {
      config: { public: true },
      schema: {
        summary: "The configured tenant's sessions and owner (for the operator)",
        tags: ['internal'],
        security: [],
        response: {
          200: z.strictObject({
            tenant: z.string(),
            sessions: z.strictObject({
              total: z.number().int(),
              byState: z.record(state, z.number().int()),
              items: z
                .array(z.strictObject({ name: z.string(), state, declared: z.boolean() }))
                .describe('Each session by name, declared ones first (at most 500).'),
            }),
            owner: z.strictObject({
              active: z.boolean().describe('Whether an owner has set a password and can sign in.'),
            }),
          }),
          401: errorBody,
        },
      },
    },
    async () => await tenantStatus(ctx),
  );

  app.post(
    '/owner-invite',
    {
      config: { public: true },
      schema: {
        summary: "Invite the configured tenant's first owner (for the operator)",
        description:
          'Makes `email` an owner without a password and returns a single-use invite token for ' +
          'the inbox page /accept-invite (also mailed to `email` when SMTP is configured); earlier ' +
          'invites stop working. 409 owner_exists once an ' +
          'owner can sign in.',
        tags: ['internal'],
        security: [],
        body: z.strictObject({ email: z.email({ error: 'must be an email address' }).max(320) }),
        response: {
          201: z.strictObject({
            email: z.string(),
            token: z.string().describe('Single use; the link is <inbox>/accept-invite#token=<token>.'),
            expiresAt: z.iso.datetime(),
          }),
          400: errorBody,
          401: errorBody,
          409: errorBody,
        },
      },
    },
    async (request, reply) => {
      const invite = await inviteFirstOwner(ctx, request.body.email);
      // Mailed too when the API has SMTP (spec.email): the owner gets the link without the Secret.
      ctx.onInvite({ ...invite, role: 'owner' });
      return reply
        .status(201)
        .send({ email: invite.email, token: invite.token, expiresAt: invite.expiresAt.toISOString() });
    },
  );
};
