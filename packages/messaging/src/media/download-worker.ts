import { createHash } from 'node:crypto';
import { isUnrecoverable } from '@switchboard/channels';
import { type Db, withTenant } from '@switchboard/db';
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { mediaDownloadJobSchema, publishRealtimeEvent, QUEUE_NAMES, queuePrefix } from '../contracts.ts';
import { REALTIME_MESSAGE_COLUMNS, realtimeMessageOf } from '../realtime-message.ts';
import { DEFAULT_ALLOWED_MEDIA_TYPES } from './allowed-types.ts';
import type { MediaStorage } from './storage.ts';

/** What the provider needs to fetch a file (messages.media_provider_ref). */
export const mediaProviderRefSchema = z.strictObject({
  provider: z.enum(['baileys', 'cloud-api']),
  data: z.string().min(1),
});
export type MediaProviderRef = z.infer<typeof mediaProviderRefSchema>;

/**
 * Fetches a file from the provider as a stream of chunks (the channels' `baileysMediaFetcher`,
 * `cloudApiMediaFetcher`); `context` says whose it is (the Cloud API needs the session's token).
 * A ChannelError marked unrecoverable fails the job for good; anything else is retried.
 */
export type MediaFetcher = (
  ref: MediaProviderRef,
  signal: AbortSignal,
  context: { sessionId: string; messageId: string },
) => Promise<AsyncIterable<Uint8Array>>;

/** The first bytes a file of the type must start with. */
const MAGIC: Record<string, (head: Uint8Array) => boolean> = {
  'image/jpeg': (h) => h[0] === 0xff && h[1] === 0xd8 && h[2] === 0xff,
  'image/png': (h) =>
    Buffer.from(h.subarray(0, 8)).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])),
  'image/gif': (h) => Buffer.from(h.subarray(0, 4)).toString('latin1') === 'GIF8',
  'image/webp': (h) =>
    Buffer.from(h.subarray(0, 4)).toString('latin1') === 'RIFF' &&
    Buffer.from(h.subarray(8, 12)).toString('latin1') === 'WEBP',
  'application/pdf': (h) => Buffer.from(h.subarray(0, 5)).toString('latin1') === '%PDF-',
};

/** Options for {@link MediaDownloadWorker}. */
export interface MediaDownloadWorkerOptions {
  db: Db;
  connection: Redis;
  keyPrefix: string;
  /** Where files go; undefined (MEDIA_STORAGE=none) completes every job without downloading. */
  storage: MediaStorage | undefined;
  fetchMedia: MediaFetcher;
  /** Publish `message.updated` on the tenant's realtime stream once a file is stored (default true). */
  publishRealtime?: boolean;
  onError?: (error: unknown, context: { jobId?: string; what: string }) => void;
  /** Largest file accepted (default 64 MiB); larger ones fail for good. */
  maxBytes?: number;
  allowedTypes?: string[];
  timeoutMs?: number;
  concurrency?: number;
}

/** Why a download failed for good. */
export class MediaRejectedError extends UnrecoverableError {
  constructor(message: string) {
    super(message);
    this.name = 'MediaRejectedError';
  }
}

/** The bytes of a file's head that {@link MAGIC} looks at. */
const HEAD_BYTES = 16;

/** What {@link checkedMedia} checks, and where it reports what it saw. */
interface CheckedMediaOptions {
  messageId: string;
  contentType: string;
  maxBytes: number;
  /** The SHA-256 (hex, lower case) the message declared, if any. */
  declaredSha256: string | undefined;
  /** Filled in once the stream has ended and passed every check. */
  received: { sizeBytes: number; sha256: string };
  /** Called when the file goes past `maxBytes` (stops the download). */
  onOverLimit: () => void;
}

/**
 * Passes a download's chunks on as they come, checking on the way: the first bytes against the
 * type's signature (held back until {@link HEAD_BYTES} have arrived, so a wrong file is refused
 * before anything is stored), the running size against the limit, and at the end the SHA-256
 * against the declared one. Each failed check throws, which fails the storage's put.
 */
async function* checkedMedia(
  stream: AsyncIterable<Uint8Array>,
  options: CheckedMediaOptions,
): AsyncGenerator<Uint8Array> {
  const { messageId, contentType, maxBytes } = options;
  const magic = MAGIC[contentType];
  const hash = createHash('sha256');
  let size = 0;
  // The first chunks, until HEAD_BYTES have arrived and the signature is checked; then undefined.
  let head: Uint8Array[] | undefined = [];
  let headBytes = 0;
  const checkHead = (parts: Uint8Array[]) => {
    const bytes = Buffer.concat(parts, Math.min(headBytes, HEAD_BYTES));
    if (magic && !magic(bytes))
      throw new MediaRejectedError(`media of message ${messageId} is not a ${contentType} file`);
  };
  for await (const chunk of stream) {
    size += chunk.byteLength;
    if (size > maxBytes) {
      options.onOverLimit();
      throw new MediaRejectedError(`media of message ${messageId} is over ${maxBytes} bytes`);
    }
    hash.update(chunk);
    if (head) {
      head.push(chunk);
      headBytes += chunk.byteLength;
      if (headBytes < HEAD_BYTES) continue;
      checkHead(head);
      const release = head;
      head = undefined;
      yield* release;
      continue;
    }
    yield chunk;
  }
  if (head) {
    // A file shorter than HEAD_BYTES.
    checkHead(head);
    yield* head;
  }
  const sha256 = hash.digest('hex');
  if (options.declaredSha256 && options.declaredSha256 !== sha256)
    throw new MediaRejectedError(`media of message ${messageId} does not match its declared SHA-256`);
  options.received.sizeBytes = size;
  options.received.sha256 = sha256;
}

