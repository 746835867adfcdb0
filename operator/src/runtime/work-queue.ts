import { type Clock, type ClockTimer, systemClock } from './clock.ts';
import { ItemExponentialRateLimiter, type RateLimiter } from './rate-limiter.ts';

/**
 * What a work queue reports, as client-go's `workqueue.MetricsProvider` does; the
 * operator's Prometheus metrics implement it (`OperatorMetrics.workQueue`). Unfinished
 * work and the longest running processor are read from the queue at scrape time instead.
 */
export interface WorkQueueMetrics {
  /** A key became dirty (`adds`). */
  added(): void;
  /** The number of keys waiting to be handed out changed (`depth`). */
  depth(items: number): void;
  /** A key waited `seconds` between being added and handed out (`queue_duration`). */
  queued(seconds: number): void;
  /** A key was processed for `seconds`, from `get` to `done` (`work_duration`). */
  worked(seconds: number): void;
  /** A key was scheduled for later (`addAfter`, `addRateLimited`) (`retries`). */
  retried(): void;
}

/** Options for `WorkQueue`. */
export interface WorkQueueOptions<K extends string> {
  /**
   * Backoff for `addRateLimited`; default per-key exponential 5 ms doubling to 1000 s.
   * Pass `defaultControllerRateLimiter()` to add controller-runtime's overall token bucket.
   */
  rateLimiter?: RateLimiter<K>;
  /** Time source for delays and durations; the system clock unless a test passes a fake. */
  clock?: Clock;
  /** Metric hooks; none by default. */
  metrics?: WorkQueueMetrics;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

interface Delayed<K> {
  readonly key: K;
  readonly readyAt: number;
}

/**
 * A de-duplicating work queue with client-go's semantics: a key waits at most once however
 * often it is added; a key being processed is never handed to a second worker, and adding
 * it meanwhile queues it once more for after `done`; `addAfter` and `addRateLimited` delay
 * a key; shutting down stops new adds but still hands out what is queued, so `get` returns
 * `undefined` only when the queue is shut down and empty.
 */
export class WorkQueue<K extends string> {
  private readonly clock: Clock;
  private readonly rateLimiter: RateLimiter<K>;
  private readonly metrics: WorkQueueMetrics | undefined;

  // Keys to hand out, in order; `head` avoids O(n) shifts on a busy queue.
  private queue: K[] = [];
  private head = 0;
  // Keys that need processing (queued, or re-added while processing).
  private readonly dirty = new Set<K>();
  // Keys handed out and not yet done, with when they were handed out.
  private readonly processing = new Map<K, number>();
  // When each dirty key was first added, for the queue-latency metric.
  private readonly addedAt = new Map<K, number>();
  private readonly waiters: ((key: K | undefined) => void)[] = [];
  private readonly drainWaiters: (() => void)[] = [];
  private shuttingDownFlag = false;

  // Delayed keys: a min-heap on readyAt; `delayedAt` holds each key's current (earliest)
  // time, so heap entries that no longer match it are stale and skipped.
  private readonly delayedHeap: Delayed<K>[] = [];
  private readonly delayedAt = new Map<K, number>();
  private delayTimer: ClockTimer | undefined;
  private delayTimerAt = Number.POSITIVE_INFINITY;

  /** Creates an empty queue. */
  constructor(options: WorkQueueOptions<K> = {}) {
    this.clock = options.clock ?? systemClock;
    this.rateLimiter = options.rateLimiter ?? new ItemExponentialRateLimiter<K>();
    this.metrics = options.metrics;
  }

  /** Marks `key` as needing processing; a no-op if it is already waiting or after shutdown. */
  add(key: K): void {
    if (this.shuttingDownFlag || this.dirty.has(key)) return;
    this.dirty.add(key);
    this.metrics?.added();
    if (!this.addedAt.has(key)) this.addedAt.set(key, this.clock.now());
    // Being processed: `done` puts it back, so one worker at a time sees it.
    if (this.processing.has(key)) return;
    this.queue.push(key);
    this.metrics?.depth(this.len());
    this.handOut();
  }

  /**
   * The next key to process, waiting until there is one; `undefined` once the queue is shut
   * down and empty. Call `done(key)` when finished with it.
   */
  get(): Promise<K | undefined> {
    if (this.len() > 0) return Promise.resolve(this.take());
    if (this.shuttingDownFlag) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Marks `key` as processed; if it was added meanwhile, it is queued again now. */
  done(key: K): void {
    const startedAt = this.processing.get(key);
    if (startedAt === undefined) return;
    this.metrics?.worked((this.clock.now() - startedAt) / 1000);
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      this.queue.push(key);
      this.metrics?.depth(this.len());
      this.handOut();
    }
    if (this.processing.size === 0) {
      for (const resolve of this.drainWaiters.splice(0)) resolve();
    }
  }

  /** Adds `key` after `ms` milliseconds; of several pending delays for one key the earliest wins. */
  addAfter(key: K, ms: number): void {
    if (this.shuttingDownFlag) return;
    this.metrics?.retried();
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const readyAt = this.clock.now() + ms;
    const current = this.delayedAt.get(key);
    if (current !== undefined && current <= readyAt) return;
    this.delayedAt.set(key, readyAt);
    this.heapPush({ key, readyAt });
    this.scheduleDelayed();
  }

