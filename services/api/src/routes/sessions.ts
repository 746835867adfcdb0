import type { Session } from '@switchboard/db';
import { type PairingRecord, pairingKey, pairingRecordSchema } from '@switchboard/messaging';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { audit } from '../audit.ts';
import { keyPrefixOf, tenantTx } from '../context.ts';
import { ApiError, notFound } from '../errors.ts';
import { errorBody, idParams, iso, isoOrNull, newestFirst, page, pageQuery } from '../schemas.ts';

const session = z.strictObject({
  id: z.uuid(),
  name: z.string(),
  channel: z.enum(['baileys', 'cloud-api']),
  state: z.enum(['unpaired', 'pairing', 'connecting', 'connected', 'disconnected', 'logged_out']),
  stateReason: z.string().nullable(),
  declared: z.boolean(),
  phoneNumber: z.string().nullable(),
  stateChangedAt: z.iso.datetime(),
  lastConnectedAt: isoOrNull,
  createdAt: z.iso.datetime(),
});

function dto(s: Session) {
  return {
    id: s.id,
    name: s.name,
    channel: s.channel === 'cloud_api' ? ('cloud-api' as const) : ('baileys' as const),
    state: s.state,
    stateReason: s.stateReason,
    declared: s.declared,
    phoneNumber: s.phoneNumber,
    stateChangedAt: s.stateChangedAt.toISOString(),
    lastConnectedAt: iso(s.lastConnectedAt),
    createdAt: s.createdAt.toISOString(),
  };
}

/** WhatsApp sessions: list, create, get, the current pairing challenge, delete (not declared ones). */
export const sessionRoutes: FastifyPluginAsyncZod = async (app) => {
  const ctx = app.sb;
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
        response: { 201: session, 400: errorBody, 409: errorBody },
      },
    },
    async (request, reply) => {
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
        summary: "The session's current pairing challenge (QR payload or pairing code), while pairing",
        tags: ['sessions'],
        params: idParams,
        response: { 200: pairingRecordSchema, 404: errorBody },
      },
    },
    async (request) => {
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
      if (!record) throw new ApiError('not_found', 'the session has no pairing challenge right now');
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
};
