// The cache's rules with a backend the test controls completely (what it answers, and when),
// so each rule is checked by forcing its precondition rather than by waiting. The same rules
// against real Vault and moto are in vault.test.ts and aws.test.ts.
import { describe, expect, it } from 'vitest';
import { SecretCache, type StaleSecretEvent } from './cache.ts';
import { SecretError } from './provider.ts';

function backend() {
  let answer: () => Promise<string> = async () => 'v1';
  let reads = 0;
  return {
    load: async (_path: string) => {
      reads++;
      return answer();
    },
    answer(next: () => Promise<string>) {
      answer = next;
    },
    reads: () => reads,
  };
}

function clock() {
  let now = 0;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

const unreadable = async (): Promise<string> => {
  throw new SecretError('SECRET_UNREADABLE', 'backend down (ECONNREFUSED)');
};

describe('SecretCache', () => {
  it('asks the backend once per TTL, and once for readers that arrive together', async () => {
    const store = backend();
    const time = clock();
    const cache = new SecretCache({
      provider: 't',
      load: store.load,
      canonical: String,
      ttlMs: 1000,
      now: time.now,
    });
    await expect(Promise.all([cache.read('a'), cache.read('a'), cache.read('a')])).resolves.toEqual([
      'v1',
      'v1',
      'v1',
    ]);
    expect(store.reads()).toBe(1);
    store.answer(async () => 'v2');
    time.advance(999);
    await expect(cache.read('a')).resolves.toBe('v1');
    time.advance(1);
    await expect(cache.read('a')).resolves.toBe('v2');
    expect(store.reads()).toBe(2);
    cache.close();
  });

  it('serves stale only on SECRET_UNREADABLE, at most maxStale past the TTL, retrying at most every 10 s', async () => {
    const store = backend();
    const time = clock();
    const events: StaleSecretEvent[] = [];
    const cache = new SecretCache({
      provider: 't',
      load: store.load,
      canonical: String,
      ttlMs: 60_000,
      maxStaleMs: 120_000,
      now: time.now,
      onStale: (event) => events.push(event),
    });
    await cache.read('a');
    store.answer(unreadable);
    time.advance(60_000);
    await expect(cache.read('a')).resolves.toBe('v1');
    expect(events.map((e) => [e.ageMs, e.servedUntil])).toEqual([[60_000, 180_000]]);
    // Within the retry interval the stale value is served without asking again.
    time.advance(9_999);
    await expect(cache.read('a')).resolves.toBe('v1');
    expect(store.reads()).toBe(2);
    time.advance(1);
    await expect(cache.read('a')).resolves.toBe('v1');
    expect(store.reads()).toBe(3);
    // The backend recovers: the fresh value, and a full TTL again.
    store.answer(async () => 'v2');
    time.advance(10_000);
    await expect(cache.read('a')).resolves.toBe('v2');
    // Another outage, ridden until the bound, then the error.
    store.answer(unreadable);
    time.advance(60_000 + 119_999);
    await expect(cache.read('a')).resolves.toBe('v2');
    time.advance(1);
    await expect(cache.read('a')).rejects.toMatchObject({ code: 'SECRET_UNREADABLE' });
    cache.close();
  });

  it.each(['SECRET_NOT_FOUND', 'SECRET_MALFORMED'] as const)(
    'does not serve stale after %s',
    async (code) => {
      const store = backend();
      const time = clock();
      const cache = new SecretCache({
        provider: 't',
        load: store.load,
        canonical: String,
        ttlMs: 1000,
        now: time.now,
      });
      await cache.read('a');
      store.answer(async () => {
        throw new SecretError(code, 'gone');
      });
      time.advance(1000);
      await expect(cache.read('a')).rejects.toMatchObject({ code });
      cache.close();
    },
  );

  it('turns a loader’s foreign error into SECRET_UNREADABLE without its message', async () => {
    const cache = new SecretCache({
      provider: 't',
      load: async () => {
        throw new Error('response body quoting hunter2');
      },
      canonical: String,
    });
    const error = await cache.read('a').catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'SECRET_UNREADABLE' });
    expect((error as Error).message).not.toContain('hunter2');
    cache.close();
  });

  it('refuses a TTL that is not positive', () => {
    expect(
      () => new SecretCache({ provider: 't', load: async () => 'x', canonical: String, ttlMs: 0 }),
    ).toThrow(/ttlMs must be positive/);
  });
});
