/**
 * Downloads inbound WhatsApp Web media: the reference the mapping stored (the message key and the
 * media message) is decoded, Baileys' `downloadContentFromMessage` fetches the encrypted file from
 * WhatsApp's media servers and decrypts it with the message's media key, and the plaintext is
 * checked against the message's `fileSha256` as it streams.
 *
 * Why the hash check: Baileys decrypts without verifying the file's MAC (it drops the trailing
 * 10 bytes), so a corrupted or tampered file comes out as garbage rather than an error. The
 * fileSha256 came inside the end-to-end encrypted message, so matching it proves the bytes are
 * what the sender sent.
 *
 * Needs no socket: any worker can download any session's media. Not covered: media WhatsApp has
 * already expired (404/410), which only a re-upload request through the session's live socket
 * could bring back; it fails as unrecoverable.
 */
import { createHash } from 'node:crypto';
import type { Readable, Transform } from 'node:stream';
import {
  downloadContentFromMessage,
  getContentType,
  type MediaType,
  type proto,
} from '@whiskeysockets/baileys';
import type { ChannelMediaFetcher } from '../channel.ts';
import { ChannelError, UnrecoverableChannelError } from '../errors.ts';
import { statusCodeOf } from './lifecycle.ts';
import { decodeMediaDownload } from './mapping.ts';

/** Options for {@link baileysMediaFetcher}. */
export interface BaileysMediaFetcherOptions {
  /** The media host for a `directPath` when the message's `url` names none (Baileys' default: mmg.whatsapp.net). */
  host?: string;
}

/** The media messages this fetcher downloads, and Baileys' media type (key derivation) for each. */
const MEDIA_TYPES: Record<string, MediaType> = {
  imageMessage: 'image',
  videoMessage: 'video',
  ptvMessage: 'ptv',
  audioMessage: 'audio',
  documentMessage: 'document',
  stickerMessage: 'sticker',
};

type DownloadableMedia = {
  mediaKey?: Uint8Array | null;
  directPath?: string | null;
  url?: string | null;
  fileSha256?: Uint8Array | null;
};

function failed(message: string, options: { unrecoverable: boolean; cause?: unknown }): ChannelError {
  return options.unrecoverable
    ? new UnrecoverableChannelError('MEDIA_DOWNLOAD_FAILED', message, {
        status: 422,
        ...(options.cause === undefined ? {} : { cause: options.cause }),
      })
    : new ChannelError('MEDIA_DOWNLOAD_FAILED', message, {
        status: 503,
        ...(options.cause === undefined ? {} : { cause: options.cause }),
      });
}

/** A fetcher for `provider: 'baileys'` references (MediaRef.download from this adapter's mapping). */
export function baileysMediaFetcher(options: BaileysMediaFetcherOptions = {}): ChannelMediaFetcher {
  return async (download, signal) => {
    if (download.provider !== 'baileys')
      throw failed(`a ${download.provider} media reference reached the Baileys fetcher`, {
        unrecoverable: true,
      });
    let message: proto.IMessage;
    try {
      message = decodeMediaDownload(download.data).message;
    } catch (error) {
      throw failed('the Baileys media reference is malformed', { unrecoverable: true, cause: error });
    }
    const contentType = getContentType(message);
    const mediaType = contentType ? MEDIA_TYPES[contentType] : undefined;
    if (!contentType || !mediaType)
      throw failed(`the media reference holds no media message (${contentType ?? 'empty'})`, {
        unrecoverable: true,
      });
    const media = (message as Record<string, DownloadableMedia | null | undefined>)[contentType];
    if (!media?.mediaKey?.length || !(media.url || media.directPath))
      throw failed(`the ${contentType} has no media key or no URL`, { unrecoverable: true });
    if (!media.fileSha256?.length)
      throw failed(`the ${contentType} declares no fileSha256, so its file cannot be verified`, {
        unrecoverable: true,
      });
    signal.throwIfAborted();

    let stream: Transform;
    try {
      stream = await untilAborted(
        downloadContentFromMessage(media, mediaType, options.host ? { host: options.host } : {}),
        signal,
      );
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw downloadError(error);
    }
    return verifiedPlaintext(stream, Buffer.from(media.fileSha256), signal);
  };
}

/**
 * Resolves like `promise` unless `signal` aborts first; a stream that arrives after the abort is
 * destroyed (Baileys' fetch takes no signal, so the response may still come).
 */
async function untilAborted(promise: Promise<Transform>, signal: AbortSignal): Promise<Transform> {
  if (signal.aborted) {
    void promise.then(destroyDownload, () => {});
    throw signal.reason;
  }
  return await new Promise<Transform>((resolve, reject) => {
    const onAbort = () => {
      void promise.then(destroyDownload, () => {});
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (stream) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) destroyDownload(stream);
        else resolve(stream);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/**
 * Destroys Baileys' decrypting Transform and the HTTP body piped into it. Destroying only the
 * Transform would leave the response paused with its socket open; the pipe's source is only
 * reachable through the `unpipe` the destroy causes.
 */
function destroyDownload(stream: Transform, reason?: unknown): void {
  if (stream.destroyed) return;
  stream.once('unpipe', (source: Readable) => source.destroy());
  stream.destroy(reason instanceof Error ? reason : undefined);
}

async function* verifiedPlaintext(
  stream: Transform,
  expectedSha256: Buffer,
  signal: AbortSignal,
): AsyncGenerator<Uint8Array> {
  const onAbort = () => destroyDownload(stream, signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  const hash = createHash('sha256');
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      hash.update(chunk);
      yield chunk;
    }
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    // "bad decrypt": the last block's padding did not check out, so the file was altered.
    throw downloadError(error);
  } finally {
    signal.removeEventListener('abort', onAbort);
    destroyDownload(stream);
  }
  if (!hash.digest().equals(expectedSha256))
    throw failed("the decrypted file does not match the message's fileSha256 (corrupted or tampered)", {
      unrecoverable: true,
    });
}

function downloadError(error: unknown): ChannelError {
  if (error instanceof ChannelError) return error;
  const status = statusCodeOf(error);
  if (status === 404 || status === 410)
    return failed(
      `WhatsApp no longer has the file (HTTP ${status}); only a re-upload request could restore it`,
      {
        unrecoverable: true,
        cause: error,
      },
    );
  if (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429)
    return failed(`WhatsApp's media server refused the download (HTTP ${status})`, {
      unrecoverable: true,
      cause: error,
    });
  const text = error instanceof Error ? error.message : String(error);
  if (/bad decrypt|wrong final block length/i.test(text))
    return failed('the file does not decrypt with the message media key (corrupted or tampered)', {
      unrecoverable: true,
      cause: error,
    });
  return failed(
    `downloading from WhatsApp's media server failed${status === undefined ? '' : ` (HTTP ${status})`}`,
    { unrecoverable: false, cause: error },
  );
}
