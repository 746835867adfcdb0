import type { Contact, ContactIdentity, Prisma } from '@switchboard/db';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { audit } from '../audit.ts';
import { tenantTx } from '../context.ts';
import { contactDto, contactSchema } from '../dto.ts';
import { notFound } from '../errors.ts';
import { afterCursor, decodeCursor, errorBody, idParams, page, pageQuery, toPage } from '../schemas.ts';

/** Contacts: list/search, get, update, erase (audited). */
export const contactRoutes: FastifyPluginAsyncZod = async (app) => {
  const ctx = app.sb;
  app.get(
    '/',
    {
      config: { access: { role: 'viewer', scope: 'read' } },
      schema: {
        summary: 'List or search contacts',
        tags: ['contacts'],
        querystring: pageQuery.extend({ search: z.string().trim().min(1).max(100).optional() }),
        response: { 200: page(contactSchema), 400: errorBody },
      },
    },
    async (request) => {
      const { limit, search } = request.query;
      const cursor = decodeCursor(request.query.cursor);
      const where: Prisma.ContactWhereInput = {
        ...(afterCursor(cursor, 'createdAt') as Prisma.ContactWhereInput),
        ...(search
          ? {
              AND: [
                {
                  OR: [
                    { displayName: { contains: search, mode: 'insensitive' } },
                    { pushName: { contains: search, mode: 'insensitive' } },
                    { identities: { some: { value: { contains: search } } } },
                  ],
                },
              ],
            }
          : {}),
      };
      const rows = await tenantTx(ctx, request, (tx) =>
        tx.contact.findMany({
          where,
          include: { identities: true },
          orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
          take: limit + 1,
        }),
      );
      return toPage(rows, limit, (r) => r.createdAt, contactDto);
    },
  );
  app.get(
    '/:id',
    {
      config: { access: { role: 'viewer', scope: 'read' } },
      schema: {
        summary: 'Get a contact',
        tags: ['contacts'],
        params: idParams,
        response: { 200: contactSchema, 404: errorBody },
      },
    },
    async (request) => {
      const row = await tenantTx(ctx, request, (tx) =>
        tx.contact.findUnique({ where: { id: request.params.id }, include: { identities: true } }),
      );
      if (!row) throw notFound('contact');
      return contactDto(row);
    },
  );
  app.patch(
    '/:id',
    {
      config: { access: { role: 'agent', scope: 'send' } },
      schema: {
        summary: "Set the contact's display name and the team's notes (fields left out stay as they are)",
        tags: ['contacts'],
        params: idParams,
        body: z
          .strictObject({
            displayName: z.string().trim().min(1).max(200).nullable().optional(),
            notes: z.string().max(10_000, 'at most 10,000 characters').nullable().optional(),
          })
          .refine((b) => b.displayName !== undefined || b.notes !== undefined, {
            message: 'give displayName or notes (or both)',
          }),
        response: { 200: contactSchema, 400: errorBody, 404: errorBody },
      },
    },
    async (request) => {
      return tenantTx(ctx, request, async (tx) => {
        const row = await tx.contact.findUnique({ where: { id: request.params.id } });
        if (!row) throw notFound('contact');
        return contactDto(
          await tx.contact.update({
            where: { id: row.id },
            data: {
              ...(request.body.displayName !== undefined ? { displayName: request.body.displayName } : {}),
              ...(request.body.notes !== undefined ? { notes: request.body.notes?.trim() || null } : {}),
            },
            include: { identities: true },
          }),
        );
      });
    },
  );

  const exported = z.strictObject({
    contact: contactSchema,
    conversations: z.array(
      z.strictObject({ id: z.uuid(), sessionId: z.uuid(), status: z.string(), createdAt: z.iso.datetime() }),
    ),
    messages: z.array(
      z.strictObject({
        id: z.uuid(),
        conversationId: z.uuid(),
        direction: z.string(),
        type: z.string(),
        body: z.string().nullable(),
        status: z.string(),
        createdAt: z.iso.datetime(),
      }),
    ),
  });

  app.get(
    '/:id/export',
    {
      config: { access: { role: 'admin', scope: 'manage' } },
      schema: {
        summary: 'Export everything stored about one contact (data subject access)',
        tags: ['contacts'],
        params: idParams,
        response: { 200: exported, 404: errorBody },
      },
    },
    async (request) =>
      tenantTx(ctx, request, async (tx) => {
        const row = await tx.contact.findUnique({
          where: { id: request.params.id },
          include: { identities: true },
        });
        if (!row) throw notFound('contact');
        const conversations = await tx.conversation.findMany({
          where: { contactId: row.id },
          orderBy: { createdAt: 'asc' },
        });
        const messages = await tx.message.findMany({
          where: { conversationId: { in: conversations.map((c) => c.id) } },
          orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
        });
        await audit(tx, request, 'contact.exported', { type: 'contact', id: row.id });
        return {
          contact: contactDto(row),
          conversations: conversations.map((c) => ({
            id: c.id,
            sessionId: c.sessionId,
            status: c.status,
            createdAt: c.createdAt.toISOString(),
          })),
          messages: messages.map((m) => ({
            id: m.id,
            conversationId: m.conversationId,
            direction: m.direction,
            type: m.type,
            body: m.body,
            status: m.status,
            createdAt: m.createdAt.toISOString(),
          })),
        };
      }),
  );

  app.delete(
    '/:id',
    {
      config: { access: { role: 'admin', scope: 'manage' } },
      schema: {
        summary: 'Erase one contact and every conversation and message with them (audited)',
        tags: ['contacts'],
        params: idParams,
        response: { 204: z.null(), 404: errorBody },
      },
    },
    async (request, reply) => {
      const mediaKeys = await tenantTx(ctx, request, async (tx) => {
        const row = await tx.contact.findUnique({ where: { id: request.params.id } });
        if (!row) throw notFound('contact');
        const conversationIds = (
          await tx.conversation.findMany({ where: { contactId: row.id }, select: { id: true } })
        ).map((c) => c.id);
        const withMedia = await tx.message.findMany({
          where: { conversationId: { in: conversationIds }, mediaStorageKey: { not: null } },
          select: { mediaStorageKey: true },
        });
        const scheduled = await tx.scheduledMessage.deleteMany({
          where: { conversationId: { in: conversationIds } },
        });
        const messages = await tx.message.deleteMany({ where: { conversationId: { in: conversationIds } } });
        await tx.conversation.deleteMany({ where: { id: { in: conversationIds } } });
        await tx.contact.delete({ where: { id: row.id } });
        // Counts only: the audit entry must not keep what was erased.
        await audit(
          tx,
          request,
          'contact.erased',
          { type: 'contact', id: row.id },
          {
            conversations: conversationIds.length,
            messages: messages.count,
            scheduledMessages: scheduled.count,
            mediaFiles: withMedia.length,
          },
        );
        return withMedia.map((m) => m.mediaStorageKey!);
      });
      // The files go after the commit (a rolled-back erase must keep them); one that fails to
      // delete is logged by key (no content) and left for a sweep, the rows are already gone.
      for (const key of mediaKeys) {
        await ctx.mediaStorage?.delete(key).catch((error: unknown) => {
          request.log.error({ err: error, key }, 'erased contact: media file not deleted');
        });
      }
      return reply.status(204).send(null);
    },
  );
};
