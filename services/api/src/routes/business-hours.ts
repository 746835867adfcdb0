import { businessHoursSchema } from '@switchboard/messaging/producer';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorBody } from '../schemas.ts';
import { getBusinessHours, putBusinessHours } from '../services/business-hours.ts';

/**
 * Business hours and the away reply (`/v1/settings/business-hours`): days with opening times in
 * an IANA time zone, the message customers get outside them, and the window within which a
 * conversation gets it at most once. Read by every member (API keys: `read`), changed by admins
 * and up (`manage`).
 */
export const businessHoursRoutes: FastifyPluginAsyncZod = async (app) => {
  const ctx = app.sb;
  const hoursView = businessHoursSchema.safeExtend({
    openNow: z.boolean().describe('Whether the tenant is within its hours right now.'),
  });

  app.get(
    '/',
    {
      config: { access: { role: 'viewer', scope: 'read' } },
      schema: {
        summary: 'Business hours and the away reply',
        tags: ['settings'],
        response: { 200: hoursView },
      },
    },
    async (request) => await getBusinessHours(ctx, request),
  );

  app.put(
    '/',
    {
      config: { access: { role: 'admin', scope: 'manage' } },
      schema: {
        summary: 'Replace business hours and the away reply',
        tags: ['settings'],
        body: businessHoursSchema,
        response: { 200: hoursView, 400: errorBody },
      },
    },
    async (request) => await putBusinessHours(ctx, request, request.body),
  );
};
