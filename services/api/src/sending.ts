import { createHash, randomUUID } from 'node:crypto';
import type { Conversation, Message, Prisma, Session, TenantTx } from '@switchboard/db';
import {
  conversationForNumber,
  type OutboundJob,
  outboundJobOptions,
  outboundJobSchema,
  QUEUE_NAMES,
} from '@switchboard/messaging/producer';
import type { FastifyRequest } from 'fastify';
import { type ApiContext, tenantTx } from './context.ts';
import { ApiError, notFound } from './errors.ts';

/** Retry-After of a send stored while its job could not be queued. */
export const SEND_RETRY_AFTER_SECONDS = 5;

/** How long an Idempotency-Key is remembered (Stripe's convention: a day). */
const IDEMPOTENCY_TTL_MS = 24 * 3_600_000;

/** The message columns a kind of send contributes (text, template, media). */
export type MessageColumns = Pick<Prisma.MessageUncheckedCreateInput, 'type' | 'body'> &
  Partial<
    Pick<
      Prisma.MessageUncheckedCreateInput,
      | 'template'
      | 'interactive'
      | 'mediaStorageKey'
      | 'mediaMimeType'
      | 'mediaSizeBytes'
      | 'mediaSha256'
      | 'mediaFileName'
      | 'mentions'
    >
  >;

/**
 * Where a send goes: an existing conversation, or a phone number through a session (the contact
 * and conversation are created when new: a first message, e.g. a template outside the 24-hour
 * window).
 */
export type SendTarget = { conversationId: string } | { sessionId: string; to: string };

/** One send: where, what, and the Idempotency-Key it is bound to. */
export interface SendOptions {
  target: SendTarget;
  replyToMessageId?: string | undefined;
  idempotencyKey: string;
  /** What the key is bound to: a digest of the whole request (body, and the file for uploads). */
  requestFingerprint: string;
  /**
   * The message's columns, called inside the transaction once the conversation is found and the
   * key is new (never on a replay), with the id the message will have: it may refuse the send
   * (throw an ApiError) or store what the row refers to (media) under that id.
   */
  columns: (
    conversation: Conversation & { session: Session },
    messageId: string,
    tx: TenantTx,
  ) => Promise<MessageColumns> | MessageColumns;
}

/** What sendMessage did: a new message (201) or the one this key made before (200). */
export interface SendResult {
  replay: boolean;
  row: Message;
}

/** SHA-256 hex of `parts`, each length-prefixed so that no two splits of the same bytes collide. */
export function fingerprint(...parts: (string | Uint8Array)[]): string {
  const hash = createHash('sha256');
  for (const part of parts) {
    const bytes = typeof part === 'string' ? Buffer.from(part) : part;
    hash.update(`${bytes.length}:`).update(bytes);
  }
  return hash.digest('hex');
}

/**
 * Stores an outbound message (`queued`) and enqueues its job for the worker holding the session.
 * Idempotent per key: the same key and request return the first message (and re-add the same
 * jobId, a no-op), so a crash between the commit and the enqueue heals on retry; the same key
 * with another request is refused.
 */
export async function sendMessage(
  ctx: ApiContext,
  request: FastifyRequest,
  send: SendOptions,
): Promise<SendResult> {
  const p = request.principal;
  const key = send.idempotencyKey;
  const store = () =>
    tenantTx(ctx, request, async (tx): Promise<SendResult> => {
      const keyRecord = () =>
        tx.idempotencyKey.findUnique({ where: { tenantId_key: { tenantId: p.tenantId, key } } });
      const seen = await keyRecord();
      const mismatch = new ApiError(
        'idempotency_key_mismatch',
        'this Idempotency-Key was used with a different request',
      );
      // A key stays bound to its message for as long as the message exists, past the 24 h too:
      // the same request gets the stored answer, anything else (or a request that can no longer
      // be compared, its record cleaned up) is refused rather than made a second message.
      const existing = await tx.message.findFirst({ where: { idempotencyKey: key } });
      if (existing) {
        // A concurrent request may have committed the key and its message between the two reads
        // (each statement sees what was committed when it started): read the key again then.
        const bound = seen ?? (await keyRecord());
        if (bound?.requestHash !== send.requestFingerprint) throw mismatch;
        return { replay: true, row: existing };
      }
      if (seen && seen.expiresAt > new Date() && seen.requestHash !== send.requestFingerprint) throw mismatch;
      if (seen) await tx.idempotencyKey.delete({ where: { id: seen.id } });
      let conversationId: string;
      if ('conversationId' in send.target) conversationId = send.target.conversationId;
      else {
        const session = await tx.session.findUnique({ where: { id: send.target.sessionId } });
        if (!session) throw notFound('session');
        conversationId = await conversationForNumber(tx, p.tenantId, session.id, send.target.to);
      }
      const conversation = await tx.conversation.findUnique({
        where: { id: conversationId },
        include: { session: true },
      });
      if (!conversation) throw notFound('conversation');
      if (send.replyToMessageId) {
        const quoted = await tx.message.findFirst({
          where: { id: send.replyToMessageId, conversationId: conversation.id },
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
      const messageId = randomUUID();
      const columns = await send.columns(conversation, messageId, tx);
      await tx.idempotencyKey.create({
        data: {
          tenantId: p.tenantId,
          key,
          requestHash: send.requestFingerprint,
          expiresAt: new Date(Date.now() + IDEMPOTENCY_TTL_MS),
        },
      });
      const row = await tx.message.create({
        data: {
          id: messageId,
          tenantId: p.tenantId,
          sessionId: conversation.sessionId,
          conversationId: conversation.id,
          direction: 'outbound',
          status: 'queued',
          ...columns,
          idempotencyKey: key,
          replyToMessageId: send.replyToMessageId ?? null,
          sentById: p.kind === 'user' ? p.userId : null,
        },
      });
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
  let result: SendResult;
  try {
    result = await store();
  } catch (error) {
    // A concurrent request with the same key committed first (its insert of the key won the
    // unique index): run again, which finds that request's message and answers it.
    if ((error as { code?: string }).code !== 'P2002') throw error;
    result = await store();
  }
  // Enqueued after the commit (the worker must find the row) and on every replay too: if the
  // process died between the two, the retry enqueues it; the jobId makes the second add a no-op.
  const job: OutboundJob = outboundJobSchema.parse({
    kind: 'send',
    tenantId: p.tenantId,
    messageId: result.row.id,
    requestId: request.id,
  });
  // The contract's jobId, the consumer's retries and backoff, failed jobs kept as dead letters.
  try {
    await ctx.queues
      .get(p.slug, QUEUE_NAMES.outbound(result.row.sessionId))
      .add('send', job, outboundJobOptions(job));
  } catch (error) {
    // The message is stored but its job could not be added (Redis unavailable, e.g. during a
    // failover): not a failure of the send. A retry with the same Idempotency-Key answers the
    // stored message and adds the same jobId, so the client is told to retry, never that it failed.
    request.log.warn({ err: error, messageId: result.row.id }, 'send stored but not queued; answering 503');
    throw new ApiError(
      'unavailable',
      `message ${result.row.id} is stored but could not be queued yet; retry with the same Idempotency-Key`,
      { retryAfterSeconds: SEND_RETRY_AFTER_SECONDS },
    );
  }
  return result;
}
