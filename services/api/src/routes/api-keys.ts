import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { SCOPES } from '../plugins/auth.ts';
import { errorBody, idParams, iso, isoOrNull, newestFirst, page, pageQuery } from '../schemas.ts';
import { createApiKey, listApiKeys, revokeApiKey } from '../services/api-keys.ts';

const apiKey = z.strictObject({
  id: z.uuid(),
  name: z.string(),
  prefix: z.string(),
  scopes: z.array(z.string()),
  lastUsedAt: isoOrNull,
  expiresAt: isoOrNull,
  revokedAt: isoOrNull,
  createdAt: z.iso.datetime(),
});

function dto(row: {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  lastUsedAt: Date | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
  createdAt: Date;
}) {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    scopes: row.scopes,
    lastUsedAt: iso(row.lastUsedAt),
    expiresAt: iso(row.expiresAt),
    revokedAt: iso(row.revokedAt),
    createdAt: row.createdAt.toISOString(),
  };
}

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
        response: { 200: page(apiKey), 400: errorBody },
      },
    },
    async (request) => {
      const list = newestFirst(request.query, 'createdAt');
      return list.page(await listApiKeys(ctx, request, list), dto);
    },
  );
  app.post(
    '/',
    {
      config: { access },
      schema: {
        summary: 'Create an API key; the key is in this response only',
        tags: ['api-keys'],
        body: z.strictObject({
          name: z.string().trim().min(1).max(100),
          scopes: z.array(z.enum(SCOPES)).min(1).max(3),
          expiresAt: z.iso.datetime().optional(),
        }),
        response: {
          201: apiKey.extend({
            key: z.string().describe('`<prefix>.<secret>`; shown once, stored only as a hash.'),
          }),
          400: errorBody,
        },
      },
    },
    async (request, reply) => {
      const { row, key } = await createApiKey(ctx, request, request.body);
      return reply.status(201).send({ ...dto(row), key });
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
