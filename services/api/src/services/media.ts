// Media uploads and downloads: the file streams between the request and the store, and the store
// is written outside the database transaction.
import { createHash, randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Message } from '@switchboard/db';
import type { MediaStorage } from '@switchboard/messaging/producer';
import type { FastifyRequest } from 'fastify';
import { type ApiContext, tenantTx } from '../context.ts';
import { ApiError } from '../errors.ts';
import { matchesSignature, messageTypeFor } from '../media-types.ts';
import { fingerprint, type SendResult, sendMessage } from '../sending.ts';
import { getMessage } from './messages.ts';

/** Bytes of a binary file's head its signature is checked on (the longest signature is 12). */
const HEAD_BYTES = 64;

/** An upload's file part as it arrives: busboy's stream, cut at the size limit. */
export interface UploadStream extends AsyncIterable<Uint8Array> {
  /** Set by busboy once the file went past the multipart `fileSize` limit (it stops there). */
  readonly truncated?: boolean;
}

/** A file stored by {@link storeUpload}. */
export interface StoredUpload {
  key: string;
  sizeBytes: number;
  sha256: string;
}

/**
 * The key an outbound upload is stored under: unique per upload (not per message), because the
 * object is written before the row exists. An object under `tenants/<tenant>/outbound/` that no
 * message row names is an orphan of an upload whose row was never committed (a crash between
 * the two writes; every failure the API sees removes its object): safe to delete an hour after it
 * was written, by hand or by a bucket lifecycle rule on that prefix that checks the rows first.
 */
function uploadKey(tenantId: string): string {
  return `tenants/${tenantId}/outbound/${randomUUID()}`;
}

/**
 * Checks a file's content against its declared type as it streams, and passes the bytes on: a
 * binary file's first {@link HEAD_BYTES} are held back until its signature is checked (so a file
 * of the wrong type is refused before anything reaches the store); text/plain is decoded chunk by
 * chunk (UTF-8 sequences may span chunks) and every chunk must be text. Also counts and hashes.
 */
async function* checkedUpload(
  file: UploadStream,
  type: string,
  result: { sizeBytes: number; sha256: string },
): AsyncGenerator<Uint8Array> {
  const mismatch = () =>
    new ApiError(
      'media_type_mismatch',
      `body.file: the file's content is not ${type} (its first bytes do not match that format)`,
    );
  const tooLarge = () => new ApiError('payload_too_large', 'body.file: the file is larger than the limit');
  const hash = createHash('sha256');
  const text = type === 'text/plain' ? new TextDecoder('utf-8', { fatal: true }) : undefined;
  const isText = (chunk: Uint8Array, stream: boolean) => {
    let decoded: string;
    try {
      decoded = text!.decode(chunk, { stream });
    } catch {
      return false;
    }
    return decoded === '' || matchesSignature(type, Buffer.from(decoded));
  };
  let size = 0;
  let head: Uint8Array[] | undefined = text ? undefined : [];
  const checkHead = (parts: Uint8Array[]) => {
    if (!matchesSignature(type, Buffer.concat(parts, Math.min(size, HEAD_BYTES)))) throw mismatch();
  };
  for await (const chunk of file) {
    if (file.truncated) throw tooLarge();
    size += chunk.byteLength;
    hash.update(chunk);
    if (text) {
      if (!isText(chunk, true)) throw mismatch();
      yield chunk;
      continue;
    }
    if (head) {
      head.push(chunk);
      if (size < HEAD_BYTES) continue;
      checkHead(head);
      const release = head;
      head = undefined;
      yield* release;
      continue;
    }
    yield chunk;
  }
  if (file.truncated) throw tooLarge();
  if (size === 0)
    throw new ApiError('validation_failed', 'body.file: a non-empty file part named file is required', {
      issues: [{ path: 'body.file', message: 'required' }],
    });
  if (text && !isText(new Uint8Array(0), false)) throw mismatch();
  if (head) {
    checkHead(head);
    yield* head;
  }
  result.sizeBytes = size;
  result.sha256 = hash.digest('hex');
}

