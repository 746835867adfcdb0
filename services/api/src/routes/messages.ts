import { createHash } from 'node:crypto';
import { participantPhoneSchema } from '@switchboard/messaging/producer';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { messageDto, messageSchema } from '../dto.ts';
import { errorBody, idempotencyHeaders, idParams } from '../schemas.ts';
import { type MessageColumns, type SendTarget, sendMessage } from '../sending.ts';
import { MAX_MENTIONS, mentionColumns } from '../services/groups.ts';
import { interactiveMessageColumns, pollMessageColumns } from '../services/interactive.ts';
import { getMessage } from '../services/messages.ts';
import { templateMessageColumns } from '../services/templates.ts';
import { templateComponentSchema } from '../templates-meta.ts';

/** Where a send goes: `conversationId`, or `sessionId` and `to` for a number (maybe a new one). */
const target = {
  conversationId: z.uuid().optional().describe('An existing conversation; or give sessionId and to.'),
  sessionId: z.uuid().optional().describe('With `to`: the session (number) to send from.'),
  to: z
    .string()
    .regex(/^\+?[1-9][0-9]{6,14}$/, 'must be an E.164 phone number (7 to 15 digits, optional +)')
    .optional()
    .describe('With `sessionId`: the recipient; the contact and conversation are created when new.'),
};
function oneTarget(body: {
  conversationId?: string | undefined;
  sessionId?: string | undefined;
  to?: string | undefined;
}) {
  return body.conversationId !== undefined
    ? body.sessionId === undefined && body.to === undefined
    : body.sessionId !== undefined && body.to !== undefined;
}
const TARGET_MESSAGE = 'give either conversationId, or sessionId and to';
function targetOf(body: {
  conversationId?: string | undefined;
  sessionId?: string | undefined;
  to?: string | undefined;
}): SendTarget {
  return body.conversationId !== undefined
    ? { conversationId: body.conversationId }
    : { sessionId: body.sessionId!, to: body.to!.replace(/^\+/, '') };
}

/** Mentions of a text send to a group conversation (services/groups.ts). */
const mentionsBody = z
  .array(participantPhoneSchema)
  .min(1)
  .max(MAX_MENTIONS)
  .optional()
  .describe(
    'Group conversations: phone numbers (E.164 digits) to mention; write `@<digits>` in the text where each goes.',
  );

const textSend = z
  .strictObject({
    ...target,
    type: z.literal('text').optional().describe('Optional for text: a body with `text` is a text send.'),
    text: z.string().min(1).max(4096),
    replyToMessageId: z.uuid().optional(),
    mentions: mentionsBody,
  })
  .refine(oneTarget, { message: TARGET_MESSAGE, path: ['conversationId'] });

const templateSend = z
  .strictObject({
    ...target,
    type: z.literal('template'),
    name: z
      .string()
      .regex(/^[a-z0-9_]{1,512}$/, 'must be a Meta template name (lowercase letters, digits, underscores)'),
    language: z
      .string()
      .regex(/^[a-z]{2,3}(_[A-Za-z]{2,4})?$/, 'must be a language code such as en or en_US'),
    components: z.array(templateComponentSchema).max(20).optional(),
  })
  .refine(oneTarget, { message: TARGET_MESSAGE, path: ['conversationId'] });

const interactiveSend = z
  .strictObject({
    ...target,
    type: z.literal('interactive'),
    // Checked in full by services/interactive.ts (Meta's limits, 422 invalid_content naming the field).
    interactive: z
      .looseObject({
        kind: z.enum(['button', 'list', 'cta_url']),
        body: z.string(),
        header: z.string().optional(),
        footer: z.string().optional(),
        buttons: z.array(z.looseObject({ id: z.string(), title: z.string() })).optional(),
        button: z.string().optional(),
        sections: z
          .array(
            z.looseObject({
              title: z.string().optional(),
              rows: z.array(
                z.looseObject({ id: z.string(), title: z.string(), description: z.string().optional() }),
              ),
            }),
          )
          .optional(),
        displayText: z.string().optional(),
        url: z.string().optional(),
      })
      .describe(
        "Reply buttons (up to 3, titles up to 20 characters), a list (up to 10 sections and 10 rows in all, row titles up to 24) or a CTA URL button; body up to 1024 characters. Cloud API sessions only (422 channel_unsupported otherwise). The customer's pick arrives as an `interactive_reply` message.",
      ),
    replyToMessageId: z.uuid().optional(),
  })
  .refine(oneTarget, { message: TARGET_MESSAGE, path: ['conversationId'] });

const pollSend = z
  .strictObject({
    ...target,
    type: z.literal('poll'),
    poll: z
      .looseObject({
        name: z.string(),
        options: z.array(z.string()),
        selectableCount: z.number().int().optional(),
      })
      .describe(
        'A poll: a question and 2 to 12 options; selectableCount 1 (default) for a single choice, 0 for any number. Baileys (WhatsApp Web) sessions only (422 channel_unsupported otherwise). Votes arrive as `poll_vote` messages.',
      ),
  })
  .refine(oneTarget, { message: TARGET_MESSAGE, path: ['conversationId'] });

/**
 * Sending: `POST /v1/messages` stores the message (`queued`) and enqueues the outbound job the
 * worker holding the session consumes (sending.ts). Text to any session; templates only through
 * Cloud API sessions (Meta's templates do not exist on WhatsApp Web). Media uploads are in media.ts.
 */
export const messageRoutes: FastifyPluginAsyncZod = async (app) => {
  const ctx = app.sb;

  app.post(
    '/',
    {
      config: { access: { role: 'agent', scope: 'send' } },
      schema: {
        summary:
          'Send a text, (Cloud API) template or interactive message, or a (Baileys) poll in a conversation (idempotent with Idempotency-Key)',
        tags: ['messages'],
        headers: idempotencyHeaders,
        body: z.union([textSend, templateSend, interactiveSend, pollSend]),
        response: {
          201: messageSchema,
          200: messageSchema,
          400: errorBody,
          404: errorBody,
          422: errorBody,
          503: errorBody,
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const result = await sendMessage(ctx, request, {
        target: targetOf(body),
        replyToMessageId:
          body.type === 'template' || body.type === 'poll' ? undefined : body.replyToMessageId,
        idempotencyKey: request.headers['idempotency-key'],
        requestFingerprint: createHash('sha256').update(JSON.stringify(body)).digest('hex'),
        columns: async (conversation, _messageId, tx): Promise<MessageColumns> => {
          if (body.type === 'template') return await templateMessageColumns(tx, conversation, body);
          if (body.type === 'interactive') return interactiveMessageColumns(conversation, body.interactive);
          if (body.type === 'poll') return pollMessageColumns(conversation, body.poll);
          return {
            type: 'text',
            body: body.text,
            ...(await mentionColumns(tx, conversation, body.mentions)),
          };
        },
      });
      return reply.status(result.replay ? 200 : 201).send(messageDto(result.row));
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
        response: { 200: messageSchema, 404: errorBody },
      },
    },
    async (request) => messageDto(await getMessage(ctx, request, request.params.id)),
  );
};
