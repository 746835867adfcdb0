import { pairingRecordSchema } from '@switchboard/messaging/producer';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { deadLetterDto, deadLetterSchema, sessionDto, sessionSchema } from '../dto.ts';
import { errorBody, idParams, newestFirst, page, pageQuery } from '../schemas.ts';
import {
  createSession,
  currentPairing,
  deleteSession,
  getSession,
  listSessionDeadLetters,
  listSessions,
  replaySessionDeadLetter,
  requestSessionCommand,
  type SessionCommandRequest,
} from '../services/sessions.ts';

const accepted = z.strictObject({
  status: z.literal('accepted'),
  /** The command's job id: a repeated request while one is pending answers the same id. */
  commandId: z.string(),
});

const offsetCursor = z
  .string()
  .regex(/^\d{1,9}$/, 'must be the nextCursor of the previous page')
  .optional()
  .describe('The nextCursor of the previous page.');

const manage = { role: 'admin', scope: 'manage' } as const;

/** WhatsApp sessions: list, create, get, the current pairing challenge, delete (not declared ones), commands. */
export const sessionRoutes: FastifyPluginAsyncZod = async (app) => {
  const ctx = app.sb;

  /** The one handler of every command route: the worker holding the session does the work (202). */
  function commandHandler(
    command: (request: FastifyRequest<{ Body: unknown }>) => SessionCommandRequest,
  ): (
    request: FastifyRequest<{ Params: { id: string }; Body: unknown }>,
    reply: FastifyReply,
  ) => Promise<void> {
    return async (request, reply) => {
      const commandId = await requestSessionCommand(ctx, request, request.params.id, command(request));
      await reply.status(202).send({ status: 'accepted' as const, commandId });
    };
  }

  app.get(
    '/',
    {
      config: { access: { role: 'viewer', scope: 'read' } },
      schema: {
        summary: 'List sessions',
        tags: ['sessions'],
        querystring: pageQuery,
        response: { 200: page(sessionSchema), 400: errorBody },
      },
    },
    async (request) => {
      const list = newestFirst(request.query, 'createdAt');
      return list.page(await listSessions(ctx, request, list), sessionDto);
    },
  );
  app.post(
    '/',
    {
      config: { access: manage },
      schema: {
        summary: 'Create a session (a worker picks it up and starts pairing)',
        tags: ['sessions'],
        body: z.strictObject({
          name: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a DNS-1123 label'),
          channel: z.enum(['baileys', 'cloud-api']),
        }),
        response: { 201: sessionSchema, 400: errorBody, 409: errorBody, 422: errorBody },
      },
    },
    async (request, reply) =>
      reply.status(201).send(sessionDto(await createSession(ctx, request, request.body))),
  );
  app.get(
    '/:id',
    {
      config: { access: { role: 'viewer', scope: 'read' } },
      schema: {
        summary: 'Get a session and its state',
        tags: ['sessions'],
        params: idParams,
        response: { 200: sessionSchema, 404: errorBody },
      },
    },
    async (request) => sessionDto(await getSession(ctx, request, request.params.id)),
  );
  app.get(
    '/:id/pairing',
    {
      config: { access: manage },
      schema: {
        summary:
          "The session's current pairing challenge (QR payload or pairing code); 204 when there is none right now",
        tags: ['sessions'],
        params: idParams,
        response: { 200: pairingRecordSchema, 204: z.null(), 404: errorBody },
      },
    },
    async (request, reply) => {
      const record = await currentPairing(ctx, request, request.params.id);
      // No challenge is a normal answer while a session waits (an inbox polls it), not an error.
      if (!record) return reply.status(204).send(null);
      return record;
    },
  );
  app.delete(
    '/:id',
    {
      config: { access: manage },
      schema: {
        summary: 'Delete a session (declared sessions are managed in the tenant spec)',
        tags: ['sessions'],
        params: idParams,
        response: { 204: z.null(), 404: errorBody, 409: errorBody },
      },
    },
    async (request, reply) => {
      await deleteSession(ctx, request, request.params.id);
      return reply.status(204).send(null);
    },
  );
  app.post(
    '/:id/logout',
    {
      config: { access: manage },
      schema: {
        summary: 'Log the linked device out at WhatsApp (the worker holding the session does it)',
        tags: ['sessions'],
        params: idParams,
        response: { 202: accepted, 404: errorBody, 409: errorBody },
      },
    },
    commandHandler(() => ({ type: 'logout' })),
  );
  const pairingCodeBody = z.strictObject({
    phoneNumber: z
      .string()
      .regex(/^[1-9][0-9]{6,14}$/, 'must be an E.164 number without "+" (7 to 15 digits)')
      .describe('The phone that will show the code: digits only, country code first.'),
  });
  app.post(
    '/:id/pairing-code',
    {
      config: { access: manage },
      schema: {
        summary:
          'Ask WhatsApp for a pairing code for this phone number (then read it from GET /:id/pairing or the session.pairing event)',
        tags: ['sessions'],
        params: idParams,
        body: pairingCodeBody,
        response: { 202: accepted, 400: errorBody, 404: errorBody, 409: errorBody },
      },
    },
    commandHandler((request) => ({
      type: 'pairing-code',
      phoneNumber: (request.body as z.infer<typeof pairingCodeBody>).phoneNumber,
    })),
  );
  app.get(
    '/:id/dead-letters',
    {
      config: { access: manage },
      schema: {
        summary:
          'Outbound messages whose sends failed for good or exhausted their retries, with the error (newest first)',
        tags: ['sessions'],
        params: idParams,
        querystring: pageQuery.extend({ cursor: offsetCursor }),
        response: { 200: page(deadLetterSchema), 400: errorBody, 404: errorBody },
      },
    },
    async (request) => {
      const start = Number(request.query.cursor ?? 0);
      const { limit } = request.query;
      const { letters, more } = await listSessionDeadLetters(ctx, request, request.params.id, start, limit);
      return { items: letters.map(deadLetterDto), nextCursor: more ? String(start + limit) : null };
    },
  );
  app.post(
    '/:id/dead-letters/:jobId/replay',
    {
      config: { access: manage },
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
      await replaySessionDeadLetter(ctx, request, request.params.id, request.params.jobId);
      return reply.status(202).send({ status: 'accepted' as const });
    },
  );
};
