/**
 * Reconnect delays. When WhatsApp has an outage every session of every worker drops at once;
 * exponential growth keeps a long outage from turning into a reconnect storm, and jitter
 * spreads the sessions' attempts so they do not all arrive in the same second when it ends.
 */

/** How reconnect delays grow. */
export interface BackoffPolicy {
  /** Delay before the first attempt. */
  initialMs: number;
  /** Ceiling: no delay is longer. */
  maxMs: number;
  /** Growth per attempt. */
  multiplier: number;
  /**
   * Fraction of the delay taken off at random (0..1). With 0.5 and a multiplier of 2 the
   * ranges of consecutive attempts ([0.5d, d], [d, 2d]) never overlap, so delays still grow.
   */
  jitter: number;
}

/** One second, doubling, at most two minutes, up to half of each delay jittered away. */
export const DEFAULT_BACKOFF: BackoffPolicy = {
  initialMs: 1_000,
  maxMs: 120_000,
  multiplier: 2,
  jitter: 0.5,
};

/** The delay before reconnect attempt `attempt` (1-based); `random` returns [0, 1). */
export function backoffDelay(
  attempt: number,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
  random = Math.random,
): number {
  const exponent = Math.max(0, attempt - 1);
  const ceiling = Math.min(policy.maxMs, policy.initialMs * policy.multiplier ** exponent);
  const jitter = Math.min(1, Math.max(0, policy.jitter));
  return Math.round(ceiling * (1 - jitter * random()));
}
