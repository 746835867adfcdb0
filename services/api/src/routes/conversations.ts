import type { Conversation, Prisma } from '@switchboard/db';
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  conversationDto,
  conversationMessageDto,
  conversationMessageSchema,
  conversationSchema,
} from '../dto.ts';
import { errorBody, idParams, page, pageQuery, toPage } from '../schemas.ts';
import {
  assignConversation,
  conversationCursor,
  getConversation,
  listConversationMessages,
  listConversations,
  updateConversation,
} from '../services/conversations.ts';
import { requestChannelRead } from '../services/read-receipts.ts';

/** The inbox: conversations with filters, assignment, resolve/reopen, mark read, message history. */
export const conversationRoutes: FastifyPluginAsyncZod = async (app) => {
  const ctx = app.sb;
  const read = { role: 'viewer', scope: 'read' } as const;
  const work = { role: 'agent', scope: 'send' } as const;

  app.get(
    '/',
    {
      config: { access: read },
      schema: {
        summary: 'List conversations, most recent first',
        tags: ['conversations'],
        querystring: pageQuery.extend({
          status: z.enum(['open', 'resolved']).optional(),
          assignee: z.enum(['mine', 'unassigned']).optional(),
          sessionId: z.uuid().optional(),
          label: z.uuid().optional().describe('Only conversations with this label (its id).'),
          search: z
            .string()
            .trim()
            .min(1)
            .max(100)
            .optional()
            .describe(
              "Matches the contact's name, phone number or LID, or a message's text (a substring, case-insensitive for text and names). From 3 characters on it is looked up in an index; a shorter one that cannot finish within the statement timeout answers 422 search_too_broad.",
            ),
        }),
        response: { 200: page(conversationSchema), 400: errorBody, 422: errorBody },
      },
    },
    async (request) => {
      const rows = await listConversations(ctx, request, request.query);
      const more = rows.length > request.query.limit;
      const kept = more ? rows.slice(0, request.query.limit) : rows;
      const last = kept.at(-1);
      return {
        items: kept.map(conversationDto),
        nextCursor: more && last ? conversationCursor(last) : null,
      };
    },
  );

  app.get(
    '/:id',
    {
      config: { access: read },
      schema: {
        summary: 'Get a conversation',
        tags: ['conversations'],
        params: idParams,
        response: { 200: conversationSchema, 404: errorBody },
      },
    },
    async (request) => conversationDto(await getConversation(ctx, request, request.params.id)),
  );

  /** Resolve, reopen and read: the same change of one conversation with other data. */
  const update = async (
    request: FastifyRequest & { params: { id: string } },
    data: (c: Conversation) => Prisma.ConversationUpdateInput,
  ) => conversationDto(await updateConversation(ctx, request, request.params.id, data));

  app.post(
    '/:id/assign',
    {
      config: { access: work },
      schema: {
        summary: 'Assign the conversation to a member (null unassigns)',
        tags: ['conversations'],
        params: idParams,
        body: z.strictObject({ assigneeId: z.uuid().nullable() }),
        response: { 200: conversationSchema, 400: errorBody, 404: errorBody },
      },
    },
    async (request) =>
      conversationDto(await assignConversation(ctx, request, request.params.id, request.body.assigneeId)),
  );
  app.post(
    '/:id/resolve',
    {
      config: { access: work },
      schema: {
        summary: 'Resolve the conversation',
        tags: ['conversations'],
        params: idParams,
        response: { 200: conversationSchema, 404: errorBody },
      },
    },
    (request) => update(request, () => ({ status: 'resolved', resolvedAt: new Date() })),
  );
  app.post(
    '/:id/reopen',
    {
      config: { access: work },
      schema: {
        summary: 'Reopen the conversation',
        tags: ['conversations'],
        params: idParams,
        response: { 200: conversationSchema, 404: errorBody },
      },
    },
    (request) => update(request, () => ({ status: 'open', resolvedAt: null })),
  );
  app.post(
    '/:id/read',
    {
      config: { access: work },
      schema: {
        summary:
          "Mark the conversation read (and, when the tenant's read receipts are on, the customer's messages read on WhatsApp)",
        tags: ['conversations'],
        params: idParams,
        response: { 200: conversationSchema, 404: errorBody },
      },
    },
    async (request) => {
      const row = await update(request, () => ({ unreadCount: 0 }));
      // Blue ticks on WhatsApp and the typing subscription (services/read-receipts.ts); a
      // failure leaves the messages for the next opening and never fails the inbox's read.
      await requestChannelRead(ctx, request, request.params.id).catch((error: unknown) =>
        request.log.warn({ err: error, conversationId: request.params.id }, 'read receipts not queued'),
      );
      return row;
    },
  );

  app.get(
    '/:id/messages',
    {
      config: { access: read },
      schema: {
        summary: "The conversation's messages, newest first",
        tags: ['conversations'],
        params: idParams,
        querystring: pageQuery,
        response: { 200: page(conversationMessageSchema), 400: errorBody, 404: errorBody },
      },
    },
    async (request) =>
      toPage(
        await listConversationMessages(ctx, request, request.params.id, request.query),
        request.query.limit,
        (r) => r.createdAt,
        conversationMessageDto,
      ),
  );
};
