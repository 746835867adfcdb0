import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorBody } from '../schemas.ts';
import { getReadReceiptSettings, putReadReceiptSettings } from '../services/read-receipts.ts';

const settingsSchema = z.strictObject({
  enabled: z
    .boolean()
    .describe(
      "Whether opening a conversation in the inbox (POST /v1/conversations/:id/read) marks the customer's messages read on WhatsApp (blue ticks). Default on.",
    ),
});

/**
 * Read receipts to WhatsApp (`/v1/settings/read-receipts`): one switch per tenant. Read by every
 * member (API keys: `read`), changed by admins and up (`manage`), audited.
 */
export const readReceiptRoutes: FastifyPluginAsyncZod = async (app) => {
  const ctx = app.sb;

  app.get(
    '/',
    {
      config: { access: { role: 'viewer', scope: 'read' } },
      schema: {
        summary: 'Whether read receipts are sent to WhatsApp',
        tags: ['settings'],
        response: { 200: settingsSchema },
      },
    },
    async (request) => await getReadReceiptSettings(ctx, request),
  );

  app.put(
    '/',
    {
      config: { access: { role: 'admin', scope: 'manage' } },
      schema: {
        summary: 'Turn read receipts to WhatsApp on or off',
        tags: ['settings'],
        body: settingsSchema,
        response: { 200: settingsSchema, 400: errorBody },
      },
    },
    async (request) => await putReadReceiptSettings(ctx, request, request.body),
  );
};
