import { describe, expect, it } from 'vitest';
import { FakeClock } from './clock.ts';
import {
  BucketRateLimiter,
  defaultControllerRateLimiter,
  ItemExponentialRateLimiter,
  MaxOfRateLimiter,
} from './rate-limiter.ts';
import { WorkQueue, type WorkQueueMetrics } from './work-queue.ts';

// Resolves what is already queued without waiting: `get` on a non-empty queue resolves at once.
async function drainKeys<K extends string>(queue: WorkQueue<K>): Promise<K[]> {
  const keys: K[] = [];
  while (queue.len() > 0) {
    const key = await queue.get();
    if (key === undefined) break;
    keys.push(key);
  }
  return keys;
}

function recordingMetrics() {
  const calls = {
    added: 0,
    retried: 0,
    depth: [] as number[],
    queued: [] as number[],
    worked: [] as number[],
  };
  const metrics: WorkQueueMetrics = {
    added: () => {
      calls.added += 1;
    },
    retried: () => {
      calls.retried += 1;
    },
    depth: (n) => {
      calls.depth.push(n);
    },
    queued: (s) => {
      calls.queued.push(s);
    },
    worked: (s) => {
      calls.worked.push(s);
    },
  };
  return { calls, metrics };
}

describe('WorkQueue', () => {
  it('de-duplicates a key that is added again while it waits', async () => {
    const queue = new WorkQueue<string>({ clock: new FakeClock() });
    queue.add('ns/a');
    queue.add('ns/b');
    queue.add('ns/a');
    queue.add('ns/a');
    expect(queue.len()).toBe(2);
    expect(await drainKeys(queue)).toEqual(['ns/a', 'ns/b']);
  });

  it('never hands a key to two workers at once; an add during processing requeues it once, after done', async () => {
    const queue = new WorkQueue<string>({ clock: new FakeClock() });
    queue.add('ns/a');
    const first = await queue.get();
    expect(first).toBe('ns/a');
    expect(queue.isProcessing('ns/a')).toBe(true);

    queue.add('ns/a');
    queue.add('ns/a');
    // A second worker waiting now must not get ns/a while the first still holds it.
    let second: string | undefined | 'pending' = 'pending';
    const secondGet = queue.get().then((key) => {
      second = key;
    });
    await Promise.resolve();
    await Promise.resolve();
    expect(second).toBe('pending');
    expect(queue.len()).toBe(0);

    queue.done('ns/a');
    await secondGet;
    expect(second).toBe('ns/a');
    queue.done('ns/a');
    // Only one requeue for the two adds made during processing.
    expect(queue.len()).toBe(0);
    queue.shutDown();
    expect(await queue.get()).toBeUndefined();
  });

  it('wakes a waiting worker when a key arrives', async () => {
    const queue = new WorkQueue<string>({ clock: new FakeClock() });
    const waiting = queue.get();
    queue.add('ns/a');
    expect(await waiting).toBe('ns/a');
  });

  it('delays addAfter keys on the clock, keeping the earliest of several delays', async () => {
    const clock = new FakeClock();
    const { calls, metrics } = recordingMetrics();
    const queue = new WorkQueue<string>({ clock, metrics });
    queue.addAfter('ns/slow', 1000);
    queue.addAfter('ns/fast', 100);
    queue.addAfter('ns/slow', 300); // earlier than 1000: wins
    queue.addAfter('ns/fast', 500); // later than 100: ignored
    expect(queue.len()).toBe(0);
    expect(queue.delayedLen()).toBe(2);

    clock.advance(99);
    expect(queue.len()).toBe(0);
    clock.advance(1);
    expect(await drainKeys(queue)).toEqual(['ns/fast']);
    clock.advance(199);
    expect(queue.len()).toBe(0);
    clock.advance(1);
    expect(await drainKeys(queue)).toEqual(['ns/slow']);
    // The superseded 1000 ms delay does not add the key a second time.
    clock.advance(5000);
    expect(queue.len()).toBe(0);
    expect(queue.delayedLen()).toBe(0);
    expect(calls.retried).toBe(4);
  });

  it('adds at once for addAfter with no delay', () => {
    const queue = new WorkQueue<string>({ clock: new FakeClock() });
    queue.addAfter('ns/a', 0);
    expect(queue.len()).toBe(1);
  });

  it('backs off per key, doubling from 5 ms to the 1000 s cap, and forget resets it', async () => {
    const clock = new FakeClock();
    const queue = new WorkQueue<string>({ clock });
    const delays: number[] = [];
    for (let i = 0; i < 20; i += 1) {
      queue.addRateLimited('ns/a');
      const delay = clock.nextTimerAt()! - clock.now();
      // The key appears exactly when the backoff ends, not a millisecond before.
      clock.advance(delay - 1);
      expect(queue.len()).toBe(0);
      clock.advance(1);
      expect(queue.len()).toBe(1);
      delays.push(delay);
      queue.done((await queue.get())!);
    }
    expect(delays.slice(0, 10)).toEqual([5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560]);
    expect(queue.numRequeues('ns/a')).toBe(20);
    // 5 ms * 2^17 = 655 s is under the cap; 5 ms * 2^18 = 1311 s is over it.
    expect(delays[17]).toBe(655_360);
    expect(delays[18]).toBe(1_000_000);
    expect(delays[19]).toBe(1_000_000);

    queue.forget('ns/a');
    expect(queue.numRequeues('ns/a')).toBe(0);
    queue.addRateLimited('ns/a');
    clock.advance(4);
    expect(queue.len()).toBe(0);
    clock.advance(1);
    expect(queue.len()).toBe(1);
  });

  it('keeps backoff separate per key', () => {
    const limiter = new ItemExponentialRateLimiter<string>();
    expect([limiter.when('a'), limiter.when('a'), limiter.when('a')]).toEqual([5, 10, 20]);
    expect(limiter.when('b')).toBe(5);
    expect(limiter.numRequeues('a')).toBe(3);
    expect(limiter.numRequeues('b')).toBe(1);
  });

  it('shutDownWithDrain waits for keys in process, refuses new ones, still hands out queued ones', async () => {
    const clock = new FakeClock();
    const queue = new WorkQueue<string>({ clock });
    queue.add('ns/a');
    queue.add('ns/b');
    queue.addAfter('ns/later', 10);
    const a = await queue.get();
    expect(a).toBe('ns/a');

    let drained = false;
    const drain = queue.shutDownWithDrain().then(() => {
      drained = true;
    });
    expect(queue.shuttingDown()).toBe(true);
    queue.add('ns/c');
    expect(queue.len()).toBe(1); // only ns/b; ns/c was refused
    clock.advance(100);
    expect(queue.len()).toBe(1); // delayed keys were dropped

    const b = await queue.get();
    expect(b).toBe('ns/b');
    expect(await queue.get()).toBeUndefined();
    queue.done('ns/a');
    await Promise.resolve();
    expect(drained).toBe(false); // ns/b is still in process
    queue.done('ns/b');
    await drain;
    expect(drained).toBe(true);
  });

  it('releases waiting workers with undefined on shutDown', async () => {
    const queue = new WorkQueue<string>({ clock: new FakeClock() });
    const waiting = [queue.get(), queue.get()];
    queue.shutDown();
    expect(await Promise.all(waiting)).toEqual([undefined, undefined]);
  });

  it('reports adds, depth, queue latency, work duration and in-progress work', async () => {
    const clock = new FakeClock(1_000_000);
    const { calls, metrics } = recordingMetrics();
    const queue = new WorkQueue<string>({ clock, metrics });
    queue.add('ns/a');
    queue.add('ns/a');
    queue.add('ns/b');
    expect(calls.added).toBe(2);
    expect(calls.depth.at(-1)).toBe(2);

    clock.advance(250);
    const a = (await queue.get())!;
    expect(calls.queued).toEqual([0.25]);
    expect(calls.depth.at(-1)).toBe(1);
    clock.advance(1000);
    const b = (await queue.get())!;
    clock.advance(500);
    expect(queue.unfinishedWorkSeconds()).toBeCloseTo(1.5 + 0.5);
    expect(queue.longestRunningProcessorSeconds()).toBeCloseTo(1.5);
    queue.done(a);
    expect(calls.worked).toEqual([1.5]);
    queue.done(b);
    expect(queue.unfinishedWorkSeconds()).toBe(0);
    expect(queue.longestRunningProcessorSeconds()).toBe(0);
  });
});

