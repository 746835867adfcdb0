/**
 * Downloads inbound WhatsApp Web media: the reference the mapping stored (the message key and the
 * media message) is decoded, its location is checked again (media-location.ts: a WhatsApp media
 * host and a plain path, never an authority from the sender), the encrypted file is fetched from
 * that one URL with redirects refused, decrypted with the keys Baileys derives from the message's
 * media key (AES-256-CBC, as Baileys' own downloadEncryptedContent does), and the plaintext is
 * checked against the message's `fileSha256` as it streams.
 *
 * Why not Baileys' downloadContentFromMessage: it fetches a bare `url` as given (http allowed,
 * redirects followed) and concatenates `https://<host><directPath>`, so a sender could point the
 * worker at internal addresses; and its fetch takes no abort signal.
 *
 * Why the hash check: the file's MAC is not verified (Baileys drops the trailing 10 bytes too),
 * so a corrupted or tampered file comes out as garbage rather than an error. The fileSha256 came
 * inside the end-to-end encrypted message, so matching it proves the bytes are what the sender sent.
 *
 * Needs no socket: any worker can download any session's media. Not covered: media WhatsApp has
 * already expired (404/410), which only a re-upload request through the session's live socket
 * could bring back; it fails as unrecoverable.
 */
import { createDecipheriv, createHash } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import {
  DEFAULT_ORIGIN,
  getContentType,
  getMediaKeys,
  type MediaType,
  type proto,
} from '@whiskeysockets/baileys';
import type { ChannelMediaFetcher } from '../channel.ts';
import { ChannelError, UnrecoverableChannelError } from '../errors.ts';
import { decodeMediaDownload } from './mapping.ts';
import { mediaLocation } from './media-location.ts';

/** Options for {@link baileysMediaFetcher}. */
export interface BaileysMediaFetcherOptions {
  /**
   * Where WhatsApp's media servers are reached, as an origin (`http://127.0.0.1:8080`): every
   * download then goes to this origin with the message's checked path instead of to the WhatsApp
   * media host the message names. Tests point it at a local stand-in; unset in production.
   */
  origin?: string;
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
    // Checked again here: a reference stored before the mapping checked, or made by other code,
    // must not reach the network either.
    const location = mediaLocation(media);
    if (!location.ok)
      throw failed(`the ${contentType} media location is refused: ${location.reason}`, {
        unrecoverable: true,
      });
    const url = new URL(location.location.path, options.origin ?? `https://${location.location.host}`);
    signal.throwIfAborted();

    const { cipherKey, iv } = await getMediaKeys(media.mediaKey, mediaType);
    let response: Response;
    try {
      // redirect 'manual': a 3xx comes back as the answer and is refused below, never followed.
      response = await fetch(url, { redirect: 'manual', signal, headers: { Origin: DEFAULT_ORIGIN } });
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw failed("downloading from WhatsApp's media server failed", { unrecoverable: false, cause: error });
    }
    if (!response.ok || !response.body) {
      await response.body?.cancel().catch(() => {});
      throw httpFailure(response.status);
    }
    const body = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
    const stream = body.pipe(decrypting(cipherKey, iv));
    // pipe() does not forward errors: a reset connection must end the download, not stall it.
    body.once('error', (error) => destroyDownload(stream, error));
    return verifiedPlaintext(stream, Buffer.from(media.fileSha256), signal);
  };
}

const AES_BLOCK = 16;

/**
 * AES-256-CBC decryption of a WhatsApp media file: whole blocks are decrypted as they arrive;
 * the bytes past the last whole block (the 10-byte MAC) are dropped, as Baileys does.
 */
function decrypting(cipherKey: Uint8Array, iv: Uint8Array): Transform {
  const decipher = createDecipheriv('aes-256-cbc', cipherKey, iv);
  let pending: Buffer = Buffer.alloc(0);
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      const data = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      const whole = data.length - (data.length % AES_BLOCK);
      pending = data.subarray(whole);
      try {
        callback(null, decipher.update(data.subarray(0, whole)));
      } catch (error) {
        callback(error as Error);
      }
    },
    flush(callback) {
      try {
        callback(null, decipher.final());
      } catch (error) {
        callback(error as Error);
      }
    },
  });
}

/**
 * Destroys the decrypting Transform and the HTTP body piped into it. Destroying only the
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

function httpFailure(status: number): ChannelError {
  if (status >= 300 && status < 400)
    return failed(
      `WhatsApp's media server answered a redirect (HTTP ${status}); redirects are not followed`,
      {
        unrecoverable: true,
      },
    );
  if (status === 404 || status === 410)
    return failed(
      `WhatsApp no longer has the file (HTTP ${status}); only a re-upload request could restore it`,
      {
        unrecoverable: true,
      },
    );
  if (status >= 400 && status < 500 && status !== 408 && status !== 429)
    return failed(`WhatsApp's media server refused the download (HTTP ${status})`, { unrecoverable: true });
  return failed(`downloading from WhatsApp's media server failed (HTTP ${status})`, { unrecoverable: false });
}

function downloadError(error: unknown): ChannelError {
  if (error instanceof ChannelError) return error;
  const text = error instanceof Error ? error.message : String(error);
  if (/bad decrypt|wrong final block length/i.test(text))
    return failed('the file does not decrypt with the message media key (corrupted or tampered)', {
      unrecoverable: true,
      cause: error,
    });
  return failed("downloading from WhatsApp's media server failed", { unrecoverable: false, cause: error });
}
