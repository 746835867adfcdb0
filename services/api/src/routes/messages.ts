import { createHash } from 'node:crypto';
import type { Message, Prisma } from '@switchboard/db';
import {
  type OutboundJob,
  outboundJobOptions,
  outboundJobSchema,
  QUEUE_NAMES,
  queuePrefix,
  tenantKeyPrefix,
} from '@switchboard/messaging';
import { Queue } from 'bullmq';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { tenantTx } from '../context.ts';
import { ApiError, notFound } from '../errors.ts';
import { errorBody, idParams, iso, isoOrNull } from '../schemas.ts';

const message = z.strictObject({
  id: z.uuid(),
  conversationId: z.uuid(),
  sessionId: z.uuid(),
  direction: z.enum(['inbound', 'outbound']),
  status: z.enum(['queued', 'sent', 'delivered', 'read', 'failed']),
  failureReason: z.string().nullable(),
  type: z.string(),
  body: z.string().nullable(),
  replyToMessageId: z.uuid().nullable(),
  sentAt: isoOrNull,
  deliveredAt: isoOrNull,
  readAt: isoOrNull,
  createdAt: z.iso.datetime(),
});
type MessageDto = z.infer<typeof message>;

function dto(m: Message): MessageDto {
  return {
    id: m.id,
    conversationId: m.conversationId,
    sessionId: m.sessionId,
    direction: m.direction,
    status: m.status,
    failureReason: m.failureReason,
    type: m.type,
    body: m.body,
    replyToMessageId: m.replyToMessageId,
    sentAt: iso(m.sentAt),
    deliveredAt: iso(m.deliveredAt),
    readAt: iso(m.readAt),
    createdAt: m.createdAt.toISOString(),
  };
}

/** How long an Idempotency-Key is remembered (Stripe's convention: a day). */
const IDEMPOTENCY_TTL_MS = 24 * 3_600_000;

/**
 * Sending: `POST /v1/messages` stores the message (`queued`) and enqueues the outbound job the
 * worker holding the session consumes (packages/messaging contracts: jobId = outboundJobId, so a
 * re-enqueue adds nothing). An Idempotency-Key makes the request safe to retry: the same key and
 * body return the first response; the same key with another body is refused.
 */
export const messageRoutes: FastifyPluginAsyncZod = async (app) => {
  const ctx = app.sb;
  const queues = new Map<string, Queue>();
  function queueFor(slug: string, sessionId: string): Queue {
    const key = `${slug}/${sessionId}`;
    let queue = queues.get(key);
    if (!queue) {
      queue = new Queue(QUEUE_NAMES.outbound(sessionId), {
        connection: ctx.redis,
        prefix: queuePrefix(tenantKeyPrefix(slug)),
      });
      queues.set(key, queue);
    }
    return queue;
  }
  app.addHook('onClose', async () => {
    await Promise.all([...queues.values()].map((q) => q.close()));
  });

  app.post(
    '/',
    {
      config: { access: { role: 'agent', scope: 'send' } },
      schema: {
        summary: 'Send a text message in a conversation (idempotent with Idempotency-Key)',
        tags: ['messages'],
        headers: z.object({
          'idempotency-key': z
            .string({ error: 'the Idempotency-Key header is required' })
            .min(1)
            .max(200)
            .describe('Any unique string per intended message; retries reuse it.'),
        }),
        body: z.strictObject({
          conversationId: z.uuid(),
          text: z.string().min(1).max(4096),
          replyToMessageId: z.uuid().optional(),
        }),
        response: { 201: message, 200: message, 400: errorBody, 404: errorBody, 422: errorBody },
      },
    },
    async (request, reply) => {
      const p = request.principal;
      const key = request.headers['idempotency-key'];
      const requestHash = createHash('sha256').update(JSON.stringify(request.body)).digest('hex');
      const result = await tenantTx(ctx, request, async (tx) => {
        const seen = await tx.idempotencyKey.findUnique({
          where: { tenantId_key: { tenantId: p.tenantId, key } },
        });
        if (seen && seen.expiresAt > new Date()) {
          if (seen.requestHash !== requestHash) {
            throw new ApiError(
              'idempotency_key_mismatch',
              'this Idempotency-Key was used with a different body',
            );
          }
          const existing = await tx.message.findFirst({ where: { idempotencyKey: key } });
          if (existing) return { replay: true, row: existing };
        }
        if (seen) await tx.idempotencyKey.delete({ where: { id: seen.id } });
        const conversation = await tx.conversation.findUnique({ where: { id: request.body.conversationId } });
        if (!conversation) throw notFound('conversation');
        if (request.body.replyToMessageId) {
          const quoted = await tx.message.findFirst({
            where: { id: request.body.replyToMessageId, conversationId: conversation.id },
          });
          if (!quoted) {
            throw new ApiError(
              'validation_failed',
              'body.replyToMessageId is not a message of this conversation',
              {
                issues: [{ path: 'body.replyToMessageId', message: 'not a message of this conversation' }],
              },
            );
          }
        }
        await tx.idempotencyKey.create({
          data: {
            tenantId: p.tenantId,
            key,
            requestHash,
            expiresAt: new Date(Date.now() + IDEMPOTENCY_TTL_MS),
          },
        });
        const data: Prisma.MessageUncheckedCreateInput = {
          tenantId: p.tenantId,
          sessionId: conversation.sessionId,
          conversationId: conversation.id,
          direction: 'outbound',
          status: 'queued',
          type: 'text',
          body: request.body.text,
          idempotencyKey: key,
          replyToMessageId: request.body.replyToMessageId ?? null,
          sentById: p.kind === 'user' ? p.userId : null,
        };
        const row = await tx.message.create({ data });
        await tx.conversation.update({
          where: { id: conversation.id },
          data: { lastMessageAt: row.createdAt },
        });
        await tx.idempotencyKey.update({
          where: { tenantId_key: { tenantId: p.tenantId, key } },
          data: { responseStatus: 201, responseBody: { messageId: row.id }, completedAt: new Date() },
        });
        return { replay: false, row };
      });
      // Enqueued after the commit (the worker must find the row) and on every replay too: if the
      // process died between the two, the retry enqueues it; the jobId makes the second add a no-op.
      const job: OutboundJob = outboundJobSchema.parse({
        kind: 'send',
        tenantId: p.tenantId,
        messageId: result.row.id,
      });
      // The contract's jobId, the consumer's retries and backoff, failed jobs kept as dead letters.
      await queueFor(p.slug, result.row.sessionId).add('send', job, outboundJobOptions(job));
      return reply.status(result.replay ? 200 : 201).send(dto(result.row));
    },
  );

  app.get(
    '/:id',
    {
      config: { access: { role: 'viewer', scope: 'read' } },
      schema: {
        summary: 'Get a message and its delivery status',
        tags: ['messages'],
        params: idParams,
        response: { 200: message, 404: errorBody },
      },
    },
    async (request) => {
      const row = await tenantTx(ctx, request, (tx) =>
        tx.message.findUnique({ where: { id: request.params.id } }),
      );
      if (!row) throw notFound('message');
      return dto(row);
    },
  );
};
