import { EventEmitter } from 'node:events';

/**
 * The one redaction policy, shared by the logger, Sentry and span exception events:
 * "a secret, token or message body appears in logs or error reports" is on the
 * architecture's must-never-happen list, so every sink goes through this module.
 *
 * Two layers:
 * - by key: a field whose name says it is sensitive (password, token, authorization,
 *   cookie, phone, msisdn, from, to, wa_id, body, text, ...) is replaced whole,
 *   at any depth;
 * - by shape: strings anywhere (log messages, error messages and stacks, URLs) have
 *   phone numbers, WhatsApp JIDs, bearer tokens, URL passwords, token query
 *   parameters, JWTs and Meta access tokens masked.
 */

/** What a redacted value is replaced with. */
export const REDACTED = '[REDACTED]';

/** What a phone number (or the user part of a JID) is replaced with. */
export const PHONE_MASK = '[phone]';

// Compared after lowercasing and dropping "_", "-" and ".", so wa_id, waId and WA-ID
// are one entry. "from"/"to" are here because WhatsApp payloads use them for numbers;
// name other fields (previousOwner, targetWorker) to keep them readable.
const SENSITIVE_KEYS = new Set([
  'password',
  'passwd',
  'pwd',
  'pass',
  'secret',
  'token',
  'apikey',
  'authorization',
  'proxyauthorization',
  'cookie',
  'cookies',
  'setcookie',
  'credentials',
  'creds',
  'auth',
  'phone',
  'phonenumber',
  'msisdn',
  'from',
  'to',
  'waid',
  'jid',
  'remotejid',
  'participant',
  'lid',
  'email',
  'pushname',
  'body',
  'text',
  'caption',
  'conversation',
  'qr',
  'pairingcode',
]);

// Suffixes catch the variations: REDIS_PASSWORD, webhookSecret, accessToken,
// x-api-key, signedPreKey's private parts (privateKey), advSecretKey.
const SENSITIVE_SUFFIXES = [
  'password',
  'secret',
  'token',
  'apikey',
  'privatekey',
  'secretkey',
  'cookie',
  'authorization',
];

function normaliseKey(key: string): string {
  return key.toLowerCase().replace(/[-_.]/g, '');
}

/** True when a field with this name must never be logged or reported. */
export function isSensitiveKey(key: string): boolean {
  const normalised = normaliseKey(key);
  return SENSITIVE_KEYS.has(normalised) || SENSITIVE_SUFFIXES.some((suffix) => normalised.endsWith(suffix));
}

