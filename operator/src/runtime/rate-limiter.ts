import { type Clock, systemClock } from './clock.ts';

/**
 * Decides how long a key waits before its next retry (client-go's `TypedRateLimiter`):
 * `when` is asked once per retry and counts it, `forget` clears the key's history after
 * a success, `numRequeues` reports how many retries the key has had since.
 */
export interface RateLimiter<K extends string = string> {
  /** Delay in milliseconds before `key` may be processed again; records one more failure. */
  when(key: K): number;
  /** Clears the failure history of `key` (call after it succeeded). */
  forget(key: K): void;
  /** Failures recorded for `key` since it was last forgotten. */
  numRequeues(key: K): number;
}

/** Options for `ItemExponentialRateLimiter`. */
export interface ItemExponentialRateLimiterOptions {
  /** Delay after the first failure; client-go's default is 5 ms. */
  baseDelayMs?: number;
  /** Upper bound on the delay; client-go's default is 1000 s. */
  maxDelayMs?: number;
}

/**
 * Per-key exponential backoff: base * 2^failures, capped (client-go's
 * `ItemExponentialFailureRateLimiter`). The 5 ms start keeps a transient conflict cheap;
 * the 1000 s cap keeps a permanently broken object from being retried in a hot loop.
 */
export class ItemExponentialRateLimiter<K extends string = string> implements RateLimiter<K> {
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly failures = new Map<K, number>();

  /** Creates the limiter with client-go's defaults unless overridden. */
  constructor(options: ItemExponentialRateLimiterOptions = {}) {
    this.baseDelayMs = options.baseDelayMs ?? 5;
    this.maxDelayMs = options.maxDelayMs ?? 1_000_000;
  }

  /** base * 2^(failures so far), at most the cap. */
  when(key: K): number {
    const exponent = this.failures.get(key) ?? 0;
    this.failures.set(key, exponent + 1);
    // 2^1024 is Infinity; the cap is reached long before that matters, but guard the math.
    const delay = this.baseDelayMs * 2 ** Math.min(exponent, 1000);
    return Number.isFinite(delay) ? Math.min(delay, this.maxDelayMs) : this.maxDelayMs;
  }

  /** Resets the key to the base delay. */
  forget(key: K): void {
    this.failures.delete(key);
  }

  /** Failures since the last `forget`. */
  numRequeues(key: K): number {
    return this.failures.get(key) ?? 0;
  }
}

/** Options for `BucketRateLimiter`. */
export interface BucketRateLimiterOptions {
  /** Sustained retries per second over all keys; client-go's controller default is 10. */
  qps?: number;
  /** Retries allowed at once before the rate applies; client-go's controller default is 100. */
  burst?: number;
  /** Time source; the system clock unless a test passes a fake. */
  clock?: Clock;
}

/**
 * A token bucket over all keys (client-go's `BucketRateLimiter`): bounds the overall retry
 * rate when many keys fail at once, e.g. when the API server comes back after an outage.
 * A reservation is taken even when it has to wait, as `rate.Limiter.Reserve` does.
 */
export class BucketRateLimiter<K extends string = string> implements RateLimiter<K> {
  private readonly qps: number;
  private readonly burst: number;
  private readonly clock: Clock;
  private tokens: number;
  private updatedAt: number;

  /** Creates a full bucket. */
  constructor(options: BucketRateLimiterOptions = {}) {
    this.qps = options.qps ?? 10;
    this.burst = options.burst ?? 100;
    this.clock = options.clock ?? systemClock;
    this.tokens = this.burst;
    this.updatedAt = this.clock.now();
  }

  /** Takes a token; the delay is how long until that token would have been refilled. */
  when(_key: K): number {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.updatedAt) / 1000) * this.qps);
    this.updatedAt = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.qps) * 1000;
  }

  /** The bucket keeps no per-key state. */
  forget(_key: K): void {}

  /** The bucket keeps no per-key state. */
  numRequeues(_key: K): number {
    return 0;
  }
}

/**
 * The longest delay of several limiters (client-go's `MaxOfRateLimiter`); every limiter
 * records the failure. `numRequeues` is the largest count any of them reports.
 */
export class MaxOfRateLimiter<K extends string = string> implements RateLimiter<K> {
  private readonly limiters: readonly RateLimiter<K>[];

  /** Combines `limiters`; at least one. */
  constructor(...limiters: RateLimiter<K>[]) {
    this.limiters = limiters;
  }

  /** Asks every limiter and returns the longest delay. */
  when(key: K): number {
    let delay = 0;
    for (const limiter of this.limiters) delay = Math.max(delay, limiter.when(key));
    return delay;
  }

  /** Forgets the key in every limiter. */
  forget(key: K): void {
    for (const limiter of this.limiters) limiter.forget(key);
  }

  /** The largest count of any limiter. */
  numRequeues(key: K): number {
    let count = 0;
    for (const limiter of this.limiters) count = Math.max(count, limiter.numRequeues(key));
    return count;
  }
}

/**
 * What controller-runtime gives every controller (client-go's
 * `DefaultTypedControllerRateLimiter`): per-key 5 ms doubling to 1000 s, and at most 10
 * retries a second overall with a burst of 100.
 */
export function defaultControllerRateLimiter<K extends string = string>(
  clock: Clock = systemClock,
): RateLimiter<K> {
  return new MaxOfRateLimiter<K>(
    new ItemExponentialRateLimiter<K>({ baseDelayMs: 5, maxDelayMs: 1_000_000 }),
    new BucketRateLimiter<K>({ qps: 10, burst: 100, clock }),
  );
}

/** Options for `TokenBucket`. */
export interface TokenBucketOptions {
  /** Sustained requests per second; 0 or less turns the limit off. */
  qps: number;
  /** Requests allowed at once before the rate applies; at least 1. */
  burst: number;
  /** Time source; the system clock unless a test passes a fake. */
  clock?: Clock;
}

/**
 * The client-side request limiter of client-go's rest client (`flowcontrol.NewTokenBucketRateLimiter`,
 * controller-runtime's QPS/Burst): a bucket of `burst` tokens refilled at `qps` a second;
 * `take` resolves when the caller's token is due. Waiters are served in order, because each
 * reservation is taken at once (the bucket may go negative) and its delay computed from it.
 */
export class TokenBucket {
  private readonly qps: number;
  private readonly burst: number;
  private readonly clock: Clock;
  private tokens: number;
  private updatedAt: number;

  /** Creates a full bucket. */
  constructor(options: TokenBucketOptions) {
    this.qps = options.qps;
    this.burst = Math.max(1, Math.floor(options.burst));
    this.clock = options.clock ?? systemClock;
    this.tokens = this.burst;
    this.updatedAt = this.clock.now();
  }

  /** Milliseconds until the next reserved token is due; reserves it. 0 when unlimited. */
  reserve(): number {
    if (this.qps <= 0) return 0;
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.updatedAt) / 1000) * this.qps);
    this.updatedAt = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.qps) * 1000;
  }

  /** Resolves when a token is available (at once while the burst lasts). */
  async take(): Promise<void> {
    const delay = this.reserve();
    if (delay <= 0) return;
    await new Promise<void>((resolve) => this.clock.setTimeout(resolve, delay));
  }
}
