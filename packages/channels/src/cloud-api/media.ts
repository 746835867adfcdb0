/**
 * Cloud API media, both ways, as Meta documents it:
 *
 * - download (inbound): `GET /{version}/{media-id}` with the session's token answers a short-lived
 *   URL (about 5 minutes), its mime type, SHA-256 and size; `GET <url>` with the same Bearer token
 *   answers the bytes. The bytes are checked against the declared SHA-256 and size as they stream.
 * - upload (outbound): `POST /{version}/{phone-number-id}/media` as multipart/form-data with
 *   `messaging_product=whatsapp`, `type` and `file` answers `{id}`; the send then names that id.
 */
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import type { ChannelMediaFetcher, MediaFetchContext } from '../channel.ts';
import { ChannelError, UnrecoverableChannelError } from '../errors.ts';
import { channelErrorFromGraph } from './errors.ts';

/** Options for {@link cloudApiMediaFetcher}. */
export interface CloudApiMediaFetcherOptions {
  /** Default `https://graph.facebook.com`; the emulator's URL in tests. */
  baseUrl?: string;
  /** Graph API version, default `v23.0`. */
  graphVersion?: string;
  /** The access token of the session the media arrived on (its declared credentials). */
  accessTokenFor(sessionId: string): Promise<string>;
  /** Timeout of the metadata request (default 15 s); the caller's signal bounds the whole download. */
  requestTimeoutMs?: number;
}

const mediaUrlSchema = z.looseObject({
  url: z.url(),
  mime_type: z.string().optional(),
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/i)
    .optional(),
  file_size: z.union([z.number().int().nonnegative(), z.string().regex(/^\d+$/)]).optional(),
  id: z.string().optional(),
});

function graphBase(
  baseUrl: string | undefined,
  graphVersion: string | undefined,
): { origin: string; base: string } {
  const root = (baseUrl ?? 'https://graph.facebook.com').replace(/\/+$/, '');
  return { origin: new URL(root).origin, base: `${root}/${graphVersion ?? 'v23.0'}` };
}

/** A fetcher for `provider: 'cloud-api'` references (`data` is Meta's media id). */
export function cloudApiMediaFetcher(options: CloudApiMediaFetcherOptions): ChannelMediaFetcher {
  const { origin, base } = graphBase(options.baseUrl, options.graphVersion);
  return async (download, signal, context: MediaFetchContext) => {
    if (download.provider !== 'cloud-api')
      throw new UnrecoverableChannelError(
        'MEDIA_DOWNLOAD_FAILED',
        `a ${download.provider} media reference reached the Cloud API fetcher`,
      );
    const mediaId = download.data;
    if (!/^\d{1,32}$/.test(mediaId))
      throw new UnrecoverableChannelError(
        'MEDIA_DOWNLOAD_FAILED',
        'the Cloud API media id is not a Graph id',
      );
    signal.throwIfAborted();
    const token = await options.accessTokenFor(context.sessionId);
    const headers = { authorization: `Bearer ${token}` };

    let response: Response;
    try {
      response = await fetch(`${base}/${mediaId}`, {
        headers,
        signal: AbortSignal.any([signal, AbortSignal.timeout(options.requestTimeoutMs ?? 15_000)]),
      });
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw transportError('media URL lookup', error);
    }
    const body = await response.json().catch(() => undefined);
    if (!response.ok) throw channelErrorFromGraph(response.status, body, 'media download');
    const meta = mediaUrlSchema.safeParse(body);
    if (!meta.success)
      throw new ChannelError(
        'MEDIA_DOWNLOAD_FAILED',
        'Graph answered the media lookup with an unexpected body',
        {
          status: 502,
        },
      );
    const url = new URL(meta.data.url);
    // The token goes only to TLS URLs (Meta's lookaside host) or to the configured Graph origin.
    if (url.protocol !== 'https:' && url.origin !== origin)
      throw new UnrecoverableChannelError(
        'MEDIA_DOWNLOAD_FAILED',
        `Graph returned a media URL on ${url.origin}, which is neither https nor the Graph origin`,
      );

    let file: Response;
    try {
      file = await fetch(url, { headers, signal });
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw transportError('media download', error);
    }
    if (!file.ok || !file.body) {
      await file.body?.cancel().catch(() => {});
      // The URL may have expired between the lookup and the GET: a retry looks it up again.
      throw new ChannelError('MEDIA_DOWNLOAD_FAILED', `the media URL answered HTTP ${file.status}`, {
        status: 502,
      });
    }
    const expectedSize = meta.data.file_size === undefined ? undefined : Number(meta.data.file_size);
    return verifiedBody(file.body, meta.data.sha256?.toLowerCase(), expectedSize, signal);
  };
}

async function* verifiedBody(
  body: ReadableStream<Uint8Array>,
  sha256: string | undefined,
  size: number | undefined,
  signal: AbortSignal,
): AsyncGenerator<Uint8Array> {
  const hash = createHash('sha256');
  let received = 0;
  try {
    for await (const chunk of body) {
      received += chunk.byteLength;
      hash.update(chunk);
      yield chunk;
    }
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    throw transportError('media download', error);
  } finally {
    // Stops the transfer when the consumer leaves early (size limit) or aborts.
    await body.cancel().catch(() => {});
  }
  if (size !== undefined && received !== size)
    throw new UnrecoverableChannelError(
      'MEDIA_DOWNLOAD_FAILED',
      `the media file has ${received} bytes, Graph declared ${size}`,
    );
  if (sha256 !== undefined && hash.digest('hex') !== sha256)
    throw new UnrecoverableChannelError(
      'MEDIA_DOWNLOAD_FAILED',
      'the media file does not match the SHA-256 Graph declared',
    );
}

