/**
 * The emulator: a Fastify server that answers like graph.facebook.com for one WhatsApp Business
 * Account, delivers signed webhooks to a receiver, and exposes a control API (`/_emulator/...`)
 * to play the customer. State is in memory; one instance per test file.
 */
import { createHash, randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import {
  DEFAULT_RETRY,
  type DeliveryRecord,
  deliverWebhook,
  type HandshakeResult,
  type RetryPolicy,
  signatureHeader,
  verifyWebhookSubscription,
} from './webhooks.ts';
import {
  describeIssues,
  graphError,
  type SendRequest,
  type StatusEntry,
  sendRequestSchema,
  wamid,
  webhookEnvelope,
} from './wire.ts';

/** A business phone number the emulated account owns. */
export interface EmulatedPhoneNumber {
  /** Graph's phone number id (the path segment of sends). */
  id: string;
  /** The number customers write to, digits. */
  displayPhoneNumber: string;
  verifiedName?: string;
}

/** How statuses follow a business send. */
export type StatusMode =
  /** sent -> delivered -> read on their own, each after its delay. */
  | { mode: 'auto'; delaysMs?: { sent?: number; delivered?: number; read?: number } }
  /** Only when the control API says so. */
  | { mode: 'manual' };

/** Options of {@link createCloudApiEmulator}. */
export interface CloudApiEmulatorOptions {
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** The Bearer token sends must carry. */
  accessToken: string;
  /** The app secret webhooks are signed with. */
  appSecret: string;
  /** The receiver webhooks go to; none means webhooks are recorded but not sent. */
  webhookUrl?: string;
  /** The token the GET handshake presents. */
  verifyToken?: string;
  /** The WhatsApp Business Account id (`entry[].id`). */
  businessAccountId?: string;
  phoneNumbers?: EmulatedPhoneNumber[];
  statuses?: StatusMode;
  retry?: RetryPolicy;
  /** Recipients that are not on WhatsApp: sends to them are accepted, then fail with 131026. */
  unreachableNumbers?: string[];
}

/** One message the business sent, as the control API lists it. */
export interface BusinessMessage {
  id: string;
  phoneNumberId: string;
  to: string;
  type: SendRequest['type'];
  /** The request body as the business sent it. */
  request: SendRequest;
  /** Every status delivered so far, oldest first. */
  statuses: StatusEntry['status'][];
  timestamp: number;
}

/** A started emulator. */
export interface CloudApiEmulator {
  /** `http://127.0.0.1:<port>`: use it as the Graph base URL and for the control API. */
  readonly url: string;
  readonly server: FastifyInstance;
  /** Stops the server and pending status timers. */
  close(): Promise<void>;
  /** Runs the GET handshake against the configured (or given) receiver. */
  verifyWebhook(input?: { url?: string; verifyToken?: string; challenge?: string }): Promise<HandshakeResult>;
}

const DEFAULT_PHONE: EmulatedPhoneNumber = {
  id: '100000000000001',
  displayPhoneNumber: '15550000001',
  verifiedName: 'Switchboard Test',
};

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

/** Starts an emulator on loopback. */
export async function createCloudApiEmulator(options: CloudApiEmulatorOptions): Promise<CloudApiEmulator> {
  const phones = options.phoneNumbers?.length ? options.phoneNumbers : [DEFAULT_PHONE];
  const businessAccountId = options.businessAccountId ?? '200000000000001';
  const retry = options.retry ?? DEFAULT_RETRY;
  const statusMode: StatusMode = options.statuses ?? { mode: 'auto' };
  const unreachable = new Set((options.unreachableNumbers ?? []).map((n) => n.replace(/^\+/, '')));
  let webhookUrl = options.webhookUrl;

  const sent = new Map<string, BusinessMessage>();
  const media = new Map<
    string,
    { bytes: Buffer; mimeType: string; sha256: string; fileName?: string; uploadedBy?: string }
  >();
  const deliveries: DeliveryRecord[] = [];
  const failures: {
    remaining: number;
    code: number;
    subcode?: number;
    status?: number;
    message?: string;
    details: string;
  }[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const closing = new AbortController();
  let seq = 0;
  let baseUrl = '';

  const server = Fastify({ logger: false, bodyLimit: 32 * 1024 * 1024 });

  function phoneById(id: string) {
    return phones.find((p) => p.id === id);
  }

  async function deliver(
    phone: EmulatedPhoneNumber,
    value: Record<string, unknown>,
  ): Promise<DeliveryRecord> {
    const rawBody = JSON.stringify(
      webhookEnvelope(
        businessAccountId,
        { display_phone_number: phone.displayPhoneNumber, phone_number_id: phone.id },
        value,
      ),
    );
    return await deliverRaw(rawBody);
  }

  async function deliverRaw(rawBody: string): Promise<DeliveryRecord> {
    const record: DeliveryRecord = {
      seq: ++seq,
      url: webhookUrl ?? '',
      rawBody,
      signature: signatureHeader(rawBody, options.appSecret),
      attempts: [],
      delivered: false,
    };
    deliveries.push(record);
    if (!webhookUrl) return record;
    return await deliverWebhook({
      url: webhookUrl,
      rawBody,
      appSecret: options.appSecret,
      retry,
      record,
      signal: closing.signal,
    });
  }

  // Statuses of one message go out in order: each waits for the previous delivery.
  const statusChains = new Map<string, Promise<unknown>>();
  function pushStatus(
    message: BusinessMessage,
    status: StatusEntry['status'],
    error?: StatusEntry['errors'],
  ) {
    const phone = phoneById(message.phoneNumberId) ?? DEFAULT_PHONE;
    const entry: StatusEntry = {
      id: message.id,
      status,
      timestamp: String(Math.floor(Date.now() / 1000)),
      recipient_id: message.to,
      ...(error ? { errors: error } : {}),
    };
    message.statuses.push(status);
    const previous = statusChains.get(message.id) ?? Promise.resolve();
    const next = previous.then(() => deliver(phone, { statuses: [entry] }));
    statusChains.set(message.id, next);
    return next as Promise<DeliveryRecord>;
  }

  function schedule(ms: number, run: () => void) {
    const timer = setTimeout(() => {
      timers.delete(timer);
      run();
    }, ms);
    timers.add(timer);
  }

  function autoStatuses(message: BusinessMessage) {
    if (unreachable.has(message.to)) {
      schedule(0, () => {
        void pushStatus(message, 'failed', [
          {
            code: 131026,
            title: 'Message undeliverable',
            message: 'Message undeliverable',
            error_data: { details: 'Message Undeliverable.' },
          },
        ]);
      });
      return;
    }
    if (statusMode.mode !== 'auto') return;
    const d = { sent: 10, delivered: 20, read: 30, ...statusMode.delaysMs };
    schedule(d.sent, () => {
      void pushStatus(message, 'sent');
      schedule(d.delivered, () => {
        void pushStatus(message, 'delivered');
        schedule(d.read, () => void pushStatus(message, 'read'));
      });
    });
  }

  function replyGraphError(reply: FastifyReply, e: ReturnType<typeof graphError>) {
    return reply.code(e.status).send(e.body);
  }

  /** Graph checks the token before anything else. */
  function authorized(request: FastifyRequest, reply: FastifyReply): boolean {
    const header = request.headers.authorization;
    if (!header?.startsWith('Bearer ')) {
      void replyGraphError(
        reply,
        graphError(2500, 'An active access token must be used to query information about the current user.', {
          status: 400,
          message: 'An active access token must be used to query information about the current user.',
        }),
      );
      return false;
    }
    if (header.slice('Bearer '.length) !== options.accessToken) {
      void replyGraphError(
        reply,
        graphError(190, 'Invalid OAuth access token - Cannot parse access token', {
          message: 'Invalid OAuth access token - Cannot parse access token',
        }),
      );
      return false;
    }
    return true;
  }

  const versioned = z.string().regex(/^v\d+\.\d+$/);

  // --- Graph API -----------------------------------------------------------------------------

  server.post<{ Params: { version: string; phoneNumberId: string } }>(
    '/:version/:phoneNumberId/messages',
    async (request, reply) => {
      if (!versioned.safeParse(request.params.version).success)
        return replyGraphError(
          reply,
          graphError(100, `Unknown API version ${request.params.version}`, { status: 400 }),
        );
      if (!authorized(request, reply)) return reply;
      const phone = phoneById(request.params.phoneNumberId);
      if (!phone)
        return replyGraphError(
          reply,
          graphError(100, `Object with ID '${request.params.phoneNumberId}' does not exist`, {
            subcode: 33,
            message: `Unsupported post request. Object with ID '${request.params.phoneNumberId}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`,
          }),
        );
      const failure = failures[0];
      if (failure) {
        failure.remaining--;
        if (failure.remaining <= 0) failures.shift();
        return replyGraphError(
          reply,
          graphError(failure.code, failure.details, {
            ...(failure.subcode === undefined ? {} : { subcode: failure.subcode }),
            ...(failure.status === undefined ? {} : { status: failure.status }),
            ...(failure.message === undefined ? {} : { message: failure.message }),
          }),
        );
      }
      const parsed = sendRequestSchema.safeParse(request.body);
      if (!parsed.success) return replyGraphError(reply, graphError(100, describeIssues(parsed.error)));
      const body = parsed.data;
      for (const kind of ['image', 'document', 'audio', 'video', 'sticker'] as const) {
        const id = body[kind]?.id;
        if (body.type === kind && id !== undefined && !media.has(id))
          return replyGraphError(reply, graphError(131053, `${kind}.id: no media with id ${id}`));
      }
      const to = body.to.replace(/^\+/, '');
      const message: BusinessMessage = {
        id: wamid(),
        phoneNumberId: phone.id,
        to,
        type: body.type,
        request: body,
        statuses: [],
        timestamp: Date.now(),
      };
      sent.set(message.id, message);
      autoStatuses(message);
      return {
        messaging_product: 'whatsapp',
        contacts: [{ input: body.to, wa_id: to }],
        messages: [{ id: message.id, ...(body.type === 'template' ? { message_status: 'accepted' } : {}) }],
      };
    },
  );

  // Uploads are multipart/form-data, as Meta takes them; the route parses the raw body itself.
  server.addContentTypeParser(
    'multipart/form-data',
    { parseAs: 'buffer', bodyLimit: 110 * 1024 * 1024 },
    (_request, body, done) => done(null, body),
  );

  server.post<{ Params: { version: string; phoneNumberId: string } }>(
    '/:version/:phoneNumberId/media',
    async (request, reply) => {
      if (!versioned.safeParse(request.params.version).success)
        return replyGraphError(
          reply,
          graphError(100, `Unknown API version ${request.params.version}`, { status: 400 }),
        );
      if (!authorized(request, reply)) return reply;
      const phone = phoneById(request.params.phoneNumberId);
      if (!phone)
        return replyGraphError(
          reply,
          graphError(100, `Object with ID '${request.params.phoneNumberId}' does not exist`, { subcode: 33 }),
        );
      const contentType = request.headers['content-type'] ?? '';
      if (!contentType.startsWith('multipart/form-data') || !Buffer.isBuffer(request.body))
        return replyGraphError(reply, graphError(100, 'body: must be multipart/form-data'));
      let form: FormData;
      try {
        form = await new Response(request.body, { headers: { 'content-type': contentType } }).formData();
      } catch {
        return replyGraphError(reply, graphError(100, 'body: is not valid multipart/form-data'));
      }
      if (form.get('messaging_product') !== 'whatsapp')
        return replyGraphError(reply, graphError(100, "messaging_product: must be 'whatsapp'"));
      const file = form.get('file');
      if (!(file instanceof Blob))
        return replyGraphError(reply, graphError(100, 'file: is required (a file part)'));
      const type = form.get('type');
      const mimeType = (typeof type === 'string' && type) || file.type;
      if (!mimeType) return replyGraphError(reply, graphError(100, 'type: is required'));
      const bytes = Buffer.from(await file.arrayBuffer());
      if (bytes.length === 0) return replyGraphError(reply, graphError(131053, 'file: is empty'));
      const mediaId = String(BigInt(`0x${randomBytes(7).toString('hex')}`));
      media.set(mediaId, {
        bytes,
        mimeType,
        sha256: createHash('sha256').update(bytes).digest('hex'),
        uploadedBy: phone.id,
        ...(file instanceof File && file.name ? { fileName: file.name } : {}),
      });
      return { id: mediaId };
    },
  );

  server.get<{ Params: { version: string; id: string } }>('/:version/:id', async (request, reply) => {
    if (!versioned.safeParse(request.params.version).success) return reply.code(404).send();
    if (!authorized(request, reply)) return reply;
    const phone = phoneById(request.params.id);
    if (phone)
      return {
        verified_name: phone.verifiedName ?? 'Switchboard Test',
        display_phone_number: phone.displayPhoneNumber,
        id: phone.id,
        quality_rating: 'GREEN',
        code_verification_status: 'VERIFIED',
        platform_type: 'CLOUD_API',
        throughput: { level: 'STANDARD' },
      };
    const file = media.get(request.params.id);
    if (file)
      return {
        messaging_product: 'whatsapp',
        url: `${baseUrl}/whatsapp_business/attachments/?mid=${encodeURIComponent(request.params.id)}`,
        mime_type: file.mimeType,
        sha256: file.sha256,
        file_size: file.bytes.length,
        id: request.params.id,
      };
    return replyGraphError(
      reply,
      graphError(100, `Object with ID '${request.params.id}' does not exist`, {
        subcode: 33,
        message: `Unsupported get request. Object with ID '${request.params.id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`,
      }),
    );
  });

  // The media URL: like Meta's lookaside URL it needs the same Bearer token.
  server.get<{ Querystring: { mid?: string } }>('/whatsapp_business/attachments/', async (request, reply) => {
    if (!authorized(request, reply)) return reply;
    const file = request.query.mid ? media.get(request.query.mid) : undefined;
    if (!file) return reply.code(404).send();
    return reply.type(file.mimeType).send(file.bytes);
  });

  // --- control API ---------------------------------------------------------------------------

  function badControl(reply: FastifyReply, error: z.ZodError) {
    return reply.code(400).send({ error: describeIssues(error) });
  }

  server.post('/_emulator/customer/messages', async (request, reply) => {
    const parsed = customerMessageSchema.safeParse(request.body);
    if (!parsed.success) return badControl(reply, parsed.error);
    const input = parsed.data;
    const target = input.to?.replace(/^\+/, '');
    const phone = target ? phones.find((p) => p.id === target || p.displayPhoneNumber === target) : phones[0];
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
      const mediaId = String(BigInt(`0x${randomBytes(7).toString('hex')}`));
      const sha256 = createHash('sha256').update(bytes).digest();
      media.set(mediaId, { bytes, mimeType: input.media.mimeType, sha256: sha256.toString('hex') });
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
    const delivery = await deliver(phone, {
      contacts: [{ profile: { name: input.name ?? from }, wa_id: from }],
      messages: [message],
    });
    return { id, delivery: summary(delivery) };
  });

  server.get<{ Querystring: { to?: string } }>('/_emulator/sent', async (request) => {
    const to = request.query.to?.replace(/^\+/, '');
    return { messages: [...sent.values()].filter((m) => !to || m.to === to) };
  });

  server.post<{ Params: { id: string } }>('/_emulator/messages/:id/status', async (request, reply) => {
    const message = sent.get(request.params.id);
    if (!message) return reply.code(404).send({ error: `no business message ${request.params.id}` });
    const parsed = statusSchema.safeParse(request.body);
    if (!parsed.success) return badControl(reply, parsed.error);
    const { status, error } = parsed.data;
    const delivery = await pushStatus(
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
    return { delivery: summary(delivery) };
  });

  server.post<{ Params: { id: string } }>('/_emulator/messages/:id/read', async (request, reply) => {
    const message = sent.get(request.params.id);
    if (!message) return reply.code(404).send({ error: `no business message ${request.params.id}` });
    const delivery = await pushStatus(message, 'read');
    return { delivery: summary(delivery) };
  });

  server.post('/_emulator/failures', async (request, reply) => {
    const parsed = failureSchema.safeParse(request.body);
    if (!parsed.success) return badControl(reply, parsed.error);
    const f = parsed.data;
    failures.push({
      remaining: f.count,
      code: f.code,
      details: f.details,
      ...(f.subcode === undefined ? {} : { subcode: f.subcode }),
      ...(f.httpStatus === undefined ? {} : { status: f.httpStatus }),
      ...(f.message === undefined ? {} : { message: f.message }),
    });
    return { pending: failures.reduce((n, x) => n + x.remaining, 0) };
  });

  server.post('/_emulator/webhooks/raw', async (request, reply) => {
    const parsed = rawWebhookSchema.safeParse(request.body);
    if (!parsed.success) return badControl(reply, parsed.error);
    return { delivery: summary(await deliverRaw(JSON.stringify(parsed.data.payload))) };
  });

  server.put('/_emulator/webhook', async (request, reply) => {
    const parsed = webhookConfigSchema.safeParse(request.body);
    if (!parsed.success) return badControl(reply, parsed.error);
    webhookUrl = parsed.data.url ?? undefined;
    return { url: webhookUrl ?? null };
  });

  server.post('/_emulator/webhook/verify', async (_request, reply) => {
    if (!webhookUrl || options.verifyToken === undefined)
      return reply.code(409).send({ error: 'no webhook URL or verify token configured' });
    return await verifyWebhookSubscription({ url: webhookUrl, verifyToken: options.verifyToken });
  });

  server.get('/_emulator/deliveries', async () => ({ deliveries: deliveries.map(summary) }));

  // A file the business uploaded (or a customer sent), to check what a send carried.
  server.get<{ Params: { id: string } }>('/_emulator/media/:id', async (request, reply) => {
    const file = media.get(request.params.id);
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

  function summary(d: DeliveryRecord) {
    return { seq: d.seq, url: d.url, attempts: d.attempts, delivered: d.delivered };
  }

  const address = await server.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 });
  baseUrl = address.replace('[::1]', '127.0.0.1');

  return {
    url: baseUrl,
    server,
    async close() {
      closing.abort();
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await server.close();
    },
    async verifyWebhook(input = {}) {
      const url = input.url ?? webhookUrl;
      const verifyToken = input.verifyToken ?? options.verifyToken;
      if (!url || verifyToken === undefined)
        throw new Error('verifyWebhook: no webhook URL or verify token configured');
      return await verifyWebhookSubscription({
        url,
        verifyToken,
        ...(input.challenge ? { challenge: input.challenge } : {}),
      });
    },
  };
}
