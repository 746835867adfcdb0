import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { securityPolicy, setSecurityPolicy } from '../services/two-factor.ts';

const policy = z.strictObject({
  requireTwoFactorForAdmins: z
    .boolean()
    .describe(
      'Admins and owners must sign in with two-factor; one who has not enrolled gets an enrol-only token at sign-in.',
    ),
});

/** The tenant's sign-in policy: read by admins and owners, set by them (members only). */
export const tenantSecurityRoutes: FastifyPluginAsyncZod = async (app) => {
  const ctx = app.sb;
  const access = { role: 'admin' } as const;
  app.get(
    '/',
    {
      config: { access },
      schema: { summary: "The tenant's sign-in policy", tags: ['tenant'], response: { 200: policy } },
    },
    async (request) => await securityPolicy(ctx.db, request.principal.tenantId),
  );
  app.put(
    '/',
    {
      config: { access },
      schema: {
        summary: "Set the tenant's sign-in policy",
        description:
          'Audited as two_factor.policy_changed. Signed-in sessions keep working until they sign in again.',
        tags: ['tenant'],
        body: policy,
        response: { 200: policy },
      },
    },
    async (request) => {
      const p = request.principal;
      if (p.kind !== 'user') throw new Error('tenant security routes are for members');
      return await setSecurityPolicy(
        ctx.db,
        { tenantId: p.tenantId, slug: p.slug, userId: p.userId },
        request.body,
      );
    },
  );
};
