import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { contactDto, contactSchema } from '../dto.ts';
import { errorBody, idParams, page, pageQuery, toPage } from '../schemas.ts';
import {
  eraseContact,
  exportContact,
  getContact,
  listContacts,
  updateContact,
} from '../services/contacts.ts';

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
    async (request) =>
      toPage(
        await listContacts(ctx, request, request.query),
        request.query.limit,
        (r) => r.createdAt,
        contactDto,
      ),
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
    async (request) => contactDto(await getContact(ctx, request, request.params.id)),
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
    async (request) => contactDto(await updateContact(ctx, request, request.params.id, request.body)),
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
    async (request) => {
      const { contact, conversations, messages } = await exportContact(ctx, request, request.params.id);
      return {
        contact: contactDto(contact),
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
    },
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
      await eraseContact(ctx, request, request.params.id);
      return reply.status(204).send(null);
    },
  );
};
