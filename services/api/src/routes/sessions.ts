import type { Session } from '@switchboard/db';
import {
  DeadLetterError,
  listDeadLetters,
  type PairingRecord,
  pairingKey,
  pairingRecordSchema,
  QUEUE_NAMES,
  replayDeadLetter,
  type SessionCommand,
  sessionCommandJobId,
  sessionCommandSchema,
} from '@switchboard/messaging/producer';
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { audit } from '../audit.ts';
import { actorOf, keyPrefixOf, tenantTx } from '../context.ts';
import { ApiError, notFound } from '../errors.ts';
import { errorBody, idParams, iso, isoOrNull, newestFirst, page, pageQuery } from '../schemas.ts';

const accepted = z.strictObject({
  status: z.literal('accepted'),
  /** The command's job id: a repeated request while one is pending answers the same id. */
  commandId: z.string(),
});

/** WhatsApp sessions: list, create, get, the current pairing challenge, delete (not declared ones), commands. */
export const sessionRoutes: FastifyPluginAsyncZod = async (app) => {
  const ctx = app.sb;

  /**
   * Adds `command` for the worker holding the session (its session-commands queue). The jobId
   * makes a repeated click one job while it is pending; the job is removed when done (or failed:
   * the worker records the outcome as the session's state), so a later request is a new job.
   */
  async function sendCommand(request: FastifyRequest, command: SessionCommand): Promise<string> {
    const parsed = sessionCommandSchema.parse(command);
    const jobId = sessionCommandJobId(parsed);
    await ctx.queues
      .get(request.principal.slug, QUEUE_NAMES.sessionCommands(parsed.sessionId))
      .add(parsed.type, parsed, { jobId, removeOnComplete: true, removeOnFail: true });
    return jobId;
  }
  app.get(
    '/',
    {
      config: { access: { role: 'viewer', scope: 'read' } },
      schema: {
        summary: 'List sessions',
        tags: ['sessions'],
        querystring: pageQuery,
        response: { 200: page(session), 400: errorBody },
      },
    },
    async (request) => {
      const list = newestFirst(request.query, 'createdAt');
      const rows = await tenantTx(ctx, request, (tx) =>
        tx.session.findMany({ where: list.where, orderBy: list.orderBy, take: list.take }),
      );
      return list.page(rows, dto);
    },
  );
  app.post(
    '/',
    {
      config: { access: { role: 'admin', scope: 'manage' } },
      schema: {
        summary: 'Create a session (a worker picks it up and starts pairing)',
        tags: ['sessions'],
        body: z.strictObject({
          name: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a DNS-1123 label'),
          channel: z.enum(['baileys', 'cloud-api']),
        }),
        response: { 201: session, 400: errorBody, 409: errorBody, 422: errorBody },
      },
    },
    async (request, reply) => {
      if (request.body.channel === 'cloud-api') {
        throw new ApiError(
          'channel_unsupported',
          "body.channel: Cloud API numbers are declared in the WhatsAppTenant (spec.sessions, with their Meta credentials in the tenant's secret provider); the inbox adds baileys sessions",
        );
      }
      const row = await tenantTx(ctx, request, async (tx) => {
        if (await tx.session.findFirst({ where: { name: request.body.name } })) {
          throw new ApiError('conflict', `body.name: a session named ${request.body.name} exists`);
        }
        const s = await tx.session.create({
          data: {
            tenantId: request.principal.tenantId,
            name: request.body.name,
            channel: request.body.channel === 'cloud-api' ? 'cloud_api' : 'baileys',
          },
        });
        await audit(tx, request, 'session.created', { type: 'session', id: s.id });
        return s;
      });
      return reply.status(201).send(dto(row));
    },
  );
  app.get(
    '/:id',
    {
      config: { access: { role: 'viewer', scope: 'read' } },
      schema: {
        summary: 'Get a session and its state',
        tags: ['sessions'],
        params: idParams,
        response: { 200: session, 404: errorBody },
      },
    },
    async (request) => {
      const row = await tenantTx(ctx, request, (tx) =>
        tx.session.findUnique({ where: { id: request.params.id } }),
      );
      if (!row) throw notFound('session');
      return dto(row);
    },
  );
  app.get(
    '/:id/pairing',
    {
      config: { access: { role: 'admin', scope: 'manage' } },
      schema: {
        summary:
          "The session's current pairing challenge (QR payload or pairing code); 204 when there is none right now",
        tags: ['sessions'],
        params: idParams,
        response: { 200: pairingRecordSchema, 204: z.null(), 404: errorBody },
      },
    },
    async (request, reply) => {
      const row = await tenantTx(ctx, request, (tx) =>
        tx.session.findUnique({ where: { id: request.params.id } }),
      );
      if (!row) throw notFound('session');
      const raw = await ctx.redis.get(pairingKey(keyPrefixOf(request), row.id));
      let record: PairingRecord | undefined;
      if (raw) {
        const parsed = pairingRecordSchema.safeParse(JSON.parse(raw));
        if (parsed.success && parsed.data.sessionId === row.id) record = parsed.data;
      }
      // No challenge is a normal answer while a session waits (an inbox polls it), not an error.
      if (!record) return reply.status(204).send(null);
      return record;
    },
  );
  app.delete(
    '/:id',
    {
      config: { access: { role: 'admin', scope: 'manage' } },
      schema: {
        summary: 'Delete a session (declared sessions are managed in the tenant spec)',
        tags: ['sessions'],
        params: idParams,
        response: { 204: z.null(), 404: errorBody, 409: errorBody },
      },
    },
    async (request, reply) => {
      await tenantTx(ctx, request, async (tx) => {
        const row = await tx.session.findUnique({ where: { id: request.params.id } });
        if (!row) throw notFound('session');
        if (row.declared)
          throw new ApiError(
            'declared_session',
            'this session is declared in the tenant spec; remove it there',
          );
        if ((await tx.conversation.count({ where: { sessionId: row.id } })) > 0) {
          throw new ApiError('conflict', 'the session has conversations; log it out instead of deleting it');
        }
        await tx.session.delete({ where: { id: row.id } });
        await audit(tx, request, 'session.deleted', { type: 'session', id: row.id });
      });
      return reply.status(204).send(null);
    },
  );
  app.post(
    '/:id/logout',
    {
      config: { access: { role: 'admin', scope: 'manage' } },
      schema: {
        summary: 'Log the linked device out at WhatsApp (the worker holding the session does it)',
        tags: ['sessions'],
        params: idParams,
        response: { 202: accepted, 404: errorBody, 409: errorBody },
      },
    },
    async (request, reply) => {
      const p = request.principal;
      const row = await tenantTx(ctx, request, async (tx) => {
        const s = await tx.session.findUnique({ where: { id: request.params.id } });
        if (!s) throw notFound('session');
        if (s.channel === 'cloud_api') {
          throw new ApiError(
            'conflict',
            'a Cloud API session has no linked device to log out; remove the number in the WhatsAppTenant spec or in Meta',
          );
        }
        await audit(tx, request, 'session.logout_requested', { type: 'session', id: s.id });
        return s;
      });
      // After the commit: the audit entry exists for every command a worker may run.
      const commandId = await sendCommand(request, {
        type: 'logout',
        tenantId: p.tenantId,
        sessionId: row.id,
        requestedBy: actorOf(request).actorId,
      });
      return reply.status(202).send({ status: 'accepted' as const, commandId });
    },
  );
  app.post(
    '/:id/pairing-code',
    {
      config: { access: { role: 'admin', scope: 'manage' } },
      schema: {
        summary:
          'Ask WhatsApp for a pairing code for this phone number (then read it from GET /:id/pairing or the session.pairing event)',
        tags: ['sessions'],
        params: idParams,
        body: z.strictObject({
          phoneNumber: z
            .string()
            .regex(/^[1-9][0-9]{6,14}$/, 'must be an E.164 number without "+" (7 to 15 digits)')
            .describe('The phone that will show the code: digits only, country code first.'),
        }),
        response: { 202: accepted, 400: errorBody, 404: errorBody, 409: errorBody },
      },
    },
    async (request, reply) => {
      const p = request.principal;
      const row = await tenantTx(ctx, request, async (tx) => {
        const s = await tx.session.findUnique({ where: { id: request.params.id } });
        if (!s) throw notFound('session');
        if (s.channel === 'cloud_api') {
          throw new ApiError(
            'conflict',
            'a Cloud API session is not paired with a code; it uses the declared number',
          );
        }
        if (s.state === 'connected') {
          throw new ApiError('conflict', 'the session is already connected; log it out before pairing again');
        }
        await audit(tx, request, 'session.pairing_code_requested', { type: 'session', id: s.id });
        return s;
      });
      const commandId = await sendCommand(request, {
        type: 'pairing-code',
        tenantId: p.tenantId,
        sessionId: row.id,
        phoneNumber: request.body.phoneNumber,
        requestedBy: actorOf(request).actorId,
      });
      return reply.status(202).send({ status: 'accepted' as const, commandId });
    },
  );

  const deadLetter = z.strictObject({
    jobId: z.string(),
    kind: z.enum(['send', 'scheduled']).nullable(),
    messageId: z.uuid().nullable(),
    scheduledMessageId: z.uuid().nullable(),
    failedReason: z.string(),
    attemptsMade: z.number().int(),
    failedAt: isoOrNull,
  });
  const offsetCursor = z
    .string()
    .regex(/^\d{1,9}$/, 'must be the nextCursor of the previous page')
    .optional()
    .describe('The nextCursor of the previous page.');
  app.get(
    '/:id/dead-letters',
    {
      config: { access: { role: 'admin', scope: 'manage' } },
      schema: {
        summary:
          'Outbound messages whose sends failed for good or exhausted their retries, with the error (newest first)',
        tags: ['sessions'],
        params: idParams,
        querystring: pageQuery.extend({ cursor: offsetCursor }),
        response: { 200: page(deadLetter), 400: errorBody, 404: errorBody },
      },
    },
    async (request) => {
      const row = await tenantTx(ctx, request, (tx) =>
        tx.session.findUnique({ where: { id: request.params.id } }),
      );
      if (!row) throw notFound('session');
      const start = Number(request.query.cursor ?? 0);
      const { limit } = request.query;
      const queue = ctx.queues.get(request.principal.slug, QUEUE_NAMES.outbound(row.id));
      const letters = await listDeadLetters(queue, start, start + limit);
      const items = letters.slice(0, limit).map((letter) => ({
        jobId: letter.jobId,
        kind: letter.job?.kind ?? null,
        messageId: letter.job?.kind === 'send' ? letter.job.messageId : null,
        scheduledMessageId: letter.job?.kind === 'scheduled' ? letter.job.scheduledMessageId : null,
        failedReason: letter.failedReason,
        attemptsMade: letter.attemptsMade,
        failedAt: iso(letter.failedAt),
      }));
      return { items, nextCursor: letters.length > limit ? String(start + limit) : null };
    },
  );
  app.post(
    '/:id/dead-letters/:jobId/replay',
    {
      config: { access: { role: 'admin', scope: 'manage' } },
      schema: {
        summary: 'Send a dead letter again: its message returns to queued and the job gets fresh attempts',
        tags: ['sessions'],
        params: z.strictObject({
          id: z.uuid({ error: 'must be a uuid' }),
          jobId: z
            .string()
            .regex(
              /^(send|scheduled)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
              'must be a dead letter jobId (send-<uuid> or scheduled-<uuid>)',
            ),
        }),
        response: { 202: z.strictObject({ status: z.literal('accepted') }), 404: errorBody, 409: errorBody },
      },
    },
    async (request, reply) => {
      const row = await tenantTx(ctx, request, (tx) =>
        tx.session.findUnique({ where: { id: request.params.id } }),
      );
      if (!row) throw notFound('session');
      const queue = ctx.queues.get(request.principal.slug, QUEUE_NAMES.outbound(row.id));
      try {
        await replayDeadLetter(ctx.db, request.principal.tenantId, queue, request.params.jobId);
      } catch (error) {
        if (error instanceof DeadLetterError)
          throw error.reason === 'not-found'
            ? notFound('dead letter')
            : new ApiError('conflict', `${request.params.jobId} is not a dead letter (it is not failed)`);
        throw error;
      }
      await tenantTx(ctx, request, (tx) =>
        audit(
          tx,
          request,
          'dead_letter.replayed',
          { type: 'session', id: row.id },
          { jobId: request.params.jobId },
        ),
      );
      return reply.status(202).send({ status: 'accepted' as const });
    },
  );
};
