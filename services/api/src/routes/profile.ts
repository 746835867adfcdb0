import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { MAIL_LOCALES } from '../mail/index.ts';
import { errorBody } from '../schemas.ts';
import { setOwnLocale } from '../services/team.ts';

/** The calling member's own settings, beside /v1/auth/me: the language of their mails. */
export const profileRoutes: FastifyPluginAsyncZod = async (app) => {
  app.patch(
    '/me',
    {
      config: { access: { role: 'viewer' } },
      schema: {
        summary: "Change the calling member's settings: the language of their mails",
        description: `A language of the mail catalogue (${MAIL_LOCALES.join(', ')}); null returns to the tenant's default.`,
        tags: ['auth'],
        body: z.strictObject({ locale: z.enum(MAIL_LOCALES).nullable() }),
        response: {
          200: z.strictObject({ locale: z.enum(MAIL_LOCALES).nullable() }),
          400: errorBody,
          401: errorBody,
          403: errorBody,
        },
      },
    },
    async (request) => {
      const { locale } = await setOwnLocale(app.sb, request, request.body.locale);
      return { locale: locale as (typeof MAIL_LOCALES)[number] | null };
    },
  );
};
