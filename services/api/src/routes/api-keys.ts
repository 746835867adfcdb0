import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { apiKeyDto, apiKeySchema } from '../dto.ts';
import { SCOPES } from '../plugins/auth.ts';
import { errorBody, idParams, newestFirst, page, pageQuery } from '../schemas.ts';
import { createApiKey, listApiKeys, revokeApiKey } from '../services/api-keys.ts';

/** API keys for tenants' systems: created (shown once), listed, revoked. Admins and up. */
export const apiKeyRoutes: FastifyPluginAsyncZod = async (app) => {
  const ctx = app.sb;
  const access = { role: 'admin', scope: 'manage' } as const;
  app.get(
    '/',
    {
      config: { access },
      schema: {
        summary: 'List API keys',
        tags: ['api-keys'],
        querystring: pageQuery,
        response: { 200: page(apiKeySchema), 400: errorBody },
      },
    },
    async (request) => {
      const list = newestFirst(request.query, 'createdAt');
      return list.page(await listApiKeys(ctx, request, list), apiKeyDto);
    },
  );
  app.post(
    '/',
    {
      // Members only: a key belongs to the member who made it and dies with their membership, so
      // an API key cannot mint keys that outlive it.
      config: { access: { role: 'admin' } },
      schema: {
        summary: 'Create an API key; the key is in this response only',
        tags: ['api-keys'],
        body: z.strictObject({
          name: z.string().trim().min(1).max(100),
          scopes: z.array(z.enum(SCOPES)).min(1).max(3),
          expiresAt: z.iso.datetime().optional(),
        }),
        response: {
          201: apiKeySchema.extend({
            key: z.string().describe('`<prefix>.<secret>`; shown once, stored only as a hash.'),
          }),
          400: errorBody,
        },
      },
    },
    async (request, reply) => {
      const { row, key } = await createApiKey(ctx, request, request.body);
      return reply.status(201).send({ ...apiKeyDto(row), key });
    },
  );
  app.delete(
    '/:id',
    {
      config: { access },
      schema: {
        summary: 'Revoke an API key',
        tags: ['api-keys'],
        params: idParams,
        response: { 204: z.null(), 404: errorBody },
      },
    },
    async (request, reply) => {
      await revokeApiKey(ctx, request, request.params.id);
      return reply.status(204).send(null);
    },
  );
};
