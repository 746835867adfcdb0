/**
 * Test-only, for this package's Baileys test files (it registers vitest hooks, so it is not
 * exported from `testing/index.ts`, which the worker's tests and the benchmarks import).
 */
import { redisNamespace, redisOptions } from '@switchboard/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { createStandInChannel, type StandInChannel, type StandInChannelOptions } from './harness.ts';

/** Options of one channel of a suite: the suite's Redis and key prefix unless given. */
export type SuiteChannelOptions = Partial<StandInChannelOptions>;

/** What {@link standInChannels} returns. */
export interface StandInChannels {
  /** The file's own key prefix (`<namespace>:`). */
  readonly keyPrefix: string;
  /** The file's Redis connection (open between beforeAll and afterAll). */
  readonly redis: Redis;
  /** A stand-in channel, not connected, disconnected after the test. */
  create(options?: SuiteChannelOptions): Promise<StandInChannel>;
  /** A stand-in channel whose first socket opened: `connected`. */
  connected(options?: SuiteChannelOptions): Promise<StandInChannel>;
}

/**
 * The setup every stand-in channel test file shares: a Redis namespace of its own and one
 * connection to it; the channels created through it are disconnected after each test and the
 * namespace's keys deleted after the file. `defaults` apply to every channel it creates.
 */
export function standInChannels(name: string, defaults: SuiteChannelOptions = {}): StandInChannels {
  const ns = redisNamespace(name);
  const keyPrefix = `${ns.prefix}:`;
  const open: StandInChannel[] = [];
  let redis: Redis | undefined;
  beforeAll(() => {
    redis = new Redis(redisOptions());
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((t) => t.channel.disconnect()));
  });
  afterAll(async () => {
    redis?.disconnect();
    await ns.cleanup();
  });
  const suite: StandInChannels = {
    keyPrefix,
    get redis(): Redis {
      if (!redis) throw new Error(`standInChannels(${name}): Redis is only open while the file's tests run`);
      return redis;
    },
    async create(options = {}) {
      const t = await createStandInChannel({ redis: suite.redis, keyPrefix, ...defaults, ...options });
      open.push(t);
      return t;
    },
    async connected(options = {}) {
      const t = await suite.create(options);
      await t.channel.connect();
      (await t.standIn.socket(1)).open();
      await t.log.waitFor('state', (s) => s.state === 'connected');
      return t;
    },
  };
  return suite;
}
