/**
 * The control API (`/_emulator/...`, no auth): play the customer, move statuses, inject Graph
 * failures, change or check the webhook receiver, and read back what happened.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { deliverySummary, type EmulatorState } from './state.ts';
import { verifyWebhookSubscription } from './webhooks.ts';
import { describeIssues, newMediaId, wamid } from './wire.ts';

const digits = z.string().regex(/^\+?\d{5,15}$/, { error: 'must be a phone number (digits, optional +)' });
const customerMessageSchema = z.strictObject({
  /** The customer's number. */
  from: digits,
  /** A business display number or phone number id; defaults to the first. */
  to: z.string().optional(),
  name: z.string().optional(),
  /** The wamid to use; generated when absent. */
  id: z.string().min(1).optional(),
  type: z.enum(['text', 'image', 'video', 'audio', 'document', 'sticker']).default('text'),
  text: z.string().min(1).optional(),
  media: z
    .strictObject({
      mimeType: z.string().min(1),
      dataBase64: z.string().min(1),
      caption: z.string().optional(),
      filename: z.string().optional(),
    })
    .optional(),
  /** The message this one replies to (context). */
  replyTo: z.string().min(1).optional(),
  /** Extra raw message fields merged in (to emulate payload variants). */
  raw: z.record(z.string(), z.unknown()).optional(),
});
const statusSchema = z.strictObject({
  status: z.enum(['sent', 'delivered', 'read', 'failed']),
  error: z
    .strictObject({ code: z.number().int(), title: z.string(), details: z.string().optional() })
    .optional(),
});
const failureSchema = z.strictObject({
  count: z.number().int().min(1).default(1),
  code: z.number().int(),
  subcode: z.number().int().optional(),
  httpStatus: z.number().int().min(400).max(599).optional(),
  message: z.string().optional(),
  details: z.string().default('injected by the emulator'),
});
const rawWebhookSchema = z.strictObject({ payload: z.record(z.string(), z.unknown()) });
const webhookConfigSchema = z.strictObject({ url: z.url().nullable() });

function badControl(reply: FastifyReply, error: z.ZodError) {
  return reply.code(400).send({ error: describeIssues(error) });
}