/**
 * Downloads inbound media into storage as a stream: checks the declared type against the
 * allowlist before fetching, then, as the bytes go to storage, that the first bytes match the
 * type (for the types that have a signature), that the file stays within the size limit, and at
 * its end its SHA-256 when the sender declared one; a failed check leaves nothing stored. The
 * file goes under `media/<session>/<message>`; the key, size and hash are then recorded on the
 * message.
 */
export class MediaDownloadWorker {
  private readonly options: MediaDownloadWorkerOptions;
  private worker: Worker | undefined;

  constructor(options: MediaDownloadWorkerOptions) {
    this.options = options;
  }

  async start(): Promise<void> {
    if (this.worker) return;
    this.worker = new Worker(QUEUE_NAMES.mediaDownloads, async (job) => await this.process(job), {
      connection: this.options.connection,
      prefix: queuePrefix(this.options.keyPrefix),
      concurrency: this.options.concurrency ?? 4,
    });
    this.worker.on('error', (error) => this.options.onError?.(error, { what: 'media download consumer' }));
    this.worker.on('failed', (job, error) =>
      this.options.onError?.(error, { ...(job?.id ? { jobId: job.id } : {}), what: 'media download' }),
    );
    await this.worker.waitUntilReady();
  }

  async close(): Promise<void> {
    await this.worker?.close();
    this.worker = undefined;
  }

  /** Downloads one message's media (the Worker's processor). */
  async process(job: Job): Promise<'stored' | 'already-stored' | 'no-storage'> {
    const parsed = mediaDownloadJobSchema.safeParse(job.data);
    if (!parsed.success)
      throw new UnrecoverableError(`media job ${job.id} is malformed: ${parsed.error.message}`);
    const { tenantId, messageId, sessionId } = parsed.data;
    const { db } = this.options;
    const message = await withTenant(db, tenantId, (tx) =>
      tx.message.findUnique({ where: { id: messageId } }),
    );
    if (!message) throw new UnrecoverableError(`message ${messageId} does not exist`);
    if (message.mediaStorageKey) return 'already-stored';
    const storage = this.options.storage;
    if (!storage) return 'no-storage';
    const ref = mediaProviderRefSchema.safeParse(message.mediaProviderRef);
    if (!ref.success) throw new UnrecoverableError(`message ${messageId} has no valid media reference`);
    const contentType = (message.mediaMimeType ?? '').split(';')[0]!.trim().toLowerCase();
    const allowed = this.options.allowedTypes ?? DEFAULT_ALLOWED_MEDIA_TYPES;
    if (!allowed.includes(contentType))
      throw new MediaRejectedError(
        `media type ${JSON.stringify(contentType)} of message ${messageId} is not allowed`,
      );
    const maxBytes = this.options.maxBytes ?? 64 * 1024 * 1024;
    if (message.mediaSizeBytes !== null && message.mediaSizeBytes > BigInt(maxBytes))
      throw new MediaRejectedError(
        `media of message ${messageId} is declared ${message.mediaSizeBytes} bytes, over ${maxBytes}`,
      );

    const key = `media/${sessionId}/${messageId}`;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.options.timeoutMs ?? 60_000);
    const received = { sizeBytes: 0, sha256: '' };
    try {
      const stream = await this.options.fetchMedia(ref.data, controller.signal, { sessionId, messageId });
      // Streamed from the provider through the checks into storage: the file is never whole in
      // memory, and a check failing (at the first bytes, past the limit, or the hash at the end)
      // fails the put, which then leaves no object.
      await storage.put(
        key,
        checkedMedia(stream, {
          messageId,
          contentType,
          maxBytes,
          declaredSha256: message.mediaSha256?.toLowerCase() ?? undefined,
          received,
          onOverLimit: () => controller.abort(),
        }),
        contentType,
      );
    } catch (error) {
      if (error instanceof UnrecoverableError) throw error;
      // The provider said retrying cannot help (expired, tampered, token refused): fail for good.
      if (isUnrecoverable(error))
        throw new MediaRejectedError(`media of message ${messageId}: ${(error as Error).message}`);
      throw error;
    } finally {
      clearTimeout(timer);
    }
    const { sizeBytes, sha256 } = received;

    const updated = await withTenant(db, tenantId, (tx) =>
      tx.message.update({
        where: { id: messageId },
        data: { mediaStorageKey: key, mediaSizeBytes: BigInt(sizeBytes), mediaSha256: sha256 },
        select: REALTIME_MESSAGE_COLUMNS,
      }),
    );
    if (this.options.publishRealtime ?? true) {
      // Carries the message, its media now available, so an open thread offers the file at once.
      const message = realtimeMessageOf(updated);
      // Best effort: the row is the truth; an inbox that misses this sees the file on its next load.
      await publishRealtimeEvent(this.options.connection, this.options.keyPrefix, {
        type: 'message.updated',
        at: new Date().toISOString(),
        data: {
          messageId,
          conversationId: updated.conversationId,
          status: updated.status,
          ...(message ? { message } : {}),
        },
      }).catch((error: unknown) => this.options.onError?.(error, { jobId: job.id, what: 'realtime event' }));
    }
    return 'stored';
  }
}
