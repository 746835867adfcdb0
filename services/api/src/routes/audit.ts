import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorBody, page, pageQuery, toPage } from '../schemas.ts';
import { listAuditEntries } from '../services/audit-log.ts';

const entry = z.strictObject({
  id: z.uuid(),
  actorType: z.enum(['user', 'api_key', 'system']),
  actorId: z.uuid().nullable(),
  action: z.string(),
  targetType: z.string().nullable(),
  targetId: z.string().nullable(),
  metadata: z.unknown(),
  at: z.iso.datetime(),
});

/** The audit log: append-only, so reads only. Admins and up. */
export const auditRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/',
    {
      config: { access: { role: 'admin', scope: 'manage' } },
      schema: {
        summary: 'Read the audit log, newest first',
        tags: ['audit'],
        querystring: pageQuery.extend({ action: z.string().max(100).optional() }),
        response: { 200: page(entry), 400: errorBody },
      },
    },
    async (request) =>
      toPage(
        await listAuditEntries(app.sb, request, request.query),
        request.query.limit,
        (r) => r.at,
        (r) => ({
          id: r.id,
          actorType: r.actorType,
          actorId: r.actorId,
          action: r.action,
          targetType: r.targetType,
          targetId: r.targetId,
          metadata: r.metadata,
          at: r.at.toISOString(),
        }),
      ),
  );
};