describe('rate limiters', () => {
  it('the bucket allows a burst, then spaces retries at the rate', () => {
    const clock = new FakeClock();
    const bucket = new BucketRateLimiter<string>({ qps: 10, burst: 3, clock });
    expect([bucket.when('a'), bucket.when('b'), bucket.when('c')]).toEqual([0, 0, 0]);
    expect(bucket.when('d')).toBeCloseTo(100);
    expect(bucket.when('e')).toBeCloseTo(200);
    clock.advance(1000);
    // 1 s refills 10 tokens, capped at the burst of 3, minus the 2 owed.
    expect(bucket.when('f')).toBe(0);
  });

  it('max-of takes the longest delay; the controller default is exponential plus bucket', () => {
    const clock = new FakeClock();
    const combined = new MaxOfRateLimiter<string>(
      new ItemExponentialRateLimiter({ baseDelayMs: 5 }),
      new BucketRateLimiter({ qps: 1, burst: 1, clock }),
    );
    expect(combined.when('a')).toBe(5);
    expect(combined.when('b')).toBeCloseTo(1000); // bucket empty
    expect(combined.numRequeues('a')).toBe(1);
    combined.forget('a');
    expect(combined.numRequeues('a')).toBe(0);

    const defaults = defaultControllerRateLimiter<string>(clock);
    const first = [1, 2, 3, 4].map(() => defaults.when('x'));
    expect(first).toEqual([5, 10, 20, 40]);
  });
});
