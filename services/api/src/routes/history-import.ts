import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorBody, idParams } from '../schemas.ts';
import { getHistoryImport, putHistoryImport } from '../services/history-import.ts';

/** The largest window (days); the same bound as packages/channels' HISTORY_IMPORT_MAX_DAYS. */
const MAX_DAYS = 90;

/**
 * A session's history on pairing (`/v1/sessions/:id/history-import`): when a Baileys number is
 * paired, the chats WhatsApp sends the new device are stored for the last N days (at most 5,000
 * messages), de-duplicated with what is stored, without webhooks, unread counts or automatic
 * replies (docs/history-import.md). Cloud API sessions take only `none`.
 */
export const historyImportRoutes: FastifyPluginAsyncZod = async (app) => {
  const ctx = app.sb;
  const settings = z.strictObject({
    historyImport: z
      .union([
        z.literal('none'),
        z
          .number({ error: `must be "none" or a whole number of days from 1 to ${MAX_DAYS}` })
          .int(`must be a whole number of days from 1 to ${MAX_DAYS}`)
          .min(1, `must be "none" or 1 to ${MAX_DAYS} days`)
          .max(MAX_DAYS, `at most ${MAX_DAYS} days`),
      ])
      .describe(
        `"none" (the default): nothing is imported; N (1..${MAX_DAYS}): the chats of the last N days are imported when the number is next paired.`,
      ),
  });

  app.get(
    '/:id/history-import',
    {
      config: { access: { role: 'viewer', scope: 'read' } },
      schema: {
        summary: "A session's history import at pairing",
        tags: ['sessions'],
        params: idParams,
        response: { 200: settings, 400: errorBody, 404: errorBody },
      },
    },
    async (request) => await getHistoryImport(ctx, request, request.params.id),
  );

  app.put(
    '/:id/history-import',
    {
      config: { access: { role: 'admin', scope: 'manage' } },
      schema: {
        summary: "Replace a session's history import at pairing (none, or the last N days)",
        tags: ['sessions'],
        params: idParams,
        body: settings,
        response: { 200: settings, 400: errorBody, 404: errorBody, 422: errorBody },
      },
    },
    async (request) => await putHistoryImport(ctx, request, request.params.id, request.body),
  );
};
