/** Webhook delivery the way Meta does it: signed raw bytes, retried with backoff, and the GET handshake. */
import { createHmac, randomBytes } from 'node:crypto';

/** `sha256=<hex HMAC-SHA256 of the raw body with the app secret>`, the X-Hub-Signature-256 value. */
export function signatureHeader(rawBody: string | Buffer, appSecret: string): string {
  return `sha256=${createHmac('sha256', appSecret).update(rawBody).digest('hex')}`;
}

/** How failed deliveries are retried (Meta retries for up to days; the emulator is bounded). */
export interface RetryPolicy {
  /** Total attempts including the first. */
  attempts: number;
  /** Delay before the second attempt; doubles each time. */
  baseDelayMs: number;
  /** Ceiling of one delay. */
  maxDelayMs: number;
}

/** The default: 5 attempts, 200 ms doubling to at most 5 s. */
export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 200, maxDelayMs: 5_000 };

/** What happened to one webhook delivery. */
export interface DeliveryRecord {
  /** A sequence number within the emulator. */
  seq: number;
  url: string;
  /** The exact bytes sent (every retry sends the same bytes and signature). */
  rawBody: string;
  signature: string;
  /** HTTP status of each attempt; 0 for a network failure. */
  attempts: number[];
  delivered: boolean;
}

/** POSTs `rawBody` to `url` signed with `appSecret`, retrying non-2xx and network errors. */
export async function deliverWebhook(input: {
  url: string;
  rawBody: string;
  appSecret: string;
  retry: RetryPolicy;
  record: DeliveryRecord;
  signal?: AbortSignal;
}): Promise<DeliveryRecord> {
  const { record } = input;
  for (let attempt = 0; attempt < input.retry.attempts; attempt++) {
    if (attempt > 0) {
      const delay = Math.min(input.retry.maxDelayMs, input.retry.baseDelayMs * 2 ** (attempt - 1));
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
    if (input.signal?.aborted) break;
    let status = 0;
    try {
      const response = await fetch(input.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-hub-signature-256': record.signature,
          'user-agent': 'facebookexternalua',
        },
        body: input.rawBody,
        signal: AbortSignal.timeout(10_000),
      });
      status = response.status;
      await response.arrayBuffer();
    } catch {
      status = 0;
    }
    record.attempts.push(status);
    if (status >= 200 && status < 300) {
      record.delivered = true;
      break;
    }
  }
  return record;
}

/** The outcome of the GET verification handshake. */
export interface HandshakeResult {
  /** The receiver answered 200 with exactly the challenge. */
  ok: boolean;
  status: number;
  body: string;
  challenge: string;
}

/**
 * Meta's subscription check: `GET url?hub.mode=subscribe&hub.verify_token=...&hub.challenge=...`;
 * the receiver must answer 200 with the challenge echoed as the body.
 */
export async function verifyWebhookSubscription(input: {
  url: string;
  verifyToken: string;
  challenge?: string;
}): Promise<HandshakeResult> {
  const challenge = input.challenge ?? String(randomBytes(4).readUInt32BE());
  const url = new URL(input.url);
  url.searchParams.set('hub.mode', 'subscribe');
  url.searchParams.set('hub.verify_token', input.verifyToken);
  url.searchParams.set('hub.challenge', challenge);
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const body = await response.text();
  return { ok: response.status === 200 && body === challenge, status: response.status, body, challenge };
}
