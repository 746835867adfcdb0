import type { MessageTemplate, Prisma, QuickReply } from '@switchboard/db';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { tenantTx } from '../context.ts';
import { quickReplyDto, quickReplySchema, templateDto, templateSchema } from '../dto.ts';
import { ApiError, notFound } from '../errors.ts';
import { errorBody, idParams, newestFirst, page, pageQuery } from '../schemas.ts';

const read = { role: 'viewer', scope: 'read' } as const;
const manage = { role: 'admin', scope: 'manage' } as const;

const templateInput = z.strictObject({
  name: z.string().regex(/^[a-z0-9_]{1,512}$/, 'must be lower-case letters, digits and _ (as Meta requires)'),
  language: z.string().regex(/^[a-z]{2,3}(_[A-Z]{2})?$/, 'must be a language tag such as en or en_US'),
  category: z.enum(['MARKETING', 'UTILITY', 'AUTHENTICATION']).nullable().optional(),
  body: z.string().min(1).max(1024),
  components: z.array(z.record(z.string(), z.unknown())).max(10).nullable().optional(),
});
const replyInput = z.strictObject({
  shortcut: z.string().regex(/^[a-z0-9][-a-z0-9_]{0,31}$/, 'must be 1-32 lower-case letters, digits, - or _'),
  title: z.string().trim().min(1).max(100),
  body: z.string().min(1).max(4096),
});
function uniqueViolation(error: unknown, what: string): never {
  if ((error as { code?: string }).code === 'P2002') throw new ApiError('conflict', `${what} already exists`);
  throw error;
}

/** Message templates: list, create, get, update, delete. */
export const templateRoutes: FastifyPluginAsyncZod = async (app) => {
  const ctx = app.sb;
  app.get(
    '/',
    {
      config: { access: read },
      schema: {
        summary: 'List templates',
        tags: ['templates'],
        querystring: pageQuery,
        response: { 200: page(templateSchema), 400: errorBody },
      },
    },
    async (request) => {
      const list = newestFirst(request.query, 'createdAt');
      const rows = await tenantTx(ctx, request, (tx) =>
        tx.messageTemplate.findMany({ where: list.where, orderBy: list.orderBy, take: list.take }),
      );
      return list.page(rows, templateDto);
    },
  );
  app.post(
    '/',
    {
      config: { access: manage },
      schema: {
        summary: 'Create a template',
        tags: ['templates'],
        body: templateInput,
        response: { 201: templateSchema, 400: errorBody, 409: errorBody },
      },
    },
    async (request, reply) => {
      const { components, category, ...rest } = request.body;
      const row = await tenantTx(ctx, request, (tx) =>
        tx.messageTemplate.create({
          data: {
            tenantId: request.principal.tenantId,
            ...rest,
            category: category ?? null,
            ...(components ? { components: components as Prisma.InputJsonArray } : {}),
          },
        }),
      ).catch((error) =>
        uniqueViolation(error, `a template ${request.body.name} (${request.body.language})`),
      );
      return reply.status(201).send(templateDto(row));
    },
  );
  app.get(
    '/:id',
    {
      config: { access: read },
      schema: {
        summary: 'Get a template',
        tags: ['templates'],
        params: idParams,
        response: { 200: templateSchema, 404: errorBody },
      },
    },
    async (request) => {
      const row = await tenantTx(ctx, request, (tx) =>
        tx.messageTemplate.findUnique({ where: { id: request.params.id } }),
      );
      if (!row) throw notFound('template');
      return templateDto(row);
    },
  );
  app.patch(
    '/:id',
    {
      config: { access: manage },
      schema: {
        summary: 'Update a template',
        tags: ['templates'],
        params: idParams,
        body: templateInput.partial(),
        response: { 200: templateSchema, 400: errorBody, 404: errorBody, 409: errorBody },
      },
    },
    async (request) => {
      const { components, ...rest } = request.body;
      return tenantTx(ctx, request, async (tx) => {
        const row = await tx.messageTemplate.findUnique({ where: { id: request.params.id } });
        if (!row) throw notFound('template');
        const updated = await tx.messageTemplate.update({
          where: { id: row.id },
          data: {
            ...rest,
            ...(components === undefined
              ? {}
              : { components: (components ?? undefined) as Prisma.InputJsonArray }),
          },
        });
        return templateDto(updated);
      }).catch((error) => uniqueViolation(error, 'a template with that name and language'));
    },
  );
  app.delete(
    '/:id',
    {
      config: { access: manage },
      schema: {
        summary: 'Delete a template',
        tags: ['templates'],
        params: idParams,
        response: { 204: z.null(), 404: errorBody },
      },
    },
    async (request, reply) => {
      const deleted = await tenantTx(ctx, request, (tx) =>
        tx.messageTemplate.deleteMany({ where: { id: request.params.id } }),
      );
      if (deleted.count === 0) throw notFound('template');
      return reply.status(204).send(null);
    },
  );
};

/** Quick replies: list, create, update, delete. */
export const quickReplyRoutes: FastifyPluginAsyncZod = async (app) => {
  const ctx = app.sb;
  app.get(
    '/',
    {
      config: { access: read },
      schema: {
        summary: 'List quick replies',
        tags: ['quick-replies'],
        querystring: pageQuery,
        response: { 200: page(quickReplySchema), 400: errorBody },
      },
    },
    async (request) => {
      const list = newestFirst(request.query, 'createdAt');
      const rows = await tenantTx(ctx, request, (tx) =>
        tx.quickReply.findMany({ where: list.where, orderBy: list.orderBy, take: list.take }),
      );
      return list.page(rows, quickReplyDto);
    },
  );
  app.post(
    '/',
    {
      config: { access: manage },
      schema: {
        summary: 'Create a quick reply',
        tags: ['quick-replies'],
        body: replyInput,
        response: { 201: quickReplySchema, 400: errorBody, 409: errorBody },
      },
    },
    async (request, reply) => {
      const p = request.principal;
      const row = await tenantTx(ctx, request, (tx) =>
        tx.quickReply.create({
          data: { tenantId: p.tenantId, ...request.body, createdById: p.kind === 'user' ? p.userId : null },
        }),
      ).catch((error) => uniqueViolation(error, `a quick reply /${request.body.shortcut}`));
      return reply.status(201).send(quickReplyDto(row));
    },
  );
  app.patch(
    '/:id',
    {
      config: { access: manage },
      schema: {
        summary: 'Update a quick reply',
        tags: ['quick-replies'],
        params: idParams,
        body: replyInput.partial(),
        response: { 200: quickReplySchema, 400: errorBody, 404: errorBody, 409: errorBody },
      },
    },
    async (request) =>
      tenantTx(ctx, request, async (tx) => {
        const row = await tx.quickReply.findUnique({ where: { id: request.params.id } });
        if (!row) throw notFound('quick reply');
        return quickReplyDto(await tx.quickReply.update({ where: { id: row.id }, data: request.body }));
      }).catch((error) => uniqueViolation(error, 'a quick reply with that shortcut')),
  );
  app.delete(
    '/:id',
    {
      config: { access: manage },
      schema: {
        summary: 'Delete a quick reply',
        tags: ['quick-replies'],
        params: idParams,
        response: { 204: z.null(), 404: errorBody },
      },
    },
    async (request, reply) => {
      const deleted = await tenantTx(ctx, request, (tx) =>
        tx.quickReply.deleteMany({ where: { id: request.params.id } }),
      );
      if (deleted.count === 0) throw notFound('quick reply');
      return reply.status(204).send(null);
    },
  );
};
