/**
 * Interactive messages and read receipts as Graph takes them: the `interactive` object of a send
 * (`type: button | list | cta_url`, validated with Meta's limits so an oversized title is a 100
 * naming the field, as Graph answers it), the mark-as-read request (`{status: "read",
 * message_id}` on the same `/messages` route), and the control routes that play the customer
 * picking a button or a row of a business's interactive message and read back which messages
 * the business marked read.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { deliverySummary, type EmulatorState } from './state.ts';
import { describeIssues, graphError, wamid } from './wire.ts';

/** The mark-as-read request (optionally with the typing indicator Meta shows while answering). */
export const readRequestSchema = z.strictObject({
  messaging_product: z.literal('whatsapp', { error: "must be 'whatsapp'" }),
  status: z.literal('read', { error: "must be 'read'" }),
  message_id: z.string().min(1),
  typing_indicator: z.strictObject({ type: z.literal('text') }).optional(),
});

/** Whether a `/messages` body is a mark-as-read request rather than a send. */
export function isReadRequest(body: unknown): boolean {
  return typeof body === 'object' && body !== null && 'status' in body;
}

/**
 * Answers a mark-as-read request: Graph's `{success: true}` for a message a customer sent to
 * `phoneNumberId`, recorded in `state.reads`; a 100 naming the parameter otherwise.
 */
export function answerReadRequest(
  state: EmulatorState,
  phoneNumberId: string,
  raw: unknown,
  reply: FastifyReply,
): FastifyReply | { success: true } {
  const parsed = readRequestSchema.safeParse(raw);
  if (!parsed.success) {
    const e = graphError(100, describeIssues(parsed.error));
    return reply.code(e.status).send(e.body);
  }
  const customer = state.customerMessages.get(parsed.data.message_id);
  if (!customer || customer.phoneNumberId !== phoneNumberId) {
    const e = graphError(100, `message_id: no message ${parsed.data.message_id} was received by this number`);
    return reply.code(e.status).send(e.body);
  }
  state.reads.push({ messageId: parsed.data.message_id, phoneNumberId, at: Date.now() });
  return { success: true };
}

const replySchema = z.strictObject({
  /** The customer's number; defaults to the business message's recipient. */
  from: z
    .string()
    .regex(/^\+?\d{5,15}$/)
    .optional(),
  /** The id of the button or row picked: one of the message's. */
  id: z.string().min(1),
  name: z.string().optional(),
});

/** Registers the control routes of interactive replies and read receipts. */
export function registerInteractiveControlRoutes(server: FastifyInstance, state: EmulatorState): void {
  // The customer taps a reply button or picks a list row of business message :id.
  server.post<{ Params: { id: string } }>(
    '/_emulator/messages/:id/interactive-reply',
    async (request, reply) => {
      const message = state.sent.get(request.params.id);
      if (!message) return reply.code(404).send({ error: `no business message ${request.params.id}` });
      const parsed = replySchema.safeParse(request.body);
      if (!parsed.success) return reply.code(400).send({ error: describeIssues(parsed.error) });
      const interactive = message.request.interactive;
      if (message.type !== 'interactive' || !interactive || interactive.type === 'cta_url')
        return reply.code(409).send({ error: 'the message has no reply buttons or list rows' });
      const picked =
        interactive.type === 'button'
          ? interactive.action.buttons.map((b) => b.reply).find((b) => b.id === parsed.data.id)
          : interactive.action.sections.flatMap((s) => s.rows).find((r) => r.id === parsed.data.id);
      if (!picked)
        return reply.code(400).send({ error: `id: the message has no button or row ${parsed.data.id}` });
      const phone = state.phoneById(message.phoneNumberId);
      if (!phone) return reply.code(404).send({ error: 'the business number is gone' });
      const from = parsed.data.from?.replace(/^\+/, '') ?? message.to;
      const id = wamid();
      state.customerMessages.set(id, { from, phoneNumberId: phone.id });
      const answer =
        interactive.type === 'button'
          ? { type: 'button_reply', button_reply: { id: picked.id, title: picked.title } }
          : { type: 'list_reply', list_reply: picked };
      const delivery = await state.deliver(phone, {
        contacts: [{ profile: { name: parsed.data.name ?? from }, wa_id: from }],
        messages: [
          {
            from,
            id,
            timestamp: String(Math.floor(Date.now() / 1000)),
            type: 'interactive',
            context: { from: phone.displayPhoneNumber, id: message.id },
            interactive: answer,
          },
        ],
      });
      return { id, delivery: deliverySummary(delivery) };
    },
  );

  // Which customer messages the business marked read, in order.
  server.get<{ Querystring: { messageId?: string } }>('/_emulator/reads', async (request) => ({
    reads: state.reads.filter((r) => !request.query.messageId || r.messageId === request.query.messageId),
  }));
}
