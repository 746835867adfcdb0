import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorBody, idParams } from '../schemas.ts';
import { getCallSettings, putCallSettings } from '../services/call-settings.ts';

/**
 * A session's call handling (`/v1/sessions/:id/calls`): decline incoming WhatsApp calls
 * automatically and answer the caller with a text (Baileys sessions; the Cloud API's calls are
 * not handled). Missed and declined calls appear in the thread and as `call.received` webhooks.
 */
export const callSettingsRoutes: FastifyPluginAsyncZod = async (app) => {
  const ctx = app.sb;
  const settings = z.strictObject({
    rejectCalls: z.boolean().describe('Decline incoming calls as they ring.'),
    replyText: z
      .string()
      .trim()
      .min(1)
      .max(4096)
      .nullable()
      .describe('Sent to the caller in the chat after a declined call; null: nothing.'),
  });

  app.get(
    '/:id/calls',
    {
      config: { access: { role: 'viewer', scope: 'read' } },
      schema: {
        summary: "A session's call handling",
        tags: ['sessions'],
        params: idParams,
        response: { 200: settings, 400: errorBody, 404: errorBody },
      },
    },
    async (request) => await getCallSettings(ctx, request, request.params.id),
  );

  app.put(
    '/:id/calls',
    {
      config: { access: { role: 'admin', scope: 'manage' } },
      schema: {
        summary: "Replace a session's call handling (decline calls, reply text)",
        tags: ['sessions'],
        params: idParams,
        body: settings,
        response: { 200: settings, 400: errorBody, 404: errorBody },
      },
    },
    async (request) => await putCallSettings(ctx, request, request.params.id, request.body),
  );
};
