// Scheduled messages: a row (the content in outboundContentSchema's shape, which the worker
// validates again when it is due) plus a delayed job on the session's outbound queue. When the job
// fires the worker re-reads the row under a lock and sends only if it is still `scheduled`, so a
// cancel that races the job is safe even when removing the job fails (it was already running).
import type { Prisma, ScheduledMessage } from '@switchboard/db';
import {
  type OutboundJob,
  outboundJobId,
  outboundJobOptions,
  outboundJobSchema,
  QUEUE_NAMES,
} from '@switchboard/messaging/producer';
import type { FastifyRequest } from 'fastify';
import { audit } from '../audit.ts';
import { type ApiContext, tenantTx } from '../context.ts';
import { ApiError, notFound } from '../errors.ts';
import { decodeCursor, rowsAfter } from '../schemas.ts';

/** The furthest ahead a message may be scheduled: beyond a year it is a reminder system, not a send. */
const MAX_AHEAD_MS = 366 * 86_400_000;

/** Stores the scheduled message in its conversation and adds its delayed job (after the commit). */
export async function scheduleMessage(
  ctx: ApiContext,
  request: FastifyRequest,
  input: { conversationId: string; content: Prisma.InputJsonValue; sendAt: string },
): Promise<ScheduledMessage> {
  const p = request.principal;
  const sendAt = new Date(input.sendAt);
  const ahead = sendAt.getTime() - Date.now();
  if (ahead <= 0 || ahead > MAX_AHEAD_MS) {
    throw new ApiError('validation_failed', 'body.sendAt must be in the future and at most a year ahead', {
      issues: [{ path: 'body.sendAt', message: 'must be in the future and at most a year ahead' }],
    });
  }
  const row = await tenantTx(ctx, request, async (tx) => {
    const conversation = await tx.conversation.findUnique({ where: { id: input.conversationId } });
    if (!conversation) throw notFound('conversation');
    const s = await tx.scheduledMessage.create({
      data: {
        tenantId: p.tenantId,
        sessionId: conversation.sessionId,
        conversationId: conversation.id,
        content: input.content,
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
      { sendAt: sendAt.toISOString() },
    );
    return s;
  });
  const job: OutboundJob = outboundJobSchema.parse({
    kind: 'scheduled',
    tenantId: p.tenantId,
    scheduledMessageId: row.id,
    // The worker's log lines for the send, when it is due, carry the id of this request.
    requestId: request.id,
  });
  await ctx.queues.get(p.slug, QUEUE_NAMES.outbound(row.sessionId)).add('scheduled', job, {
    ...outboundJobOptions(job),
    delay: Math.max(0, sendAt.getTime() - Date.now()),
  });
  return row;
}

/** Scheduled messages newest first after `cursor`, `limit + 1` of them, by status and conversation. */
export async function listScheduledMessages(
  ctx: ApiContext,
  request: FastifyRequest,
  query: {
    cursor?: string | undefined;
    limit: number;
    status?: ScheduledMessage['status'] | undefined;
    conversationId?: string | undefined;
  },
): Promise<ScheduledMessage[]> {
  const { status, conversationId, limit } = query;
  const cursor = decodeCursor(query.cursor);
  return await tenantTx(ctx, request, (tx) =>
    rowsAfter(cursor, 'createdAt', limit, (page) =>
      tx.scheduledMessage.findMany({
        ...page,
        where: {
          ...(status ? { status } : {}),
          ...(conversationId ? { conversationId } : {}),
          ...page.where,
        },
      }),
    ),
  );
}

/** The scheduled message `id`; not_found when there is none. */
export async function getScheduledMessage(
  ctx: ApiContext,
  request: FastifyRequest,
  id: string,
): Promise<ScheduledMessage> {
  const row = await tenantTx(ctx, request, (tx) => tx.scheduledMessage.findUnique({ where: { id } }));
  if (!row) throw notFound('scheduled message');
  return row;
}

/** Cancels a scheduled message not yet being sent, and removes its job (best effort). */
export async function cancelScheduledMessage(
  ctx: ApiContext,
  request: FastifyRequest,
  id: string,
): Promise<ScheduledMessage> {
  const row = await tenantTx(ctx, request, async (tx) => {
    // The row lock the worker also takes before it sends: one of the two wins, never both.
    await tx.$queryRaw`SELECT id FROM scheduled_messages WHERE id = ${id}::uuid FOR UPDATE`;
    const s = await tx.scheduledMessage.findUnique({ where: { id } });
    if (!s) throw notFound('scheduled message');
    if (s.status !== 'scheduled' || s.messageId) {
      throw new ApiError(
        'conflict',
        `the scheduled message is ${s.messageId ? 'being sent' : s.status}; only a scheduled one can be cancelled`,
      );
    }
    const updated = await tx.scheduledMessage.update({ where: { id: s.id }, data: { status: 'cancelled' } });
    await audit(tx, request, 'scheduled_message.cancelled', { type: 'scheduled_message', id: s.id });
    return updated;
  });
  const job: OutboundJob = { kind: 'scheduled', tenantId: row.tenantId, scheduledMessageId: row.id };
  // Best effort: a job already running is locked and stays; the worker then finds it cancelled.
  await ctx.queues
    .get(request.principal.slug, QUEUE_NAMES.outbound(row.sessionId))
    .remove(outboundJobId(job));
  return row;
}
