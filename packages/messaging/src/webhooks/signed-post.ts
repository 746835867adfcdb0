import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { withHttpClientSpan } from '@switchboard/telemetry';
import { checkReceiver } from './receiver-address.ts';
import { signWebhook, WEBHOOK_HEADERS } from './signature.ts';

/**
 * One signed POST of a webhook body to a receiver, as tenant webhooks and session bots
 * (bot/delivery-worker.ts) deliver it: the receiver's address checked (receiver-address.ts) and
 * connected to as checked, the body signed (`X-Switchboard-Signature`), a CLIENT span around it.
 */

/** Options for {@link postSigned}. */
export interface SignedPostOptions {
  url: string;
  secret: string;
  /** The JSON body exactly as sent and signed. */
  rawBody: string;
  /** Further headers (event id, type, version). */
  headers: Record<string, string>;
  /** Receiver hosts delivered to although they are or resolve to internal addresses (lower case). */
  allowedHosts: ReadonlySet<string>;
  timeoutMs: number;
  userAgent: string;
  /**
   * Read the answer's body up to this many bytes (a larger one fails the attempt); without it the
   * body is not read.
   */
  maxResponseBytes?: number;
}

/** What one attempt did: `error` is null for a 2xx answer (with its body when asked for). */
export interface SignedPostResult {
  responseCode: number | null;
  error: string | null;
  body?: string;
}

/** Why an answer's body was refused (too large). */
class ResponseTooLargeError extends Error {
  constructor(limit: number) {
    super(`the answer is larger than ${limit} bytes`);
    this.name = 'ResponseTooLargeError';
  }
}

/**
 * One POST, answering the status code (and the body, when `maxResponseBytes` is set). Connects to
 * `pin` (the address that was checked) instead of resolving the name again; TLS still verifies
 * the certificate against the URL's host name. Redirects are not followed (a 3xx is a failed attempt).
 */
function postOnce(
  url: URL,
  options: {
    pin: { address: string; family: 4 | 6 } | undefined;
    timeoutMs: number;
    headers: Record<string, string>;
    body: string;
    maxResponseBytes: number | undefined;
  },
): Promise<{ status: number; body?: string }> {
  const pin = options.pin;
  const lookup: LookupFunction | undefined = pin
    ? (_hostname, lookupOptions, callback) => {
        if (lookupOptions.all) callback(null, [{ address: pin.address, family: pin.family }]);
        else callback(null, pin.address, pin.family);
      }
    : undefined;
  const signal = AbortSignal.timeout(options.timeoutMs);
  return new Promise((resolve, reject) => {
    const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(
      url,
      {
        method: 'POST',
        headers: { ...options.headers, 'content-length': String(Buffer.byteLength(options.body)) },
        signal,
        ...(lookup ? { lookup } : {}),
      },
      (response) => {
        const status = response.statusCode ?? 0;
        const limit = options.maxResponseBytes;
        if (limit === undefined) {
          resolve({ status });
          response.destroy();
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > limit) {
            response.destroy();
            reject(new ResponseTooLargeError(limit));
            return;
          }
          chunks.push(chunk);
        });
        response.on('end', () => resolve({ status, body: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', (error) => reject(signal.aborted ? signal.reason : error));
      },
    );
    request.on('error', (error) => reject(signal.aborted ? signal.reason : error));
    request.end(options.body);
  });
}

/**
 * Checks the receiver, signs `rawBody` with `secret` at the current time and POSTs it once. Never
 * throws: a refused receiver, a non-2xx answer, a timeout or a connection error is the result's
 * `error` (a short reason that names no secret and no body).
 */
export async function postSigned(options: SignedPostOptions): Promise<SignedPostResult> {
  const timestamp = String(Math.floor(Date.now() / 1000));
  let responseCode: number | null = null;
  try {
    const url = new URL(options.url);
    const check = await checkReceiver(url, options.allowedHosts);
    if (!check.ok) return { responseCode, error: `request failed: receiver refused: ${check.reason}` };
    // node:http is imported by name, which the http instrumentation does not patch: the
    // POST's CLIENT span (child of the job's span, traceparent sent along) is made here.
    const pin = check.address ? { address: check.address, family: check.family ?? 4 } : undefined;
    let answerBody: string | undefined;
    responseCode = await withHttpClientSpan('POST', url, async (traceHeaders) => {
      const answer = await postOnce(url, {
        pin,
        timeoutMs: options.timeoutMs,
        headers: {
          ...traceHeaders,
          'content-type': 'application/json',
          'user-agent': options.userAgent,
          [WEBHOOK_HEADERS.timestamp]: timestamp,
          [WEBHOOK_HEADERS.signature]: signWebhook(options.secret, timestamp, options.rawBody),
          ...options.headers,
        },
        body: options.rawBody,
        maxResponseBytes: options.maxResponseBytes,
      });
      answerBody = answer.body;
      return answer.status;
    });
    if (responseCode < 200 || responseCode >= 300) return { responseCode, error: `HTTP ${responseCode}` };
    return { responseCode, error: null, ...(answerBody !== undefined ? { body: answerBody } : {}) };
  } catch (caught) {
    const name = (caught as { name?: string }).name;
    const error =
      name === 'TimeoutError'
        ? 'timeout'
        : name === 'ResponseTooLargeError'
          ? (caught as Error).message
          : `request failed: ${(caught as Error).message}`;
    return { responseCode, error };
  }
}
