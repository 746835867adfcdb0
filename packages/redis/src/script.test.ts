import { randomUUID } from 'node:crypto';
import { redisOptions, uniquePrefix } from '@switchboard/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RedisScript } from './script.ts';

let redis: Redis;
beforeAll(() => {
  redis = new Redis({ ...redisOptions(), maxRetriesPerRequest: 1 });
});
afterAll(() => {
  redis.disconnect();
});

// A script text the server has never seen (the shared test server keeps scripts between files).
function freshScript(body: string): RedisScript {
  return new RedisScript(`-- ${randomUUID()}\n${body}`);
}

describe('RedisScript', () => {
  it('sends its text once, when the server lacks it, and runs by SHA after that', async () => {
    const script = freshScript(`return redis.call('INCRBY', KEYS[1], ARGV[1])`);
    const key = `${uniquePrefix('script')}counter`;
    const [known] = (await redis.script('EXISTS', script.sha)) as number[];
    expect(known).toBe(0);
    const evals = vi.spyOn(redis, 'eval');
    try {
      expect(await script.run(redis, [key], [2])).toBe(2);
      expect(evals).toHaveBeenCalledTimes(1);
      expect(((await redis.script('EXISTS', script.sha)) as number[])[0]).toBe(1);
      expect(await script.run(redis, [key], [3])).toBe(5);
      expect(await script.run(redis, [key], ['4'])).toBe(9);
      expect(evals).toHaveBeenCalledTimes(1);
    } finally {
      evals.mockRestore();
      await redis.del(key);
    }
  });

  it("passes on the script's own errors", async () => {
    const script = freshScript(`return redis.call('INCR', KEYS[1])`);
    const key = `${uniquePrefix('script')}text`;
    await redis.set(key, 'not a number');
    try {
      await script.run(redis, [key]).catch(() => undefined); // loads it
      await expect(script.run(redis, [key])).rejects.toThrow(/not an integer/);
    } finally {
      await redis.del(key);
    }
  });
});
