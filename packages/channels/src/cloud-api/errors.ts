/**
 * Graph API errors to ChannelErrors. Meta says to switch on `error.code` (titles will go), so
 * the table is by code; the codes are from Meta's "WhatsApp error codes" page.
 */
import { z } from 'zod';
import { ChannelError, type ChannelErrorCode, UnrecoverableChannelError } from '../errors.ts';

/** Graph's error body, loosely: only what the mapping reads. */
export const graphErrorBodySchema = z.object({
  error: z.looseObject({
    message: z.string().optional(),
    type: z.string().optional(),
    code: z.number().int(),
    error_subcode: z.number().int().optional(),
    error_data: z.looseObject({ details: z.string().optional() }).optional(),
    fbtrace_id: z.string().optional(),
  }),
});
/** A parsed Graph error body. */
export type GraphErrorBody = z.infer<typeof graphErrorBodySchema>;

interface Mapping {
  code: ChannelErrorCode;
  unrecoverable: boolean;
  status: number;
  /** Retry hint for the rate limits. */
  retryAfterMs?: number;
  why: string;
}

/** Every Graph code this adapter maps, and why it maps the way it does. */
export const GRAPH_ERROR_MAPPINGS: Record<number, Mapping> = {
  // Token problems: retrying with the same token cannot help; the tenant must put a new token
  // in the session's secret. Treated like an unlinked Baileys session (LOGGED_OUT).
  0: {
    code: 'LOGGED_OUT',
    unrecoverable: true,
    status: 401,
    why: 'AuthException: the access token was refused',
  },
  190: { code: 'LOGGED_OUT', unrecoverable: true, status: 401, why: 'access token expired or invalid' },
  // Permission: the token lacks whatsapp_business_messaging, or the app lost access to the WABA.
  10: { code: 'SEND_FAILED', unrecoverable: true, status: 403, why: 'permission denied' },
  200: { code: 'SEND_FAILED', unrecoverable: true, status: 403, why: 'permission denied' },
  // Throughput: the number's messages-per-second limit (about 80/s by default). Back off briefly.
  130429: {
    code: 'SEND_FAILED',
    unrecoverable: false,
    status: 429,
    retryAfterMs: 1_000,
    why: 'throughput limit hit',
  },
  // The WhatsApp Business Account's own rate limit; Meta's guidance is to wait and retry.
  80007: {
    code: 'SEND_FAILED',
    unrecoverable: false,
    status: 429,
    retryAfterMs: 60_000,
    why: 'account rate limit hit',
  },
  // Graph's app-level call limit.
  4: {
    code: 'SEND_FAILED',
    unrecoverable: false,
    status: 429,
    retryAfterMs: 60_000,
    why: 'too many API calls',
  },
  // Pair rate limit: too many messages to the same recipient in a short time (roughly one per
  // 6 s sustained). Retry to that recipient later; other recipients are unaffected.
  131056: {
    code: 'SEND_FAILED',
    unrecoverable: false,
    status: 429,
    retryAfterMs: 6_000,
    why: 'pair rate limit hit: too many messages to this recipient',
  },
  // Spam rate limit: Meta throttles the number for quality reasons; a retry later may pass.
  131048: {
    code: 'SEND_FAILED',
    unrecoverable: false,
    status: 429,
    retryAfterMs: 60_000,
    why: 'spam rate limit hit',
  },
  // Meta-side failures: retry.
  1: { code: 'SEND_FAILED', unrecoverable: false, status: 503, why: 'Graph API unknown error' },
  2: {
    code: 'SEND_FAILED',
    unrecoverable: false,
    status: 503,
    why: 'Graph API service temporarily unavailable',
  },
  131000: { code: 'SEND_FAILED', unrecoverable: false, status: 503, why: 'something went wrong at Meta' },
  131016: { code: 'SEND_FAILED', unrecoverable: false, status: 503, why: 'Cloud API service unavailable' },
  133004: { code: 'SEND_FAILED', unrecoverable: false, status: 503, why: 'server temporarily unavailable' },
  // Outside the 24-hour customer service window: only a template can be sent. Retrying the same
  // free-form message never works, so fail it and let the caller send a template.
  131047: {
    code: 'INVALID_CONTENT',
    unrecoverable: true,
    status: 422,
    why: 'outside the 24-hour customer service window: send a template',
  },
  // The recipient cannot get the message (not on WhatsApp, old app, ...).
  131026: {
    code: 'INVALID_NUMBER',
    unrecoverable: true,
    status: 422,
    why: 'message undeliverable to this number',
  },
  // Test numbers only: the recipient is not in the app's allowed list.
  131030: {
    code: 'INVALID_NUMBER',
    unrecoverable: true,
    status: 422,
    why: 'recipient not in the allowed list',
  },
  // Sending to our own number.
  131021: { code: 'INVALID_NUMBER', unrecoverable: true, status: 422, why: 'recipient is the sender' },
  // The request itself is wrong: retrying sends the same wrong thing.
  100: { code: 'INVALID_CONTENT', unrecoverable: true, status: 400, why: 'invalid parameter' },
  131008: { code: 'INVALID_CONTENT', unrecoverable: true, status: 400, why: 'required parameter missing' },
  131009: { code: 'INVALID_CONTENT', unrecoverable: true, status: 400, why: 'parameter value not valid' },
  131051: { code: 'INVALID_CONTENT', unrecoverable: true, status: 400, why: 'unsupported message type' },
  // Media that Meta could not fetch or that is over the type's size limit.
  131052: { code: 'INVALID_CONTENT', unrecoverable: true, status: 400, why: 'media download error' },
  131053: {
    code: 'INVALID_CONTENT',
    unrecoverable: true,
    status: 400,
    why: 'media upload error (unsupported or too large)',
  },
  // Template errors: missing, paused, wrong parameters.
  132000: {
    code: 'INVALID_CONTENT',
    unrecoverable: true,
    status: 400,
    why: 'template parameter count mismatch',
  },
  132001: { code: 'INVALID_CONTENT', unrecoverable: true, status: 400, why: 'template does not exist' },
  132005: {
    code: 'INVALID_CONTENT',
    unrecoverable: true,
    status: 400,
    why: 'template hydrated text too long',
  },
  132007: {
    code: 'INVALID_CONTENT',
    unrecoverable: true,
    status: 400,
    why: 'template format character policy violated',
  },
  132012: {
    code: 'INVALID_CONTENT',
    unrecoverable: true,
    status: 400,
    why: 'template parameter format mismatch',
  },
  132015: { code: 'INVALID_CONTENT', unrecoverable: true, status: 400, why: 'template is paused' },
  132016: { code: 'INVALID_CONTENT', unrecoverable: true, status: 400, why: 'template is disabled' },
  // The business side cannot send at all until someone fixes the account.
  131031: { code: 'SEND_FAILED', unrecoverable: true, status: 403, why: 'business account locked' },
  131042: {
    code: 'SEND_FAILED',
    unrecoverable: true,
    status: 402,
    why: 'business eligibility payment issue',
  },
  133010: {
    code: 'SEND_FAILED',
    unrecoverable: true,
    status: 409,
    why: 'business phone number not registered',
  },
  368: {
    code: 'SEND_FAILED',
    unrecoverable: true,
    status: 403,
    why: 'temporarily blocked for policy violations',
  },
};

