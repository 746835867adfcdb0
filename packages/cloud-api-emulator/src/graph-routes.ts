/**
 * The Graph API routes the emulator answers like graph.facebook.com: sends, uploads, the phone
 * number and media lookups, and the media URL. Every route checks the Bearer token first, as
 * Graph does.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { answerReadRequest, isReadRequest } from './interactive.ts';
import type { BusinessMessage, EmulatedPhoneNumber, EmulatorState } from './state.ts';
import { describeIssues, graphError, newMediaId, sendRequestSchema, wamid } from './wire.ts';

const versioned = z.string().regex(/^v\d+\.\d+$/);

function replyGraphError(reply: FastifyReply, e: ReturnType<typeof graphError>) {
  return reply.code(e.status).send(e.body);
}

/** Registers the Graph routes on `server`; sends must carry `accessToken`. */
export function registerGraphRoutes(
  server: FastifyInstance,
  state: EmulatorState,
  accessToken: string,
): void {
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
    if (header.slice('Bearer '.length) !== accessToken) {
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

  /**
   * The checks every POST to `/{version}/{phone-number-id}/...` starts with: the version, the
   * token, a number of this account. Answers the error itself and returns undefined on failure.
   */
  function postTarget(
    request: FastifyRequest<{ Params: { version: string; phoneNumberId: string } }>,
    reply: FastifyReply,
  ): EmulatedPhoneNumber | undefined {
    const { version, phoneNumberId } = request.params;
    if (!versioned.safeParse(version).success) {
      void replyGraphError(reply, graphError(100, `Unknown API version ${version}`, { status: 400 }));
      return undefined;
    }
    if (!authorized(request, reply)) return undefined;
    const phone = state.phoneById(phoneNumberId);
    if (!phone)
      void replyGraphError(
        reply,
        graphError(100, `Object with ID '${phoneNumberId}' does not exist`, {
          subcode: 33,
          message: `Unsupported post request. Object with ID '${phoneNumberId}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`,
        }),
      );
    return phone;
  }

  server.post<{ Params: { version: string; phoneNumberId: string } }>(
    '/:version/:phoneNumberId/messages',
    async (request, reply) => {
      const phone = postTarget(request, reply);
      if (!phone) return reply;
      // Marking a customer's message read is a POST to the same route (interactive.ts).
      if (isReadRequest(request.body)) return answerReadRequest(state, phone.id, request.body, reply);
      const failure = state.failures[0];
      if (failure) {
        failure.remaining--;
        if (failure.remaining <= 0) state.failures.shift();
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
        if (body.type === kind && id !== undefined && !state.media.has(id))
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
      state.sent.set(message.id, message);
      state.autoStatuses(message);
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
      const phone = postTarget(request, reply);
      if (!phone) return reply;
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
      const mediaId = newMediaId();
      state.media.set(mediaId, {
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
    const phone = state.phoneById(request.params.id);
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
    const file = state.media.get(request.params.id);
    if (file)
      return {
        messaging_product: 'whatsapp',
        url: `${state.baseUrl}/whatsapp_business/attachments/?mid=${encodeURIComponent(request.params.id)}`,
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
    const file = request.query.mid ? state.media.get(request.query.mid) : undefined;
    if (!file) return reply.code(404).send();
    return reply.type(file.mimeType).send(file.bytes);
  });
}
