import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorBody, idParams } from '../schemas.ts';
import { getMessagingLimit, MESSAGING_LIMIT_TIERS, putMessagingLimit } from '../services/messaging-limit.ts';

/**
 * A Cloud API number's messaging limit (`/v1/sessions/:id/messaging-limit`): Meta's tier, the
 * unique customers it may start conversations with in a rolling 24 hours. Campaigns queue no
 * more template messages than the number has left of it; null does not limit (an unlimited tier).
 */
export const messagingLimitRoutes: FastifyPluginAsyncZod = async (app) => {
  const ctx = app.sb;
  const tiers = MESSAGING_LIMIT_TIERS.join(', ');
  const body = z.strictObject({
    messagingLimit: z
      .union([z.literal(250), z.literal(1_000), z.literal(10_000), z.literal(100_000)], {
        error: `must be one of Meta's tiers (${tiers}) or null`,
      })
      .nullable()
      .describe(
        `Unique customers per rolling 24 hours (Meta's tier: ${tiers}); null: not enforced (an unlimited tier, the default).`,
      ),
  });
  const settings = z.strictObject({ messagingLimit: z.number().int().positive().nullable() });

  app.get(
    '/:id/messaging-limit',
    {
      config: { access: { role: 'viewer', scope: 'read' } },
      schema: {
        summary: "A Cloud API number's messaging limit (Meta's tier)",
        tags: ['sessions'],
        params: idParams,
        response: { 200: settings, 400: errorBody, 404: errorBody },
      },
    },
    async (request) => await getMessagingLimit(ctx, request, request.params.id),
  );

  app.put(
    '/:id/messaging-limit',
    {
      config: { access: { role: 'admin', scope: 'manage' } },
      schema: {
        summary: "Replace a Cloud API number's messaging limit (Meta's tier, or null)",
        tags: ['sessions'],
        params: idParams,
        body,
        response: { 200: settings, 400: errorBody, 404: errorBody, 422: errorBody },
      },
    },
    async (request) => await putMessagingLimit(ctx, request, request.params.id, request.body),
  );
};
