import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { quickReplyDto, quickReplySchema, templateDto, templateSchema } from '../dto.ts';
import { errorBody, idParams, newestFirst, page, pageQuery } from '../schemas.ts';
import {
  createQuickReply,
  createTemplate,
  deleteQuickReply,
  deleteTemplate,
  getTemplate,
  listQuickReplies,
  listTemplates,
  updateQuickReply,
  updateTemplate,
} from '../services/templates.ts';

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
      return list.page(await listTemplates(ctx, request, list), templateDto);
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
    async (request, reply) =>
      reply.status(201).send(templateDto(await createTemplate(ctx, request, request.body))),
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
    async (request) => templateDto(await getTemplate(ctx, request, request.params.id)),
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
    async (request) => templateDto(await updateTemplate(ctx, request, request.params.id, request.body)),
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
      await deleteTemplate(ctx, request, request.params.id);
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
      return list.page(await listQuickReplies(ctx, request, list), quickReplyDto);
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
    async (request, reply) =>
      reply.status(201).send(quickReplyDto(await createQuickReply(ctx, request, request.body))),
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
    async (request) => quickReplyDto(await updateQuickReply(ctx, request, request.params.id, request.body)),
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
      await deleteQuickReply(ctx, request, request.params.id);
      return reply.status(204).send(null);
    },
  );
};
