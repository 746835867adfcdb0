import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { audit } from '../audit.ts';
import { newApiKey } from '../auth/tokens.ts';
import { actorOf, tenantTx } from '../context.ts';
import { notFound } from '../errors.ts';
import { SCOPES } from '../plugins/auth.ts';
import { errorBody, idParams, iso, isoOrNull, newestFirst, page, pageQuery } from '../schemas.ts';

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
      const rows = await tenantTx(ctx, request, (tx) =>
        tx.apiKey.findMany({ where: list.where, orderBy: list.orderBy, take: list.take }),
      );
      return list.page(rows, dto);
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
      const created = newApiKey(request.principal.slug);
      const actor = actorOf(request);
      const row = await tenantTx(ctx, request, async (tx) => {
        const r = await tx.apiKey.create({
          data: {
            tenantId: request.principal.tenantId,
            name: request.body.name,
            prefix: created.prefix,
            keyHash: created.hash,
            scopes: [...new Set(request.body.scopes)],
            createdById: actor.actorType === 'user' ? actor.actorId : null,
            ...(request.body.expiresAt ? { expiresAt: new Date(request.body.expiresAt) } : {}),
          },
        });
        await audit(tx, request, 'api_key.created', { type: 'api_key', id: r.id }, { scopes: r.scopes });
        return r;
      });
      return reply.status(201).send({ ...dto(row), key: created.key });
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
      await tenantTx(ctx, request, async (tx) => {
        const row = await tx.apiKey.findUnique({ where: { id: request.params.id } });
        if (!row) throw notFound('api key');
        if (!row.revokedAt)
          await tx.apiKey.update({ where: { id: row.id }, data: { revokedAt: new Date() } });
        await audit(tx, request, 'api_key.revoked', { type: 'api_key', id: row.id });
      });
      return reply.status(204).send(null);
    },
  );
};
