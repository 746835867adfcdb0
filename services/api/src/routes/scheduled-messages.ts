import type { ScheduledMessage } from '@switchboard/db';
import {
  type OutboundJob,
  outboundContentSchema,
  outboundJobId,
  outboundJobOptions,
  outboundJobSchema,
  QUEUE_NAMES,
} from '@switchboard/messaging/producer';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { audit } from '../audit.ts';
import { tenantTx } from '../context.ts';
import { ApiError, notFound } from '../errors.ts';
import { afterCursor, decodeCursor, errorBody, idParams, page, pageQuery, toPage } from '../schemas.ts';

/** The furthest ahead a message may be scheduled: beyond a year it is a reminder system, not a send. */
const MAX_AHEAD_MS = 366 * 86_400_000;

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

/**
 * Scheduled messages: a row (the content in outboundContentSchema's shape, which the worker
 * validates again when it is due) plus a delayed job on the session's outbound queue. When the job
 * fires the worker re-reads the row under a lock and sends only if it is still `scheduled`, so a
 * cancel that races the job is safe even when removing the job fails (it was already running).
 */
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
    async (request, reply) => {
      const p = request.principal;
      const sendAt = new Date(request.body.sendAt);
      const ahead = sendAt.getTime() - Date.now();
      if (ahead <= 0 || ahead > MAX_AHEAD_MS) {
        throw new ApiError(
          'validation_failed',
          'body.sendAt must be in the future and at most a year ahead',
          {
            issues: [{ path: 'body.sendAt', message: 'must be in the future and at most a year ahead' }],
          },
        );
      }
      const row = await tenantTx(ctx, request, async (tx) => {
        const conversation = await tx.conversation.findUnique({ where: { id: request.body.conversationId } });
        if (!conversation) throw notFound('conversation');
        const s = await tx.scheduledMessage.create({
          data: {
            tenantId: p.tenantId,
            sessionId: conversation.sessionId,
            conversationId: conversation.id,
            content: request.body.content,
            sendAt,
            createdById: p.kind === 'user' ? p.userId : null,
          },
        });
        // The content stays out of the audit log (message bodies are not audit data).
        await audit(
          tx,
          request,
          'scheduled_message.created',
          { type: 'scheduled_message', id: s.id },
          {
            sendAt: sendAt.toISOString(),
          },
        );
        return s;
      });
      const job: OutboundJob = outboundJobSchema.parse({
        kind: 'scheduled',
        tenantId: p.tenantId,
        scheduledMessageId: row.id,
      });
      await ctx.queues.get(p.slug, QUEUE_NAMES.outbound(row.sessionId)).add('scheduled', job, {
        ...outboundJobOptions(job),
        delay: Math.max(0, sendAt.getTime() - Date.now()),
      });
      return reply.status(201).send(dto(row));
    },
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
    async (request) => {
      const { status, conversationId, limit } = request.query;
      const cursor = decodeCursor(request.query.cursor);
      const rows = await tenantTx(ctx, request, (tx) =>
        tx.scheduledMessage.findMany({
          where: {
            ...(status ? { status } : {}),
            ...(conversationId ? { conversationId } : {}),
            ...afterCursor(cursor, 'createdAt'),
          },
          orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
          take: limit + 1,
        }),
      );
      return toPage(rows, limit, (r) => r.createdAt, dto);
    },
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
    async (request) => {
      const row = await tenantTx(ctx, request, (tx) =>
        tx.scheduledMessage.findUnique({ where: { id: request.params.id } }),
      );
      if (!row) throw notFound('scheduled message');
      return dto(row);
    },
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
    async (request) => {
      const row = await tenantTx(ctx, request, async (tx) => {
        // The row lock the worker also takes before it sends: one of the two wins, never both.
        await tx.$queryRaw`SELECT id FROM scheduled_messages WHERE id = ${request.params.id}::uuid FOR UPDATE`;
        const s = await tx.scheduledMessage.findUnique({ where: { id: request.params.id } });
        if (!s) throw notFound('scheduled message');
        if (s.status !== 'scheduled' || s.messageId) {
          throw new ApiError(
            'conflict',
            `the scheduled message is ${s.messageId ? 'being sent' : s.status}; only a scheduled one can be cancelled`,
          );
        }
        const updated = await tx.scheduledMessage.update({
          where: { id: s.id },
          data: { status: 'cancelled' },
        });
        await audit(tx, request, 'scheduled_message.cancelled', { type: 'scheduled_message', id: s.id });
        return updated;
      });
      const job: OutboundJob = { kind: 'scheduled', tenantId: row.tenantId, scheduledMessageId: row.id };
      // Best effort: a job already running is locked and stays; the worker then finds it cancelled.
      await ctx.queues
        .get(request.principal.slug, QUEUE_NAMES.outbound(row.sessionId))
        .remove(outboundJobId(job));
      return dto(row);
    },
  );
};
