import type { Conversation, Message, Prisma } from '@switchboard/db';
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorBody, idParams, iso, isoOrNull, page, pageQuery, toPage } from '../schemas.ts';
import {
  assignConversation,
  type ConversationRow,
  getConversation,
  listConversationMessages,
  listConversations,
  updateConversation,
} from '../services/conversations.ts';

const conversation = z.strictObject({
  id: z.uuid(),
  sessionId: z.uuid(),
  contactId: z.uuid(),
  /** Who the conversation is with, so a list renders without a request per row. */
  contact: z.strictObject({
    id: z.uuid(),
    /** The agent-set name, else the contact's own WhatsApp name. */
    name: z.string().nullable(),
    /** E.164 digits without '+', when known. */
    phoneNumber: z.string().nullable(),
    lid: z.string().nullable(),
  }),
  /** The newest message, for the list's preview (body cut to 200 characters). */
  lastMessage: z
    .strictObject({
      id: z.uuid(),
      direction: z.enum(['inbound', 'outbound']),
      type: z.string(),
      body: z.string().nullable(),
      status: z.enum(['queued', 'sent', 'delivered', 'read', 'failed']),
      createdAt: z.iso.datetime(),
    })
    .nullable(),
  status: z.enum(['open', 'resolved']),
  assigneeId: z.uuid().nullable(),
  lastMessageAt: z.iso.datetime(),
  unreadCount: z.number().int(),
  resolvedAt: isoOrNull,
  createdAt: z.iso.datetime(),
});
const message = z.strictObject({
  id: z.uuid(),
  conversationId: z.uuid(),
  direction: z.enum(['inbound', 'outbound']),
  status: z.enum(['queued', 'sent', 'delivered', 'read', 'failed']),
  /** Why a failed message failed, as the provider said it. */
  failureReason: z.string().nullable(),
  type: z.string(),
  body: z.string().nullable(),
  /** For reactions: the emoji ('' when removed); the target is replyToMessageId / replyToProviderMessageId. */
  reaction: z.string().nullable(),
  /** The file of a media message; `available` once it is in storage (GET /v1/messages/:id/media). */
  media: z
    .strictObject({
      mimeType: z.string().nullable(),
      fileName: z.string().nullable(),
      sizeBytes: z.number().int().nullable(),
      available: z.boolean(),
    })
    .nullable(),
  replyToMessageId: z.uuid().nullable(),
  replyToProviderMessageId: z.string().nullable(),
  /** The member who sent an outbound message from the inbox. */
  sentById: z.uuid().nullable(),
  editedAt: isoOrNull,
  deletedAt: isoOrNull,
  sentAt: isoOrNull,
  deliveredAt: isoOrNull,
  readAt: isoOrNull,
  createdAt: z.iso.datetime(),
});

function dto(c: ConversationRow) {
  const identity = (kind: 'pn' | 'lid') => c.contact.identities.find((i) => i.kind === kind)?.value ?? null;
  const last = c.messages[0];
  return {
    id: c.id,
    sessionId: c.sessionId,
    contactId: c.contactId,
    contact: {
      id: c.contact.id,
      name: c.contact.displayName ?? c.contact.pushName ?? null,
      phoneNumber: identity('pn'),
      lid: identity('lid'),
    },
    lastMessage: last
      ? {
          id: last.id,
          direction: last.direction,
          type: last.type,
          body: last.body === null ? null : last.body.slice(0, 200),
          status: last.status,
          createdAt: last.createdAt.toISOString(),
        }
      : null,
    status: c.status,
    assigneeId: c.assigneeId,
    lastMessageAt: c.lastMessageAt.toISOString(),
    unreadCount: c.unreadCount,
    resolvedAt: iso(c.resolvedAt),
    createdAt: c.createdAt.toISOString(),
  };
}
const MEDIA_TYPES = new Set(['image', 'video', 'audio', 'document', 'sticker']);

