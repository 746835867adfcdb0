/** Runs `fn` after `ms`; returns the way to cancel it. Injected so tests control time. */
export interface Scheduler {
  setTimeout(fn: () => void, ms: number): () => void;
}

/** Node's timers. */
export const realScheduler: Scheduler = {
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  },
};
