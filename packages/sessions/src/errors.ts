/** Why a session operation failed; stable across releases (logs, metrics, API errors). */
export type SessionsErrorCode = 'STALE_EPOCH' | 'SESSION_NOT_FOUND' | 'INVALID_OPTIONS' | 'NOT_REPLICATED';

/** The base of this package's errors: a stable code, and whether retrying can help. */
export class SessionsError extends Error {
  /** Stable code. */
  readonly code: SessionsErrorCode;
  /** False when retrying cannot fix it (a newer owner exists; the session is gone). */
  readonly retryable: boolean;

  constructor(code: SessionsErrorCode, message: string, retryable = false) {
    super(message);
    this.name = 'SessionsError';
    this.code = code;
    this.retryable = retryable;
  }
}

/**
 * A write carried an epoch older than the session's current one: another worker claimed the
 * session since (this one was paused, partitioned or slow), so this write must not land.
 */
export class StaleEpochError extends SessionsError {
  /** The epoch the write carried. */
  readonly epoch: bigint;

  constructor(sessionId: string, epoch: bigint, what: string) {
    // Retryable: this worker must stop, but the work (a queued send, say) is valid and the
    // session's new owner should do it; the same code and flag as packages/channels' error.
    super(
      'STALE_EPOCH',
      `${what} for session ${sessionId} refused: epoch ${epoch} is no longer current`,
      true,
    );
    this.name = 'StaleEpochError';
    this.epoch = epoch;
  }
}
