/** A handle returned by `Clock.setTimeout`, passed back to `Clock.clearTimeout`. */
export type ClockTimer = unknown;

/**
 * Time as the runtime sees it. The work queue and the rate limiters take one so tests can
 * step through backoff sequences (5 ms, 10 ms, ... 1000 s) without waiting for them.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `callback` once after `ms` milliseconds. */
  setTimeout(callback: () => void, ms: number): ClockTimer;
  /** Cancels a timer from `setTimeout`; unknown or fired timers are ignored. */
  clearTimeout(timer: ClockTimer): void;
}

/** The real clock: `Date.now` and Node's timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout),
};

interface FakeTimer {
  readonly id: number;
  readonly at: number;
  readonly callback: () => void;
}

/**
 * A clock that only moves when told to (`advance`), firing due timers in time order;
 * for tests of code that takes a `Clock`.
 */
export class FakeClock implements Clock {
  private current: number;
  private nextId = 1;
  private timers: FakeTimer[] = [];

  /** Starts at `start` milliseconds (default 0). */
  constructor(start = 0) {
    this.current = start;
  }

  /** The fake time. */
  now(): number {
    return this.current;
  }

  /** Schedules `callback` at now + ms (a negative delay counts as 0). */
  setTimeout(callback: () => void, ms: number): ClockTimer {
    const timer: FakeTimer = { id: this.nextId++, at: this.current + Math.max(0, ms), callback };
    this.timers.push(timer);
    return timer.id;
  }

  /** Cancels a scheduled timer. */
  clearTimeout(timer: ClockTimer): void {
    this.timers = this.timers.filter((t) => t.id !== timer);
  }

  /** When the next timer falls due, or undefined when none is scheduled. */
  nextTimerAt(): number | undefined {
    let next: number | undefined;
    for (const timer of this.timers) if (next === undefined || timer.at < next) next = timer.at;
    return next;
  }

  /** Number of timers not yet fired. */
  pendingTimers(): number {
    return this.timers.length;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due on the way in order,
   * with `now()` equal to each timer's due time while it runs (timers scheduled by a
   * callback fire too if they fall inside the window).
   */
  advance(ms: number): void {
    const end = this.current + ms;
    for (;;) {
      let next: FakeTimer | undefined;
      for (const timer of this.timers) {
        if (
          timer.at <= end &&
          (next === undefined || timer.at < next.at || (timer.at === next.at && timer.id < next.id))
        ) {
          next = timer;
        }
      }
      if (next === undefined) break;
      const due = next;
      this.timers = this.timers.filter((t) => t !== due);
      this.current = Math.max(this.current, due.at);
      due.callback();
    }
    this.current = end;
  }
}
