/**
 * The channel port's errors: one base with a stable `code`, the HTTP `status` it maps to, and
 * whether retrying can help; every adapter throws these and nothing else from the port.
 */

/** Stable codes for everything a channel operation can fail with. */
export type ChannelErrorCode =
  | 'STALE_EPOCH'
  | 'NOT_CONNECTED'
  | 'LOGGED_OUT'
  | 'INVALID_NUMBER'
  | 'INVALID_CONTENT'
  | 'ALREADY_PAIRED'
  | 'PAIRING_UNSUPPORTED'
  | 'PAIRING_FAILED'
  | 'SEND_FAILED'
  | 'FENCE_UNAVAILABLE'
  | 'TIMEOUT'
  | 'MEDIA_DOWNLOAD_FAILED';

/**
 * The base of this package's errors: a stable `code`, the HTTP `status` an API would answer
 * with, and whether retrying can ever help. Messages never contain message content.
 */
export class ChannelError extends Error {
  /** Stable code; callers switch on it. */
  readonly code: ChannelErrorCode;
  /** The HTTP status this maps to at the API. */
  readonly status: number;
  /** True when retrying cannot fix it: queue processors fail the job without retries. */
  readonly unrecoverable: boolean;
  /** For retryable errors: how long the provider asks to wait before the next try (rate limits). */
  readonly retryAfterMs: number | undefined;
  /** The provider's own error code (Cloud API: Graph's `error.code`), for logs and metrics. */
  readonly providerCode: number | undefined;

  /** Creates an error; `message` must not contain message content or secrets. */
  constructor(
    code: ChannelErrorCode,
    message: string,
    options: {
      status?: number;
      unrecoverable?: boolean;
      cause?: unknown;
      retryAfterMs?: number;
      providerCode?: number;
    } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ChannelError';
    this.code = code;
    this.status = options.status ?? 503;
    this.unrecoverable = options.unrecoverable ?? false;
    this.retryAfterMs = options.retryAfterMs;
    this.providerCode = options.providerCode;
  }
}

/** An error retrying cannot fix: the session is logged out, the number or the content is invalid. */
export class UnrecoverableChannelError extends ChannelError {
  /** Creates an unrecoverable error (status 4xx by default). */
  constructor(
    code: ChannelErrorCode,
    message: string,
    options: { status?: number; cause?: unknown; providerCode?: number } = {},
  ) {
    super(code, message, {
      status: options.status ?? 422,
      unrecoverable: true,
      cause: options.cause,
      ...(options.providerCode === undefined ? {} : { providerCode: options.providerCode }),
    });
    this.name = 'UnrecoverableChannelError';
  }
}

/**
 * A write or send carried an epoch older than the session's fence: another worker claimed the
 * session, so this one must stop. Not `unrecoverable`: the message itself is fine and the new
 * owner will send it, so a queue job failing with this must stay retryable.
 */
export class StaleEpochError extends ChannelError {
  /** The epoch the refused operation carried. */
  readonly epoch: bigint;
  /** The fence it met. */
  readonly fence: bigint;

  /** Creates the error for `what` (e.g. `creds save`, `send`). */
  constructor(sessionId: string, epoch: bigint, fence: bigint, what: string) {
    super(
      'STALE_EPOCH',
      `${what} for session ${sessionId} refused: epoch ${epoch} is behind the fence ${fence}`,
      {
        status: 409,
      },
    );
    this.name = 'StaleEpochError';
    this.epoch = epoch;
    this.fence = fence;
  }
}

/** Whether `error` is a channel error that retrying cannot fix. */
export function isUnrecoverable(error: unknown): boolean {
  return error instanceof ChannelError && error.unrecoverable;
}
