import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { auditEntryDto, auditEntrySchema } from '../dto.ts';
import { errorBody, page, pageQuery, toPage } from '../schemas.ts';
import { listAuditEntries } from '../services/audit-log.ts';

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
        response: { 200: page(auditEntrySchema), 400: errorBody },
      },
    },
    async (request) =>
      toPage(
        await listAuditEntries(app.sb, request, request.query),
        request.query.limit,
        (r) => r.at,
        auditEntryDto,
      ),
  );
};