/** Pattern, replacement pairs applied in order by `maskText`. */
const TEXT_MASKS: ReadonlyArray<readonly [RegExp, string]> = [
  // scheme://user:password@host -> keep the user and host for debugging.
  [/\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@"'<>]*):[^\s@/"'<>]+@/gi, `$1:${REDACTED}@`],
  // Header-like text: "Authorization: Bearer abc", "x-api-key=abc", "cookie: a=b".
  [
    /\b(authorization|proxy-authorization|x-api-key|api[_-]?key|cookie|set-cookie)(["']?\s*[:=]\s*["']?)(?:(?:Bearer|Basic|Digest)\s+)?[^\s"',;]+/gi,
    `$1$2${REDACTED}`,
  ],
  [/\bBearer\s+[A-Za-z0-9._~+/-]+=*/gi, `Bearer ${REDACTED}`],
  // JSON quoted inside text, e.g. an error quoting a response body.
  [
    /(["'](?:password|passwd|secret|token|access_token|refresh_token|api_?key|authorization|client_secret)["']\s*:\s*["'])[^"']*/gi,
    `$1${REDACTED}`,
  ],
  // Query strings and key=value text.
  [
    /\b(access_token|refresh_token|id_token|token|api_key|apikey|client_secret|secret|password|passwd|pwd|sig|signature|hub\.verify_token)=[^&\s"',;]+/gi,
    `$1=${REDACTED}`,
  ],
  // An OAuth/OpenID Connect callback's query (?code=...&state=...): the code is a credential
  // until redeemed. Only after ? or &, so free text such as "exit code=1" keeps its value.
  [/([?&](?:code|state|session_state))=[^&\s"',;#]+/gi, `$1=${REDACTED}`],
  // JWTs and Meta Graph API access tokens.
  [/\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, REDACTED],
  [/\bEAA[A-Za-z0-9]{20,}/g, REDACTED],
  // WhatsApp JIDs (phone-number and LID users, device suffixes, legacy c.us, groups
  // whose id embeds the creator's number): keep the server part for debugging.
  [
    /\b\d[\d-]{4,40}(?::\d{1,4})?@(s\.whatsapp\.net|c\.us|lid|g\.us|hosted(?:\.lid)?|broadcast)\b/g,
    `${PHONE_MASK}@$1`,
  ],
  // E.164 numbers, with common separators: +15551234567, +1 555-123-4567, +44 (20) 7946 0958.
  [/(?<![\w+])\+\d(?:[ ().-]{0,2}\d){6,14}(?!\d)/g, PHONE_MASK],
];

/** Masks phone numbers, JIDs, tokens and URL passwords inside free text. */
export function maskText(text: string): string {
  let masked = text;
  for (const [pattern, replacement] of TEXT_MASKS) masked = masked.replace(pattern, replacement);
  return masked;
}

// Deep enough for request/response shapes and Sentry events; deeper structures are
// cut rather than walked, which also bounds the cost of one log line.
const MAX_DEPTH = 10;

/**
 * A redacted deep copy of `value`: sensitive keys replaced, strings masked, errors
 * turned into plain `{ type, message, stack, ... }` objects, binary data summarised,
 * cycles cut. Safe on anything: it never throws and never mutates its input.
 */
export function redactValue(value: unknown): unknown {
  return redact(value, new WeakSet(), 0);
}

/** A redacted, JSON-ready form of an error: type, message, stack, code, own fields, cause. */
export function serializeError(error: Error): Record<string, unknown> {
  return serializeErrorInner(error, new WeakSet(), 0);
}

function isRequestLike(value: object): value is { method: string; url: string; headers: object } {
  return 'method' in value && 'headers' in value && 'socket' in value;
}

function isResponseLike(value: object): value is { statusCode: number; getHeaders(): object } {
  return 'setHeader' in value && typeof (value as { getHeaders?: unknown }).getHeaders === 'function';
}

function redact(value: unknown, seen: WeakSet<object>, depth: number): unknown {
  if (typeof value === 'string') return maskText(value);
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[Truncated]';
  seen.add(value);
  try {
    if (value instanceof Error) return serializeErrorInner(value, seen, depth);
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer)
      return `[binary ${value.byteLength} bytes]`;
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
    if (value instanceof URL) return maskText(value.href);
    if (Array.isArray(value)) return value.map((item) => redact(item, seen, depth + 1));
    if (value instanceof Map) return redactEntries(value.entries(), seen, depth);
    if (value instanceof Set) return [...value].map((item) => redact(item, seen, depth + 1));
    if (value instanceof EventEmitter) {
      // Requests, responses, sockets: summarise instead of walking a socket graph.
      if (isRequestLike(value)) {
        return redactEntries(
          Object.entries({ method: value.method, url: value.url, headers: value.headers }),
          seen,
          depth,
        );
      }
      if (isResponseLike(value)) {
        return redactEntries(
          Object.entries({ statusCode: value.statusCode, headers: value.getHeaders() }),
          seen,
          depth,
        );
      }
      return `[${value.constructor.name}]`;
    }
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return redact(toJSON.call(value), seen, depth + 1);
    return redactEntries(Object.entries(value), seen, depth);
  } finally {
    seen.delete(value);
  }
}

function redactEntries(
  entries: Iterable<[unknown, unknown]>,
  seen: WeakSet<object>,
  depth: number,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [rawKey, item] of entries) {
    const key = String(rawKey);
    out[key] =
      item !== null && item !== undefined && isSensitiveKey(key) ? REDACTED : redact(item, seen, depth + 1);
  }
  return out;
}

const ERROR_OWN_SKIP = new Set(['name', 'message', 'stack', 'cause', 'errors']);

function serializeErrorInner(error: Error, seen: WeakSet<object>, depth: number): Record<string, unknown> {
  seen.add(error);
  const out: Record<string, unknown> = {
    type: error.name || error.constructor?.name || 'Error',
    message: maskText(String(error.message ?? '')),
  };
  if (typeof error.stack === 'string') out.stack = maskText(error.stack);
  for (const [key, item] of Object.entries(error)) {
    if (ERROR_OWN_SKIP.has(key)) continue;
    out[key] =
      item !== null && item !== undefined && isSensitiveKey(key) ? REDACTED : redact(item, seen, depth + 1);
  }
  if (error.cause !== undefined) out.cause = redact(error.cause, seen, depth + 1);
  if (error instanceof AggregateError) out.errors = error.errors.map((item) => redact(item, seen, depth + 1));
  return out;
}

// pino's own redaction (fast, path-based) runs on top of the deep pass above; these
// paths keep well-known fields covered even for objects that reach pino another way
// (child bindings, serializers).
const REDACTED_FIELDS = [
  'password',
  'secret',
  'token',
  'accessToken',
  'access_token',
  'refreshToken',
  'apiKey',
  'api_key',
  'authorization',
  'cookie',
  'phone',
  'phoneNumber',
  'msisdn',
  'from',
  'to',
  'wa_id',
  'waId',
  'jid',
  'remoteJid',
  'body',
  'text',
  'caption',
  'creds',
  'qr',
  'pairingCode',
];

/** pino `redact.paths`: every sensitive field at the top level and one level down, plus HTTP headers. */
export const LOG_REDACT_PATHS: readonly string[] = [
  ...REDACTED_FIELDS.flatMap((field) => [field, `*.${field}`]),
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'headers["x-api-key"]',
  '*.headers.authorization',
  '*.headers.cookie',
  '*.headers["x-api-key"]',
];
