import { createHmac, timingSafeEqual } from 'node:crypto';

/** The headers a delivery carries. */
export const WEBHOOK_HEADERS = {
  timestamp: 'X-Switchboard-Timestamp',
  signature: 'X-Switchboard-Signature',
  eventId: 'X-Switchboard-Event-Id',
  eventType: 'X-Switchboard-Event-Type',
  /** The version of the event type's payload schema (see webhooks/events.ts). */
  eventVersion: 'X-Switchboard-Event-Version',
} as const;

/** `v1=<hex HMAC-SHA256(secret, timestamp + "." + rawBody)>`; `timestamp` is Unix seconds. */
export function signWebhook(secret: string, timestamp: string, rawBody: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${rawBody}`).digest('hex')}`;
}

/** Options for {@link verifyWebhookSignature}. */
export interface VerifyWebhookSignatureOptions {
  secret: string;
  /** The X-Switchboard-Timestamp header. */
  timestamp: string | undefined;
  /** The X-Switchboard-Signature header (may hold several `v1=` values, comma-separated, during secret rotation). */
  signature: string | undefined;
  /** The request body exactly as received (before any JSON parsing). */
  rawBody: string;
  /** How far the timestamp may be from now, in seconds (default 300): older deliveries are replays. */
  toleranceSeconds?: number;
  /** Now, in milliseconds (tests). */
  now?: number;
}

/** Why a signature was refused. */
export type WebhookVerification =
  | { ok: true }
  | { ok: false; reason: 'missing-header' | 'bad-timestamp' | 'outside-tolerance' | 'mismatch' };

/**
 * For receivers: checks a delivery's signature in constant time and refuses a timestamp outside
 * the tolerance (a captured request replayed later). Receivers should also de-duplicate on the
 * X-Switchboard-Event-Id header: a retried delivery carries the same id.
 */
export function verifyWebhookSignature(options: VerifyWebhookSignatureOptions): WebhookVerification {
  const { timestamp, signature } = options;
  if (!timestamp || !signature) return { ok: false, reason: 'missing-header' };
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'bad-timestamp' };
  const tolerance = options.toleranceSeconds ?? 300;
  const nowSeconds = Math.floor((options.now ?? Date.now()) / 1000);
  if (Math.abs(nowSeconds - Number(timestamp)) > tolerance) return { ok: false, reason: 'outside-tolerance' };
  const expected = Buffer.from(signWebhook(options.secret, timestamp, options.rawBody));
  const matches = signature
    .split(',')
    .map((s) => Buffer.from(s.trim()))
    .some((candidate) => candidate.length === expected.length && timingSafeEqual(candidate, expected));
  return matches ? { ok: true } : { ok: false, reason: 'mismatch' };
}
