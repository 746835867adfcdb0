/**
 * The API's error catalogue: every error a route may answer with, each with a stable `code`
 * clients can switch on and an HTTP `status`. Errors under 500 are answered with their code and
 * message (which says what was wrong); anything else is answered generically and logged in full.
 */

/** The catalogue: code -> HTTP status. Codes never change meaning once shipped. */
export const ERROR_CODES = {
  validation_failed: 400,
  invalid_cursor: 400,
  unauthenticated: 401,
  invalid_credentials: 401,
  token_expired: 401,
  refresh_token_reused: 401,
  invalid_reset_token: 400,
  forbidden: 403,
  insufficient_scope: 403,
  not_found: 404,
  route_not_found: 404,
  conflict: 409,
  declared_session: 409,
  idempotency_key_mismatch: 422,
  channel_unsupported: 422,
  media_type_mismatch: 422,
  payload_too_large: 413,
  unsupported_media_type: 415,
  account_locked: 429,
  rate_limited: 429,
  internal_error: 500,
  unavailable: 503,
} as const;

/** A stable error code from the catalogue. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** The one error class routes and services throw; the error handler maps it to a response. */
export class ApiError extends Error {
  /** The HTTP status, from the catalogue. */
  readonly status: number;
  /** Field-level problems (validation), each naming the field. */
  readonly issues: readonly ErrorIssue[] | undefined;
  /** Creates the error; `message` is shown to the client when status < 500. */
  /** The stable code. */
  readonly code: ErrorCode;
  constructor(
    code: ErrorCode,
    message: string,
    options: { issues?: readonly ErrorIssue[]; retryAfterSeconds?: number } = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = ERROR_CODES[code];
    this.issues = options.issues;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
  /** Seconds until a retry may succeed (lockouts, rate limits). */
  readonly retryAfterSeconds: number | undefined;
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