/**
 * Streams an upload into storage under a fresh key (never held whole in memory), checking its
 * content against `type` and its size on the way; a failed check fails the put, so nothing is
 * stored. `type` must already be one the tenant accepts.
 */
export async function storeUpload(
  storage: MediaStorage,
  tenantId: string,
  file: UploadStream,
  type: string,
): Promise<StoredUpload> {
  const key = uploadKey(tenantId);
  const result = { sizeBytes: 0, sha256: '' };
  await storage.put(key, checkedUpload(file, type, result), type);
  return { key, ...result };
}

/** What {@link sendStoredUpload} sends. */
export interface StoredUploadSend {
  conversationId: string;
  caption?: string | undefined;
  replyToMessageId?: string | undefined;
  idempotencyKey: string;
  type: string;
  fileName: string | null;
  stored: StoredUpload;
}

/**
 * Sends a stored upload: the message row names the object written before it. The object is
 * removed again when no row came to name it: a refused send (unknown conversation, a key bound to
 * another request), a failed transaction, or a replay of the same key (whose row names the object
 * of its first request). A send whose row was committed but not queued (503) keeps it.
 */
export async function sendStoredUpload(
  ctx: ApiContext,
  request: FastifyRequest,
  storage: MediaStorage,
  send: StoredUploadSend,
): Promise<SendResult> {
  const { stored } = send;
  let messageId: string | undefined;
  let result: SendResult;
  try {
    result = await sendMessage(ctx, request, {
      target: { conversationId: send.conversationId },
      replyToMessageId: send.replyToMessageId,
      idempotencyKey: send.idempotencyKey,
      requestFingerprint: fingerprint(
        JSON.stringify([send.conversationId, send.caption ?? null, send.replyToMessageId ?? null]),
        send.type,
        send.fileName ?? '',
        stored.sha256,
      ),
      columns: (_conversation, id) => {
        messageId = id;
        return {
          type: messageTypeFor(send.type),
          body: send.caption ?? null,
          mediaStorageKey: stored.key,
          mediaMimeType: send.type,
          mediaSizeBytes: BigInt(stored.sizeBytes),
          mediaSha256: stored.sha256,
          mediaFileName: send.fileName,
        };
      },
    });
  } catch (error) {
    // The columns ran with this id; whether its row exists says if the transaction committed.
    const id = messageId;
    const committed =
      id !== undefined &&
      (await tenantTx(ctx, request, (tx) => tx.message.findUnique({ where: { id }, select: { id: true } }))
        .then((row) => row !== null)
        // Unknown: keep the object (an orphan at worst) rather than break a committed row.
        .catch(() => true));
    if (!committed) await removeUnreferenced(storage, stored.key, request);
    throw error;
  }
  if (result.replay) await removeUnreferenced(storage, stored.key, request);
  return result;
}

async function removeUnreferenced(
  storage: MediaStorage,
  key: string,
  request: FastifyRequest,
): Promise<void> {
  await storage.delete(key).catch((error: unknown) => {
    // Left as an orphan (see uploadKey); the request's own outcome is what the client needs.
    request.log.warn({ err: error, key }, 'could not remove an upload no message names');
  });
}

/** A message's stored file, opened as a stream, with its row. */
export async function openMessageMedia(
  ctx: ApiContext,
  request: FastifyRequest,
  storage: MediaStorage,
  id: string,
): Promise<{ row: Message; stream: Readable }> {
  const row = await getMessage(ctx, request, id);
  if (!row.mediaStorageKey)
    throw new ApiError('not_found', 'the message has no stored media (none, or not fetched yet)');
  const stream = await storage.open(row.mediaStorageKey);
  if (!stream) throw new ApiError('not_found', 'the media of this message is not in storage');
  return { row, stream };
}
