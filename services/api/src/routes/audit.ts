import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { auditEntryDto, auditEntrySchema } from '../dto.ts';
import { ApiError } from '../errors.ts';
import { errorBody, page, pageQuery, toPage } from '../schemas.ts';
import { exportAuditEntries, listAuditEntries } from '../services/audit-log.ts';

const instant = z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time' });

/** The audit log: append-only, so reads only (a page, or a range exported as JSON lines). Admins and up. */
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

  app.get(
    '/export',
    {
      config: { access: { role: 'admin', scope: 'manage' } },
      schema: {
        summary: 'Export the audit log as JSON lines, oldest first',
        description:
          'Streams every entry with `from <= at < to` (default: from the beginning, to now) as ' +
          '`application/x-ndjson`: one JSON object per line with the fields of an audit entry, ' +
          '`at` to the microsecond.',
        tags: ['audit'],
        querystring: z.strictObject({ from: instant.optional(), to: instant.optional() }),
        response: {
          200: {
            description: 'JSON lines: one audit entry per line.',
            content: { 'application/x-ndjson': { schema: z.unknown() } },
          },
          400: errorBody,
          403: errorBody,
        },
      },
    },
    async (request, reply) => {
      const from = request.query.from ? new Date(request.query.from) : new Date(0);
      const to = request.query.to ? new Date(request.query.to) : new Date();
      if (from > to) throw new ApiError('validation_failed', 'query.from must not be after query.to');
      const stream = exportAuditEntries(app.sb, request, { from, to });
      const name = `audit-log-${from.toISOString()}-${to.toISOString()}.ndjson`.replace(/:/g, '');
      return reply
        .type('application/x-ndjson')
        .header('content-disposition', `attachment; filename="${name}"`)
        .send(stream);
    },
  );
};