  /** Adds `key` after the rate limiter's delay for it (one more failure recorded). */
  addRateLimited(key: K): void {
    this.addAfter(key, this.rateLimiter.when(key));
  }

  /** Clears the rate limiter's failure history for `key`; call after a success. */
  forget(key: K): void {
    this.rateLimiter.forget(key);
  }

  /** How many times `key` was rate-limited since it was last forgotten. */
  numRequeues(key: K): number {
    return this.rateLimiter.numRequeues(key);
  }

  /** Keys waiting to be handed out (not counting delayed or in-process ones). */
  len(): number {
    return this.queue.length - this.head;
  }

  /** Keys waiting for their `addAfter` delay. */
  delayedLen(): number {
    return this.delayedAt.size;
  }

  /** Whether `key` is handed out and not yet done. */
  isProcessing(key: K): boolean {
    return this.processing.has(key);
  }

  /** Whether `shutDown` or `shutDownWithDrain` was called. */
  shuttingDown(): boolean {
    return this.shuttingDownFlag;
  }

  /**
   * Stops accepting keys and drops delayed ones; queued keys are still handed out, then
   * `get` returns `undefined`. Does not wait for keys being processed.
   */
  shutDown(): void {
    if (!this.shuttingDownFlag) {
      this.shuttingDownFlag = true;
      if (this.delayTimer !== undefined) this.clock.clearTimeout(this.delayTimer);
      this.delayTimer = undefined;
      this.delayTimerAt = Number.POSITIVE_INFINITY;
      this.delayedHeap.length = 0;
      this.delayedAt.clear();
    }
    if (this.len() === 0) {
      for (const resolve of this.waiters.splice(0)) resolve(undefined);
    }
  }

  /** `shutDown`, then resolves once every key handed out has been marked done. */
  shutDownWithDrain(): Promise<void> {
    this.shutDown();
    if (this.processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Seconds of work in progress: the sum over keys being processed of how long they have run. */
  unfinishedWorkSeconds(): number {
    const now = this.clock.now();
    let total = 0;
    for (const startedAt of this.processing.values()) total += now - startedAt;
    return total / 1000;
  }

  /** Seconds the longest-running key in progress has run; 0 when idle. */
  longestRunningProcessorSeconds(): number {
    const now = this.clock.now();
    let longest = 0;
    for (const startedAt of this.processing.values()) longest = Math.max(longest, now - startedAt);
    return longest / 1000;
  }

  private take(): K {
    const key = this.queue[this.head]!;
    this.head += 1;
    // Compact once the consumed prefix dominates, keeping pops O(1) amortised.
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    const now = this.clock.now();
    const addedAt = this.addedAt.get(key);
    if (addedAt !== undefined) this.metrics?.queued((now - addedAt) / 1000);
    this.addedAt.delete(key);
    this.processing.set(key, now);
    this.dirty.delete(key);
    this.metrics?.depth(this.len());
    return key;
  }

  private handOut(): void {
    while (this.waiters.length > 0 && this.len() > 0) {
      const resolve = this.waiters.shift()!;
      resolve(this.take());
    }
  }

  private scheduleDelayed(): void {
    this.dropStaleHeapTop();
    const top = this.delayedHeap[0];
    if (top === undefined || top.readyAt >= this.delayTimerAt) return;
    if (this.delayTimer !== undefined) this.clock.clearTimeout(this.delayTimer);
    this.delayTimerAt = top.readyAt;
    // Node fires timers longer than 2^31-1 ms at once; a capped timer that fires early
    // finds nothing ready and schedules the rest.
    const wait = Math.min(top.readyAt - this.clock.now(), MAX_TIMER_MS);
    this.delayTimer = this.clock.setTimeout(() => this.fireDelayed(), wait);
  }

  private fireDelayed(): void {
    this.delayTimer = undefined;
    this.delayTimerAt = Number.POSITIVE_INFINITY;
    const now = this.clock.now();
    for (;;) {
      this.dropStaleHeapTop();
      const top = this.delayedHeap[0];
      if (top === undefined || top.readyAt > now) break;
      this.heapPop();
      this.delayedAt.delete(top.key);
      this.add(top.key);
    }
    this.scheduleDelayed();
  }

  private dropStaleHeapTop(): void {
    for (;;) {
      const top = this.delayedHeap[0];
      if (top === undefined || this.delayedAt.get(top.key) === top.readyAt) return;
      this.heapPop();
    }
  }

  private heapPush(entry: Delayed<K>): void {
    const heap = this.delayedHeap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.readyAt <= heap[i]!.readyAt) break;
      [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
      i = parent;
    }
  }

  private heapPop(): void {
    const heap = this.delayedHeap;
    const last = heap.pop();
    if (last === undefined || heap.length === 0) return;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < heap.length && heap[left]!.readyAt < heap[smallest]!.readyAt) smallest = left;
      if (right < heap.length && heap[right]!.readyAt < heap[smallest]!.readyAt) smallest = right;
      if (smallest === i) return;
      [heap[smallest], heap[i]] = [heap[i]!, heap[smallest]!];
      i = smallest;
    }
  }
}
