import { timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ApiError } from '../errors.ts';
import { errorBody } from '../schemas.ts';
import { SESSION_STATES, sessionSummary } from '../services/status.ts';

/**
 * The operator's view of the configured tenant: how many sessions are in each state. Guarded by
 * INTERNAL_TOKEN (compared in constant time), not by a member's credential: the operator is not
 * a member of the tenant.
 */
export const internalRoutes: FastifyPluginAsyncZod<{ token: string }> = async (app, options) => {
  const expected = Buffer.from(`Bearer ${options.token}`);
  app.get(
    '/status',
    {
      config: { public: true },
      schema: {
        summary: "The configured tenant's sessions summary (for the operator)",
        tags: ['internal'],
        security: [],
        response: {
          200: z.strictObject({
            tenant: z.string(),
            sessions: z.strictObject({
              total: z.number().int(),
              byState: z.record(z.enum(SESSION_STATES), z.number().int()),
            }),
          }),
          401: errorBody,
        },
      },
    },
    async (request) => {
      const given = Buffer.from(request.headers.authorization ?? '');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        throw new ApiError('unauthenticated', 'Authorization must be Bearer <INTERNAL_TOKEN>');
      }
      return await sessionSummary(app.sb);
    },
  );
};