/** Registers the control routes on `server`; the handshake presents `verifyToken`. */
export function registerControlRoutes(
  server: FastifyInstance,
  state: EmulatorState,
  verifyToken: string | undefined,
): void {
  server.post('/_emulator/customer/messages', async (request, reply) => {
    const parsed = customerMessageSchema.safeParse(request.body);
    if (!parsed.success) return badControl(reply, parsed.error);
    const input = parsed.data;
    const target = input.to?.replace(/^\+/, '');
    const phone = target
      ? state.phones.find((p) => p.id === target || p.displayPhoneNumber === target)
      : state.phones[0];
    if (!phone) return reply.code(404).send({ error: `to: no business number ${input.to}` });
    const from = input.from.replace(/^\+/, '');
    const id = input.id ?? wamid();
    const message: Record<string, unknown> = {
      from,
      id,
      timestamp: String(Math.floor(Date.now() / 1000)),
      type: input.type,
    };
    if (input.replyTo) message.context = { from: phone.displayPhoneNumber, id: input.replyTo };
    if (input.type === 'text') {
      if (!input.text) return reply.code(400).send({ error: 'text: is required for a text message' });
      message.text = { body: input.text };
    } else {
      if (!input.media)
        return reply.code(400).send({ error: `media: is required for a ${input.type} message` });
      const bytes = Buffer.from(input.media.dataBase64, 'base64');
      const mediaId = newMediaId();
      const sha256 = createHash('sha256').update(bytes).digest();
      state.media.set(mediaId, { bytes, mimeType: input.media.mimeType, sha256: sha256.toString('hex') });
      message[input.type] = {
        id: mediaId,
        mime_type: input.media.mimeType,
        // Webhooks carry the hash base64-encoded; the media URL endpoint answers it in hex.
        sha256: sha256.toString('base64'),
        ...(input.media.caption ? { caption: input.media.caption } : {}),
        ...(input.type === 'document' && input.media.filename ? { filename: input.media.filename } : {}),
        ...(input.type === 'audio' ? { voice: false } : {}),
        ...(input.type === 'sticker' ? { animated: false } : {}),
      };
    }
    Object.assign(message, input.raw);
    state.customerMessages.set(id, { from, phoneNumberId: phone.id });
    const delivery = await state.deliver(phone, {
      contacts: [{ profile: { name: input.name ?? from }, wa_id: from }],
      messages: [message],
    });
    return { id, delivery: deliverySummary(delivery) };
  });

  server.get<{ Querystring: { to?: string } }>('/_emulator/sent', async (request) => {
    const to = request.query.to?.replace(/^\+/, '');
    return { messages: [...state.sent.values()].filter((m) => !to || m.to === to) };
  });

  server.post<{ Params: { id: string } }>('/_emulator/messages/:id/status', async (request, reply) => {
    const message = state.sent.get(request.params.id);
    if (!message) return reply.code(404).send({ error: `no business message ${request.params.id}` });
    const parsed = statusSchema.safeParse(request.body);
    if (!parsed.success) return badControl(reply, parsed.error);
    const { status, error } = parsed.data;
    const delivery = await state.pushStatus(
      message,
      status,
      error
        ? [
            {
              code: error.code,
              title: error.title,
              message: error.title,
              error_data: { details: error.details ?? error.title },
            },
          ]
        : undefined,
    );
    return { delivery: deliverySummary(delivery) };
  });

  server.post<{ Params: { id: string } }>('/_emulator/messages/:id/read', async (request, reply) => {
    const message = state.sent.get(request.params.id);
    if (!message) return reply.code(404).send({ error: `no business message ${request.params.id}` });
    const delivery = await state.pushStatus(message, 'read');
    return { delivery: deliverySummary(delivery) };
  });

  server.post('/_emulator/failures', async (request, reply) => {
    const parsed = failureSchema.safeParse(request.body);
    if (!parsed.success) return badControl(reply, parsed.error);
    const f = parsed.data;
    state.failures.push({
      remaining: f.count,
      code: f.code,
      details: f.details,
      ...(f.subcode === undefined ? {} : { subcode: f.subcode }),
      ...(f.httpStatus === undefined ? {} : { status: f.httpStatus }),
      ...(f.message === undefined ? {} : { message: f.message }),
    });
    return { pending: state.failures.reduce((n, x) => n + x.remaining, 0) };
  });

  server.post('/_emulator/webhooks/raw', async (request, reply) => {
    const parsed = rawWebhookSchema.safeParse(request.body);
    if (!parsed.success) return badControl(reply, parsed.error);
    return { delivery: deliverySummary(await state.deliverRaw(JSON.stringify(parsed.data.payload))) };
  });

  server.put('/_emulator/webhook', async (request, reply) => {
    const parsed = webhookConfigSchema.safeParse(request.body);
    if (!parsed.success) return badControl(reply, parsed.error);
    state.webhookUrl = parsed.data.url ?? undefined;
    return { url: state.webhookUrl ?? null };
  });

  server.post('/_emulator/webhook/verify', async (_request, reply) => {
    if (!state.webhookUrl || verifyToken === undefined)
      return reply.code(409).send({ error: 'no webhook URL or verify token configured' });
    return await verifyWebhookSubscription({ url: state.webhookUrl, verifyToken });
  });

  server.get('/_emulator/deliveries', async () => ({ deliveries: state.deliveries.map(deliverySummary) }));

  // A file the business uploaded (or a customer sent), to check what a send carried.
  server.get<{ Params: { id: string } }>('/_emulator/media/:id', async (request, reply) => {
    const file = state.media.get(request.params.id);
    if (!file) return reply.code(404).send({ error: `no media ${request.params.id}` });
    return {
      id: request.params.id,
      mimeType: file.mimeType,
      sha256: file.sha256,
      size: file.bytes.length,
      dataBase64: file.bytes.toString('base64'),
      ...(file.fileName ? { fileName: file.fileName } : {}),
      ...(file.uploadedBy ? { uploadedBy: file.uploadedBy } : {}),
    };
  });
}