function messageDto(m: Message) {
  return {
    id: m.id,
    conversationId: m.conversationId,
    direction: m.direction,
    status: m.status,
    failureReason: m.failureReason,
    type: m.type,
    body: m.body,
    reaction: m.reaction,
    media: MEDIA_TYPES.has(m.type)
      ? {
          mimeType: m.mediaMimeType,
          fileName: m.mediaFileName,
          sizeBytes: m.mediaSizeBytes === null ? null : Number(m.mediaSizeBytes),
          available: m.mediaStorageKey !== null,
        }
      : null,
    replyToMessageId: m.replyToMessageId,
    replyToProviderMessageId: m.replyToProviderMessageId,
    sentById: m.sentById,
    editedAt: iso(m.editedAt),
    deletedAt: iso(m.deletedAt),
    sentAt: iso(m.sentAt),
    deliveredAt: iso(m.deliveredAt),
    readAt: iso(m.readAt),
    createdAt: m.createdAt.toISOString(),
  };
}

/** The inbox: conversations with filters, assignment, resolve/reopen, mark read, message history. */
export const conversationRoutes: FastifyPluginAsyncZod = async (app) => {
  const ctx = app.sb;
  const read = { role: 'viewer', scope: 'read' } as const;
  const work = { role: 'agent', scope: 'send' } as const;

  app.get(
    '/',
    {
      config: { access: read },
      schema: {
        summary: 'List conversations, most recent first',
        tags: ['conversations'],
        querystring: pageQuery.extend({
          status: z.enum(['open', 'resolved']).optional(),
          assignee: z.enum(['mine', 'unassigned']).optional(),
          sessionId: z.uuid().optional(),
          search: z
            .string()
            .trim()
            .min(1)
            .max(100)
            .optional()
            .describe("Matches the contact's name, phone number or LID, or a message's text."),
        }),
        response: { 200: page(conversation), 400: errorBody },
      },
    },
    async (request) =>
      toPage(
        await listConversations(ctx, request, request.query),
        request.query.limit,
        (r) => r.lastMessageAt,
        dto,
      ),
  );

  app.get(
    '/:id',
    {
      config: { access: read },
      schema: {
        summary: 'Get a conversation',
        tags: ['conversations'],
        params: idParams,
        response: { 200: conversation, 404: errorBody },
      },
    },
    async (request) => dto(await getConversation(ctx, request, request.params.id)),
  );

  /** Resolve, reopen and read: the same change of one conversation with other data. */
  const update = async (
    request: FastifyRequest & { params: { id: string } },
    data: (c: Conversation) => Prisma.ConversationUpdateInput,
  ) => dto(await updateConversation(ctx, request, request.params.id, data));

  app.post(
    '/:id/assign',
    {
      config: { access: work },
      schema: {
        summary: 'Assign the conversation to a member (null unassigns)',
        tags: ['conversations'],
        params: idParams,
        body: z.strictObject({ assigneeId: z.uuid().nullable() }),
        response: { 200: conversation, 400: errorBody, 404: errorBody },
      },
    },
    async (request) =>
      dto(await assignConversation(ctx, request, request.params.id, request.body.assigneeId)),
  );
  app.post(
    '/:id/resolve',
    {
      config: { access: work },
      schema: {
        summary: 'Resolve the conversation',
        tags: ['conversations'],
        params: idParams,
        response: { 200: conversation, 404: errorBody },
      },
    },
    (request) => update(request, () => ({ status: 'resolved', resolvedAt: new Date() })),
  );
  app.post(
    '/:id/reopen',
    {
      config: { access: work },
      schema: {
        summary: 'Reopen the conversation',
        tags: ['conversations'],
        params: idParams,
        response: { 200: conversation, 404: errorBody },
      },
    },
    (request) => update(request, () => ({ status: 'open', resolvedAt: null })),
  );
  app.post(
    '/:id/read',
    {
      config: { access: work },
      schema: {
        summary: 'Mark the conversation read',
        tags: ['conversations'],
        params: idParams,
        response: { 200: conversation, 404: errorBody },
      },
    },
    (request) => update(request, () => ({ unreadCount: 0 })),
  );

  app.get(
    '/:id/messages',
    {
      config: { access: read },
      schema: {
        summary: "The conversation's messages, newest first",
        tags: ['conversations'],
        params: idParams,
        querystring: pageQuery,
        response: { 200: page(message), 400: errorBody, 404: errorBody },
      },
    },
    async (request) =>
      toPage(
        await listConversationMessages(ctx, request, request.params.id, request.query),
        request.query.limit,
        (r) => r.createdAt,
        messageDto,
      ),
  );
};