/**
 * Maps a Graph error response to a ChannelError. Unknown codes: retryable when the HTTP status is
 * 5xx or 429, unrecoverable otherwise (a 4xx Meta did not explain will be refused again).
 */
export function channelErrorFromGraph(httpStatus: number, body: unknown, what = 'send'): ChannelError {
  const parsed = graphErrorBodySchema.safeParse(body);
  if (!parsed.success) {
    const retryable = httpStatus >= 500 || httpStatus === 429;
    const message = `${what}: Graph answered ${httpStatus} without an error body`;
    return retryable
      ? new ChannelError('SEND_FAILED', message, { status: 503 })
      : new UnrecoverableChannelError('SEND_FAILED', message, { status: 502 });
  }
  const { code, error_subcode: subcode, fbtrace_id: trace } = parsed.data.error;
  const mapping = GRAPH_ERROR_MAPPINGS[code];
  const where = `${subcode === undefined ? '' : `/${subcode}`}${trace ? ` (fbtrace_id ${trace})` : ''}`;
  if (!mapping) {
    const message = `${what}: Graph error ${code}${where} (HTTP ${httpStatus})`;
    return httpStatus >= 500 || httpStatus === 429
      ? new ChannelError('SEND_FAILED', message, { status: 503, providerCode: code })
      : new UnrecoverableChannelError('SEND_FAILED', message, { status: 502, providerCode: code });
  }
  // Graph's `details` names the parameter, never message content, so it is safe to keep.
  const details = parsed.data.error.error_data?.details;
  const message = `${what}: ${mapping.why} (Graph error ${code}${where})${details ? `: ${details}` : ''}`;
  return mapping.unrecoverable
    ? new UnrecoverableChannelError(mapping.code, message, { status: mapping.status, providerCode: code })
    : new ChannelError(mapping.code, message, {
        status: mapping.status,
        providerCode: code,
        ...(mapping.retryAfterMs === undefined ? {} : { retryAfterMs: mapping.retryAfterMs }),
      });
}