function transportError(what: string, error: unknown): ChannelError {
  const timeout = error instanceof Error && error.name === 'TimeoutError';
  return new ChannelError(
    timeout ? 'TIMEOUT' : 'MEDIA_DOWNLOAD_FAILED',
    `${what} ${timeout ? 'timed out' : 'failed'}`,
    {
      status: timeout ? 504 : 503,
      cause: error,
    },
  );
}

/** What {@link uploadCloudApiMedia} needs. */
export interface CloudApiMediaUpload {
  /** `{baseUrl}/{version}`. */
  base: string;
  phoneNumberId: string;
  accessToken: string;
  /** The file: its bytes, or a stream of them sent as it is read (never held whole). */
  data: Uint8Array | AsyncIterable<Uint8Array>;
  mimetype: string;
  fileName?: string;
  /** A streamed file past this many bytes fails the upload as INVALID_CONTENT (Meta's limit). */
  maxBytes?: number;
  timeoutMs: number;
}

const uploadResponseSchema = z.looseObject({ id: z.string().min(1) });

/** Bytes of a Graph answer read at most (its JSON is a few hundred bytes). */
const MAX_ANSWER_BYTES = 1024 * 1024;

/**
 * POSTs `body` as it is read (node:http: each chunk written once the socket took the last; the
 * global fetch keeps a streamed request body's chunks until the request is done) and answers the
 * status and the JSON body (undefined when it is not JSON).
 */
async function postStream(
  url: URL,
  headers: Record<string, string>,
  body: AsyncIterable<Uint8Array>,
  signal: AbortSignal,
): Promise<{ status: number; ok: boolean; json: unknown }> {
  const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
    method: 'POST',
    headers,
    signal,
  });
  const answered = new Promise<IncomingMessage>((resolve, reject) => {
    request.once('response', resolve);
    request.once('error', reject);
  });
  // A failed write is reported by the request (or the body's own error by pipeline).
  answered.catch(() => {});
  await pipeline(Readable.from(body, { objectMode: false }), request);
  const response = await answered;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_ANSWER_BYTES) {
      response.destroy();
      break;
    }
    chunks.push(chunk);
  }
  let json: unknown;
  try {
    json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    json = undefined;
  }
  const status = response.statusCode ?? 0;
  return { status, ok: status >= 200 && status < 300, json };
}

/** A multipart field name or file name as browsers' FormData escapes it (", CR and LF). */
function escapeFormName(name: string): string {
  return name.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/**
 * Uploads a file to the phone number's media (`POST /{phone-number-id}/media`, multipart/form-data
 * streamed part by part: the file's bytes pass through as they are read) and answers Meta's media id.
 */
export async function uploadCloudApiMedia(upload: CloudApiMediaUpload): Promise<string> {
  if (/[\r\n]/.test(upload.mimetype))
    throw new UnrecoverableChannelError('INVALID_CONTENT', 'the media type is not a header value', {
      status: 400,
    });
  const boundary = `----switchboard-${randomBytes(16).toString('hex')}`;
  const field = (name: string, value: string) =>
    `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  const head = Buffer.from(
    field('messaging_product', 'whatsapp') +
      field('type', upload.mimetype) +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${escapeFormName(upload.fileName ?? 'file')}"\r\nContent-Type: ${upload.mimetype}\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  // Set when the file itself is refused mid-stream (fetch reports a failed body as its own error).
  let refused: UnrecoverableChannelError | undefined;
  const { data, maxBytes } = upload;
  async function* parts(): AsyncGenerator<Uint8Array> {
    yield head;
    if (data instanceof Uint8Array) yield data;
    else {
      let size = 0;
      for await (const chunk of data) {
        size += chunk.byteLength;
        if (maxBytes !== undefined && size > maxBytes) {
          refused = new UnrecoverableChannelError(
            'INVALID_CONTENT',
            `the media file is over the Cloud API limit of ${maxBytes} bytes`,
            { status: 400 },
          );
          throw refused;
        }
        yield chunk;
      }
      if (size === 0) {
        refused = new UnrecoverableChannelError('INVALID_CONTENT', 'media without bytes', { status: 400 });
        throw refused;
      }
    }
    yield tail;
  }
  let response: { status: number; ok: boolean; json: unknown };
  try {
    response = await postStream(
      new URL(`${upload.base}/${encodeURIComponent(upload.phoneNumberId)}/media`),
      {
        authorization: `Bearer ${upload.accessToken}`,
        'content-type': `multipart/form-data; boundary=${boundary}`,
      },
      parts(),
      AbortSignal.timeout(upload.timeoutMs),
    );
  } catch (error) {
    if (refused) throw refused;
    // The file may not have been read at all (the connection failed first): let go of it.
    if (!(data instanceof Uint8Array)) (data as { destroy?(): void }).destroy?.();
    const timeout = error instanceof Error && error.name === 'TimeoutError';
    // Nothing is sent to the customer by an upload, so a retry is always safe.
    throw new ChannelError(
      timeout ? 'TIMEOUT' : 'SEND_FAILED',
      `media upload ${timeout ? 'timed out' : 'failed'}`,
      {
        status: timeout ? 504 : 503,
        cause: error,
      },
    );
  }
  const json = response.json;
  if (!response.ok) throw channelErrorFromGraph(response.status, json, 'media upload');
  const parsed = uploadResponseSchema.safeParse(json);
  if (!parsed.success)
    throw new ChannelError('SEND_FAILED', 'Graph accepted the media upload with an unexpected body', {
      status: 502,
    });
  return parsed.data.id;
}
