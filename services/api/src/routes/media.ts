import multipart from '@fastify/multipart';
import type { MediaStorage } from '@switchboard/messaging/producer';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { messageDto, messageSchema } from '../dto.ts';
import { ApiError } from '../errors.ts';
import { errorBody, idempotencyHeaders, idParams } from '../schemas.ts';
import { openMessageMedia, type StoredUpload, sendStoredUpload, storeUpload } from '../services/media.ts';

/** Options of the media routes: where files go, how large and which types. */
export interface MediaRoutesOptions {
  storage: MediaStorage;
  /** Largest upload, bytes. */
  maxBytes: number;
  /** Types an upload may declare (each must also have a known signature: media-types.ts). */
  allowedTypes: readonly string[];
}

/** The non-file fields of an upload. */
const uploadFields = z.strictObject({
  conversationId: z.uuid(),
  caption: z.string().min(1).max(1024).optional(),
  replyToMessageId: z.uuid().optional(),
});

/** The fields of an upload, or a 400 naming each invalid one. */
function parseFields(fields: Record<string, string>): z.infer<typeof uploadFields> {
  const parsed = uploadFields.safeParse(fields);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => ({
    path: ['body', ...i.path, ...((i as { keys?: string[] }).keys ?? [])].join('.'),
    message: i.message,
  }));
  throw new ApiError(
    'validation_failed',
    `invalid request: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
    { issues },
  );
}

/** Images the browser may show inline; everything else downloads (never rendered as a page here). */
const INLINE_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);

/** A file name safe to store and to put in Content-Disposition: its last segment, printable, bounded. */
function safeFileName(name: string | undefined): string | null {
  const base = (name ?? '').split(/[\\/]/).pop() ?? '';
  const clean = [...base]
    .filter((c) => c.charCodeAt(0) >= 0x20 && c.charCodeAt(0) !== 0x7f && c !== '"')
    .join('')
    .trim()
    .slice(0, 240);
  return clean === '' || clean === '.' || clean === '..' ? null : clean;
}

function contentDisposition(kind: 'inline' | 'attachment', name: string | null): string {
  if (!name) return kind;
  const ascii = name.replace(/[^\x20-\x7e]/g, '_');
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

/**
 * Media: `POST /v1/messages/media` uploads a file and sends it (multipart/form-data: the fields
 * of a send, then one part named `file`), idempotent with Idempotency-Key like a text send;
 * `GET /v1/messages/:id/media` streams a message's stored file.
 */
export const mediaRoutes: FastifyPluginAsyncZod<MediaRoutesOptions> = async (app, options) => {
  const ctx = app.sb;
  await app.register(multipart, {
    limits: { fileSize: options.maxBytes, files: 1, fields: 10, fieldSize: 8 * 1024, parts: 12 },
  });

  app.post(
    '/media',
    {
      config: { access: { role: 'agent', scope: 'send' } },
      // The file is limited by multipart's fileSize; the request may carry the fields too.
      bodyLimit: options.maxBytes + 1024 * 1024,
      schema: {
        summary:
          'Upload a file and send it (multipart/form-data: conversationId, caption?, replyToMessageId?, then file)',
        tags: ['messages'],
        consumes: ['multipart/form-data'],
        headers: idempotencyHeaders,
        response: {
          201: messageSchema,
          200: messageSchema,
          400: errorBody,
          404: errorBody,
          413: errorBody,
          415: errorBody,
          422: errorBody,
        },
      },
    },
    async (request, reply) => {
      if (!request.isMultipart()) {
        throw new ApiError(
          'unsupported_media_type',
          'send multipart/form-data: the fields conversationId, caption?, replyToMessageId?, then a part named file',
        );
      }
      const fields: Record<string, string> = {};
      let upload:
        | { body: z.infer<typeof uploadFields>; type: string; name: string | null; stored: StoredUpload }
        | undefined;
      try {
        for await (const part of request.parts()) {
          if (part.type !== 'file') {
            fields[part.fieldname] = String(part.value);
            continue;
          }
          if (part.fieldname !== 'file') {
            throw new ApiError(
              'validation_failed',
              `body.${part.fieldname}: the file part must be named file`,
            );
          }
          // Everything that can refuse the request without its file is checked before the file
          // is read: the fields (which come first), then the declared type.
          const body = parseFields(fields);
          const type = part.mimetype.split(';')[0]!.trim().toLowerCase();
          if (!options.allowedTypes.includes(type)) {
            throw new ApiError(
              'unsupported_media_type',
              `body.file: type ${type} is not accepted; accepted: ${options.allowedTypes.join(', ')}`,
            );
          }
          // Streamed into storage (413 past maxBytes, 422 when its first bytes are not `type`).
          const stored = await storeUpload(options.storage, request.principal.tenantId, part.file, type);
          upload = { body, type, name: safeFileName(part.filename), stored };
        }
      } catch (error) {
        if (upload) await options.storage.delete(upload.stored.key).catch(() => {});
        // A body busboy cannot read (no boundary, cut short) is the client's error; our own
        // answers and multipart's 4xx (413 past the file limit) pass as they are.
        if (error instanceof ApiError) throw error;
        const status = (error as { statusCode?: number }).statusCode;
        if (status !== undefined && status < 500) throw error;
        throw new ApiError(
          'validation_failed',
          `body: not readable multipart/form-data (${error instanceof Error ? error.message : 'malformed'})`,
        );
      }
      if (!upload) {
        parseFields(fields);
        throw new ApiError('validation_failed', 'body.file: a non-empty file part named file is required', {
          issues: [{ path: 'body.file', message: 'required' }],
        });
      }
      const result = await sendStoredUpload(ctx, request, options.storage, {
        conversationId: upload.body.conversationId,
        caption: upload.body.caption,
        replyToMessageId: upload.body.replyToMessageId,
        idempotencyKey: request.headers['idempotency-key'],
        type: upload.type,
        fileName: upload.name,
        stored: upload.stored,
      });
      return reply.status(result.replay ? 200 : 201).send(messageDto(result.row));
    },
  );

  app.get(
    '/:id/media',
    {
      config: { access: { role: 'viewer', scope: 'read' } },
      schema: {
        summary: "Download a message's stored media",
        tags: ['messages'],
        params: idParams,
        response: {
          200: {
            description: 'The file, with the Content-Type it was stored with.',
            content: { '*/*': { schema: z.unknown() } },
          },
          404: errorBody,
        },
      },
    },
    async (request, reply) => {
      const { row, stream } = await openMessageMedia(ctx, request, options.storage, request.params.id);
      const type = row.mediaMimeType ?? 'application/octet-stream';
      return (
        reply
          .header('content-type', type)
          .header('x-content-type-options', 'nosniff')
          .header(
            'content-disposition',
            contentDisposition(INLINE_TYPES.has(type) ? 'inline' : 'attachment', row.mediaFileName),
          )
          // A stored file is never a page of this origin, even if it claims to be one.
          .header('content-security-policy', "default-src 'none'; sandbox")
          .header('cache-control', 'private, max-age=3600')
          .send(stream)
      );
    },
  );
};
