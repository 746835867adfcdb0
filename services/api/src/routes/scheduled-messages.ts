import { outboundContentSchema } from '@switchboard/messaging/producer';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { SCHEDULED_STATUSES, scheduledMessageDto, scheduledMessageSchema } from '../dto.ts';
import { errorBody, idParams, page, pageQuery, toPage } from '../schemas.ts';
import {
  cancelScheduledMessage,
  getScheduledMessage,
  listScheduledMessages,
  scheduleMessage,
} from '../services/scheduled-messages.ts';

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
        response: { 201: scheduledMessageSchema, 400: errorBody, 404: errorBody },
      },
    },
    async (request, reply) =>
      reply.status(201).send(scheduledMessageDto(await scheduleMessage(ctx, request, request.body))),
  );

  app.get(
    '/',
    {
      config: { access: { role: 'viewer', scope: 'read' } },
      schema: {
        summary: 'List scheduled messages, newest first',
        tags: ['scheduled messages'],
        querystring: pageQuery.extend({
          status: z.enum(SCHEDULED_STATUSES).optional(),
          conversationId: z.uuid().optional(),
        }),
        response: { 200: page(scheduledMessageSchema), 400: errorBody },
      },
    },
    async (request) =>
      toPage(
        await listScheduledMessages(ctx, request, request.query),
        request.query.limit,
        (r) => r.createdAt,
        scheduledMessageDto,
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
        response: { 200: scheduledMessageSchema, 404: errorBody },
      },
    },
    async (request) => scheduledMessageDto(await getScheduledMessage(ctx, request, request.params.id)),
  );

  app.post(
    '/:id/cancel',
    {
      config: { access: { role: 'agent', scope: 'send' } },
      schema: {
        summary: 'Cancel a scheduled message that has not been sent',
        tags: ['scheduled messages'],
        params: idParams,
        response: { 200: scheduledMessageSchema, 404: errorBody, 409: errorBody },
      },
    },
    async (request) => scheduledMessageDto(await cancelScheduledMessage(ctx, request, request.params.id)),
  );
};
