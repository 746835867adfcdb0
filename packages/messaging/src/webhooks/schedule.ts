/** How deliveries are retried. */
export interface WebhookRetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  /** Delay before the first retry, doubled each time. */
  baseDelayMs: number;
  /** No single delay is longer. */
  maxDelayMs: number;
  /** Each delay is randomised by up to this fraction either way. */
  jitter: number;
}

/**
 * 15 attempts, 10 s doubling to at most 10 min: the retries span about 1 h 55 min, so a receiver
 * down for an hour loses nothing.
 */
export const DEFAULT_WEBHOOK_RETRY: WebhookRetryPolicy = {
  attempts: 15,
  baseDelayMs: 10_000,
  maxDelayMs: 600_000,
  jitter: 0.2,
};

/** The delay before retry number `retry` (1-based), without jitter. */
export function retryDelayMs(policy: WebhookRetryPolicy, retry: number): number {
  return Math.min(policy.baseDelayMs * 2 ** (retry - 1), policy.maxDelayMs);
}

/** The same with jitter; `random` returns [0, 1). */
export function jitteredDelayMs(
  policy: WebhookRetryPolicy,
  retry: number,
  random: () => number = Math.random,
): number {
  const delay = retryDelayMs(policy, retry);
  return Math.round(delay * (1 - policy.jitter + 2 * policy.jitter * random()));
}

/** The shortest time from the first attempt to the last (every jitter at its minimum). */
export function minimumRetrySpanMs(policy: WebhookRetryPolicy): number {
  let total = 0;
  for (let retry = 1; retry < policy.attempts; retry++)
    total += retryDelayMs(policy, retry) * (1 - policy.jitter);
  return total;
}
