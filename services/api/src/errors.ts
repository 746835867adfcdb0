/**
 * The API's error catalogue: every error a route may answer with, each with a stable `code`
 * clients can switch on and an HTTP `status`. Errors under 500 are answered with their code and
 * message (which says what was wrong); anything else is answered generically and logged in full.
 */

/**
 * The catalogue: code -> HTTP status and the message answered when nothing more specific is
 * said (a route's ApiError names the field or the reason instead). Codes never change meaning
 * once shipped.
 */
export const ERRORS = {
  validation_failed: { status: 400, message: 'the request is invalid' },
  invalid_cursor: { status: 400, message: 'the cursor is not one this list gave out' },
  unauthenticated: {
    status: 401,
    message: 'a valid Authorization: Bearer token or X-Api-Key header is required',
  },
  invalid_credentials: { status: 401, message: 'email or password is wrong' },
  token_expired: { status: 401, message: 'the access token has expired; refresh it' },
  refresh_token_reused: { status: 401, message: 'the refresh token was used before; sign in again' },
  // 400, not 401: on the signed-in routes (confirm, disable) a 401 would make clients refresh and retry.
  two_factor_code_invalid: { status: 400, message: 'the two-factor code is wrong, expired or already used' },
  invalid_reset_token: { status: 400, message: 'the password reset token is unknown, used or expired' },
  forbidden: { status: 403, message: 'your role does not allow this' },
  insufficient_scope: { status: 403, message: 'the API key lacks the scope this requires' },
  not_found: { status: 404, message: 'not found' },
  route_not_found: { status: 404, message: 'no such route' },
  conflict: { status: 409, message: 'the request conflicts with the current state' },
  owner_exists: {
    status: 409,
    message: 'the tenant already has an owner who can sign in; invite members from the inbox',
  },
  declared_session: { status: 409, message: 'this session is declared in the tenant spec; change it there' },
  idempotency_key_mismatch: { status: 422, message: 'the Idempotency-Key was used with another request' },
  channel_unsupported: { status: 422, message: "the session's channel cannot do this" },
  invalid_content: { status: 422, message: "the message content breaks WhatsApp's limits" },
  media_type_mismatch: { status: 422, message: 'the file is not of the type it declares' },
  search_too_broad: {
    status: 422,
    message: 'the search could not finish in the time allowed; search for at least 3 characters',
  },
  webhook_receiver_refused: {
    status: 422,
    message: 'the webhook receiver is an internal address (allow it with WEBHOOK_ALLOWED_HOSTS)',
  },
  payload_too_large: { status: 413, message: 'the request body is too large' },
  unsupported_media_type: { status: 415, message: 'the content type is not accepted' },
  account_locked: { status: 429, message: 'too many failed logins; try again later' },
  rate_limited: { status: 429, message: 'rate limit exceeded; retry later' },
  realtime_stream_limit: {
    status: 429,
    message: 'this credential has as many realtime streams open as allowed; close one first',
  },
  // Single sign-on (OpenID Connect): each refusal says what was wrong (sso/README.md).
  sso_not_configured: { status: 404, message: 'single sign-on is not set up for this tenant' },
  sso_state_invalid: {
    status: 400,
    message: 'this sign-in is unknown, expired, already used or was started in another browser; start again',
  },
  sso_callback_invalid: { status: 400, message: "the identity provider's answer is not valid" },
  sso_provider_refused: { status: 400, message: 'the identity provider refused the sign-in' },
  sso_code_rejected: { status: 400, message: 'the identity provider refused the authorization code' },
  sso_nonce_mismatch: { status: 400, message: "the ID token's nonce is not this sign-in's" },
  sso_id_token_invalid: { status: 400, message: 'the ID token failed verification' },
  sso_email_unverified: {
    status: 403,
    message: 'the identity provider has not verified this email address',
  },
  sso_domain_not_allowed: { status: 403, message: 'this email domain may not sign in to this tenant' },
  sso_not_a_member: { status: 403, message: 'this address is not a member of the tenant' },
  sso_identity_conflict: {
    status: 409,
    message: 'this member is linked to another account at the identity provider',
  },
  sso_required: { status: 403, message: 'this tenant signs in with single sign-on; use "Sign in with SSO"' },
  sso_provider_unavailable: {
    status: 502,
    message: 'the identity provider could not be reached; retry later',
  },
  internal_error: { status: 500, message: 'internal error' },
  unavailable: { status: 503, message: 'a backing service is unavailable; retry later' },
  database_busy: {
    status: 503,
    message: 'the database could not serve the request in time; retry after the Retry-After seconds',
  },
} as const satisfies Record<string, { status: number; message: string }>;

/** A stable error code from the catalogue. */
export type ErrorCode = keyof typeof ERRORS;

/** The one error class routes and services throw; the error handler maps it to a response. */
export class ApiError extends Error {
  /** The HTTP status, from the catalogue. */
  readonly status: number;
  /** Field-level problems (validation), each naming the field. */
  readonly issues: readonly ErrorIssue[] | undefined;
  /** The stable code. */
  readonly code: ErrorCode;
  /** Seconds until a retry may succeed (lockouts, rate limits). */
  readonly retryAfterSeconds: number | undefined;
  /** Creates the error; `message` (default: the catalogue's) is shown to the client when status < 500. */
  constructor(
    code: ErrorCode,
    message: string = ERRORS[code].message,
    options: { issues?: readonly ErrorIssue[]; retryAfterSeconds?: number } = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.issues = options.issues;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** One problem with one field of the request. */
export interface ErrorIssue {
  /** Where: `body.email`, `query.limit`, `params.id`. */
  path: string;
  /** What was wrong. */
  message: string;
}

/** Shorthand for the 404 every lookup answers when the row is absent (or another tenant's). */
export function notFound(what: string): ApiError {
  return new ApiError('not_found', `${what} not found`);
}
