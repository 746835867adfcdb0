/** The `Status` object the API server returns with an error (and in watch ERROR events). */
export interface KubeStatus {
  /** Always `Status`. */
  kind?: string;
  /** `Failure` for errors. */
  status?: string;
  /** Human-readable description. */
  message?: string;
  /** Machine-readable reason: `NotFound`, `Conflict`, `Expired`, `Gone`, ... */
  reason?: string;
  /** The HTTP status code it stands for. */
  code?: number;
}

/** An API request answered with a non-2xx status, or a watch ERROR event. */
export class ApiStatusError extends Error {
  /** HTTP status code (410 for an expired resourceVersion, 409 for a conflict, ...). */
  readonly statusCode: number;
  /** The server's `Status` body, when it sent one. */
  readonly status: KubeStatus | undefined;

  /** Creates the error from the status code and the server's `Status`. */
  constructor(statusCode: number, status: KubeStatus | undefined, context: string) {
    super(
      `${context}: ${statusCode}${status?.reason ? ` ${status.reason}` : ''}${status?.message ? `: ${status.message}` : ''}`,
    );
    this.name = 'ApiStatusError';
    this.statusCode = statusCode;
    this.status = status;
  }
}

/** Leader election timings that cannot work (client-go refuses the same ones). */
export class LeaderElectionConfigError extends Error {
  /** Creates the error; the message names the rule broken. */
  constructor(message: string) {
    super(message);
    this.name = 'LeaderElectionConfigError';
  }
}

/** Informers did not finish their initial list in time. */
export class CacheSyncTimeoutError extends Error {
  /** Creates the error; the message names the informers still syncing. */
  constructor(message: string) {
    super(message);
    this.name = 'CacheSyncTimeoutError';
  }
}

/**
 * Thrown by a reconcile for a failure that retrying cannot fix (an invalid spec, a
 * missing referenced object the user must create): it is logged and counted as an error,
 * but the key is not requeued with backoff; the next change to the object triggers a new
 * reconcile. controller-runtime's `reconcile.TerminalError`.
 */
export class TerminalReconcileError extends Error {
  /** Wraps `cause` (optional) with a message saying what the user must fix. */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TerminalReconcileError';
  }
}
