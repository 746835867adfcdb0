/**
 * Cloud API media, both ways, as Meta documents it:
 *
 * - download (inbound): `GET /{version}/{media-id}` with the session's token answers a short-lived
 *   URL (about 5 minutes), its mime type, SHA-256 and size; `GET <url>` with the same Bearer token
 *   answers the bytes. The bytes are checked against the declared SHA-256 and size as they stream.
 * - upload (outbound): `POST /{version}/{phone-number-id}/media` as multipart/form-data with
 *   `messaging_product=whatsapp`, `type` and `file` answers `{id}`; the send then names that id.
 */
import { createHash } from 'node:crypto';
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
  data: Uint8Array;
  mimetype: string;
  fileName?: string;
  timeoutMs: number;
}

const uploadResponseSchema = z.looseObject({ id: z.string().min(1) });

/** Uploads a file to the phone number's media (`POST /{phone-number-id}/media`) and answers Meta's media id. */
export async function uploadCloudApiMedia(upload: CloudApiMediaUpload): Promise<string> {
  const form = new FormData();
  form.set('messaging_product', 'whatsapp');
  form.set('type', upload.mimetype);
  form.set(
    'file',
    new Blob([upload.data as Uint8Array<ArrayBuffer>], { type: upload.mimetype }),
    upload.fileName ?? 'file',
  );
  let response: Response;
  try {
    response = await fetch(`${upload.base}/${encodeURIComponent(upload.phoneNumberId)}/media`, {
      method: 'POST',
      headers: { authorization: `Bearer ${upload.accessToken}` },
      body: form,
      signal: AbortSignal.timeout(upload.timeoutMs),
    });
  } catch (error) {
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
  const json = await response.json().catch(() => undefined);
  if (!response.ok) throw channelErrorFromGraph(response.status, json, 'media upload');
  const parsed = uploadResponseSchema.safeParse(json);
  if (!parsed.success)
    throw new ChannelError('SEND_FAILED', 'Graph accepted the media upload with an unexpected body', {
      status: 502,
    });
  return parsed.data.id;
}
