import type { ScheduledMessage } from '@switchboard/db';
import { outboundContentSchema } from '@switchboard/messaging/producer';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorBody, idParams, page, pageQuery, toPage } from '../schemas.ts';
import {
  cancelScheduledMessage,
  getScheduledMessage,
  listScheduledMessages,
  scheduleMessage,
} from '../services/scheduled-messages.ts';

const STATUSES = ['scheduled', 'sent', 'failed', 'cancelled'] as const;

const scheduled = z.strictObject({
  id: z.uuid(),
  conversationId: z.uuid(),
  sessionId: z.uuid(),
  content: z.unknown().describe('What will be sent: the content as created.'),
  sendAt: z.iso.datetime(),
  status: z.enum(STATUSES),
  /** The message created when it was sent (GET /v1/messages/:id). */
  messageId: z.uuid().nullable(),
  failureReason: z.string().nullable(),
  createdAt: z.iso.datetime(),
});

function dto(s: ScheduledMessage): z.infer<typeof scheduled> {
  return {
    id: s.id,
    conversationId: s.conversationId,
    sessionId: s.sessionId,
    content: s.content,
    sendAt: s.sendAt.toISOString(),
    status: s.status,
    messageId: s.messageId,
    failureReason: s.failureReason,
    createdAt: s.createdAt.toISOString(),
  };
}

/** Scheduled messages: schedule, list, get, cancel (services/scheduled-messages.ts says how they run). */
export const scheduledMessageRoutes: FastifyPluginAsyncZod = async (app) => {
  const ctx = app.sb;

  app.post(
    '/',
    {
      config: { access: { role: 'agent', scope: 'send' } },
      schema: {
        summary: 'Schedule a message in a conversation',
        tags: ['scheduled messages'],
        body: z.strictObject({
          conversationId: z.uuid(),
          content: outboundContentSchema,
          sendAt: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time' }),
        }),
        response: { 201: scheduled, 400: errorBody, 404: errorBody },
      },
    },
    async (request, reply) => reply.status(201).send(dto(await scheduleMessage(ctx, request, request.body))),
  );

  app.get(
    '/',
    {
      config: { access: { role: 'viewer', scope: 'read' } },
      schema: {
        summary: 'List scheduled messages, newest first',
        tags: ['scheduled messages'],
        querystring: pageQuery.extend({
          status: z.enum(STATUSES).optional(),
          conversationId: z.uuid().optional(),
        }),
        response: { 200: page(scheduled), 400: errorBody },
      },
    },
    async (request) =>
      toPage(
        await listScheduledMessages(ctx, request, request.query),
        request.query.limit,
        (r) => r.createdAt,
        dto,
      ),
  );

  app.get(
    '/:id',
    {
      config: { access: { role: 'viewer', scope: 'read' } },
      schema: {
        summary: 'Get a scheduled message',
        tags: ['scheduled messages'],
        params: idParams,
        response: { 200: scheduled, 404: errorBody },
      },
    },
    async (request) => dto(await getScheduledMessage(ctx, request, request.params.id)),
  );

  app.post(
    '/:id/cancel',
    {
      config: { access: { role: 'agent', scope: 'send' } },
      schema: {
        summary: 'Cancel a scheduled message that has not been sent',
        tags: ['scheduled messages'],
        params: idParams,
        response: { 200: scheduled, 404: errorBody, 409: errorBody },
      },
    },
    async (request) => dto(await cancelScheduledMessage(ctx, request, request.params.id)),
  );
};
