/** Retry delays of outbound sends: exponential with full-range jitter, capped. */
export interface OutboundRetryPolicy {
  /** Attempts in all, the first included (default 8). */
  attempts: number;
  /** The first retry waits about this long (default 2 s), doubling after. */
  baseDelayMs: number;
  /** No delay is longer (default 5 min). */
  maxDelayMs: number;
}

export const DEFAULT_OUTBOUND_RETRY: OutboundRetryPolicy = {
  attempts: 8,
  baseDelayMs: 2_000,
  maxDelayMs: 300_000,
};

/** Delay before retry `attemptsMade` (1-based): base * 2^(n-1), capped, then jittered into [50%, 100%]. */
export function outboundBackoffMs(
  policy: OutboundRetryPolicy,
  attemptsMade: number,
  random: () => number = Math.random,
): number {
  const delay = Math.min(policy.baseDelayMs * 2 ** Math.max(0, attemptsMade - 1), policy.maxDelayMs);
  return Math.round(delay / 2 + (delay / 2) * random());
}
