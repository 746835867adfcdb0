import { DbBusyError } from '@switchboard/db';

/**
 * Runs at most `size` searches at once; one more waits for a turn up to `waitMs`, then fails
 * with DbBusyError (reason pool_timeout: a 503 database_busy with Retry-After), as a wait for a
 * pooled connection would. With `size` below the pool's size, the other routes always find a
 * connection, however many searches arrive.
 */
export class SearchLane {
  readonly size: number;
  readonly waitMs: number;
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(options: { size: number; waitMs: number }) {
    if (!Number.isSafeInteger(options.size) || options.size < 1)
      throw new RangeError(`SearchLane size must be a whole number >= 1, got ${options.size}`);
    this.size = options.size;
    this.waitMs = options.waitMs;
  }

  /** Searches running now. */
  get running(): number {
    return this.#running;
  }

  /** Runs `fn` once a turn is free (at once when one is). */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    await this.#acquire();
    try {
      return await fn();
    } finally {
      this.#release();
    }
  }

  async #acquire(): Promise<void> {
    if (this.#running < this.size) {
      this.#running++;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const turn = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiting.splice(this.#waiting.indexOf(turn), 1);
        reject(new DbBusyError('pool_timeout'));
      }, this.waitMs);
      this.#waiting.push(turn);
    });
  }

  // A finished search hands its turn to the next waiting one (running stays the same) or frees it.
  #release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#running--;
  }
}
