import {
  createRedisRoleUser,
  deleteKeysWithPrefix,
  forceSentinelFailover,
  type RedisRoleUser,
  redisOptions,
  sentinelOptions,
  uniquePrefix,
} from '@switchboard/testing';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aclUserLine, escapeRedisGlob, redisAclRules, sentinelAclRules } from './acl.ts';
import { createRedis } from './connection.ts';

// The roles' ACL users on real Redis and Sentinel servers (the run's, through the fixtures, with
// the rules the operator renders): what the API may not touch, and that the worker and a
// failover still work with them. Keys follow the tenant layout: `<prefix>session:<id>:auth` is the
// Baileys auth state (packages/channels), `<prefix>bull` the queues (packages/messaging).

const keyPrefix = `sb:${uniquePrefix('acl')}:`;
const otherPrefix = `sb:${uniquePrefix('acl-other')}:`;
const session = '6f1c1f9e-0000-4000-8000-000000000001';
const keys = {
  auth: `${keyPrefix}session:${session}:auth`,
  fence: `${keyPrefix}session:${session}:fence`,
  lease: `${keyPrefix}session:${session}:lease`,
  pairing: `${keyPrefix}session:${session}:pairing`,
  rateLimit: `${keyPrefix}api:ratelimit:abc`,
  events: `${keyPrefix}events`,
  otherTenant: `${otherPrefix}api:ratelimit:abc`,
};

let admin: Redis;
let api: RedisRoleUser;
let worker: RedisRoleUser;
const closers: (() => unknown)[] = [];

function asUser(user: RedisRoleUser, extra: { maxRetriesPerRequest?: number | null } = {}): Redis {
  const client = new Redis({ ...redisOptions(), username: user.username, password: user.password, ...extra });
  closers.push(() => client.disconnect());
  return client;
}

/** The error a command fails with (or a failure of the test if it succeeds). */
async function refusal(command: Promise<unknown>): Promise<string> {
  try {
    await command;
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('the command was allowed');
}

beforeAll(async () => {
  admin = new Redis(redisOptions());
  [api, worker] = await Promise.all([
    createRedisRoleUser('api', keyPrefix),
    createRedisRoleUser('worker', keyPrefix),
  ]);
  // What a worker leaves in Redis for a linked session.
  await admin.hset(keys.auth, 'creds', '{"noiseKey":"secret"}');
  await admin.set(keys.fence, '3');
  await admin.set(keys.pairing, '{"qr":"2@abc"}');
  await admin.set(keys.otherTenant, '1');
});

afterAll(async () => {
  await Promise.allSettled(closers.splice(0).map(async (close) => await close()));
  await Promise.allSettled([api?.remove(), worker?.remove()]);
  await deleteKeysWithPrefix(admin, keyPrefix);
  await deleteKeysWithPrefix(admin, otherPrefix);
  admin.disconnect();
});

describe('the rules', () => {
  it('confine the api and worker users to the tenant prefix, escaped', () => {
    expect(escapeRedisGlob('sb:a*b?[c]\\:')).toBe('sb:a\\*b\\?\\[c\\]\\\\:');
    expect(redisAclRules('api', { keyPrefix: 'sb:acme:' })).toEqual(
      expect.arrayContaining([
        '~sb:acme:api:*',
        '~sb:acme:bull:*',
        '~sb:acme:events',
        '%R~sb:acme:session:*:pairing',
      ]),
    );
    expect(redisAclRules('api', { keyPrefix: 'sb:acme:' }).filter((r) => r.includes('~'))).toHaveLength(4);
    expect(redisAclRules('worker', { keyPrefix: 'sb:acme:' })).toContain('~sb:acme:*');
    expect(sentinelAclRules('api')).not.toContain('+@all');
    expect(() => aclUserLine('api', 'a b', [])).toThrow('without spaces');
  });
});

describe('the api user', () => {
  it('gets NOPERM on the Baileys auth state, leases, fences and other tenants, directly and from scripts', async () => {
    const client = asUser(api);
    for (const command of [
      client.hgetall(keys.auth),
      client.hget(keys.auth, 'creds'),
      client.dump(keys.auth),
      client.del(keys.auth),
      client.get(keys.fence),
      client.set(keys.fence, '99'),
      client.set(keys.lease, 'me', 'PX', 1000, 'NX'),
      client.get(keys.otherTenant),
      client.copy(keys.auth, keys.rateLimit),
    ])
      expect(await refusal(command)).toMatch(/NOPERM/);
    // A script runs under the caller's rules, keys named in its body included.
    expect(await refusal(client.eval(`return redis.call('HGETALL', KEYS[1])`, 1, keys.auth))).toMatch(
      /NOPERM|can't access/,
    );
    expect(
      await refusal(client.eval(`return redis.call('HGETALL', '${keys.auth}')`, 1, keys.rateLimit)),
    ).toMatch(/NOPERM|can't access/);
    // Pairing records: read, never written.
    expect(await client.get(keys.pairing)).toBe('{"qr":"2@abc"}');
    expect(await refusal(client.set(keys.pairing, 'x'))).toMatch(/NOPERM/);
    expect(await admin.hget(keys.auth, 'creds')).toBe('{"noiseKey":"secret"}');
    expect(await admin.get(keys.fence)).toBe('3');
  });

  it('gets NOPERM on commands outside its list', async () => {
    const client = asUser(api);
    const refused: [string, ...string[]][] = [
      ['KEYS', '*'],
      ['SCAN', '0'],
      ['RANDOMKEY'],
      ['CONFIG', 'GET', 'requirepass'],
      ['CONFIG', 'SET', 'maxmemory', '1'],
      ['FLUSHALL'],
      ['FLUSHDB'],
      ['ACL', 'LIST'],
      ['ACL', 'SETUSER', api.username, '~*'],
      ['CLIENT', 'LIST'],
      ['CLIENT', 'KILL', 'TYPE', 'normal'],
      ['CLIENT', 'TRACKING', 'on', 'BCAST'],
      ['MONITOR'],
      ['SLOWLOG', 'GET'],
      ['OBJECT', 'ENCODING', keys.auth],
      ['REPLICAOF', '127.0.0.1', '1'],
      ['SUBSCRIBE', 'anything'],
      ['PUBLISH', 'anything', 'x'],
      ['FUNCTION', 'FLUSH'],
      ['SCRIPT', 'FLUSH'],
      ['WAIT', '0', '0'],
      ['SORT', keys.rateLimit],
      ['MIGRATE', '127.0.0.1', '1', keys.rateLimit, '0', '10'],
    ];
    for (const [command, ...args] of refused)
      expect(await refusal(client.call(command, ...args)), command).toMatch(/NOPERM/);
  });

  it('does what the API does: queue jobs, count rate limits in a script, read and append the realtime stream', async () => {
    const producer = createRedis({
      target: { mode: 'standalone', ...redisOptions() },
      role: 'producer',
      username: api.username,
      password: api.password,
    });
    closers.push(() => producer.disconnect());
    const queue = new Queue('outbound', { connection: producer, prefix: `${keyPrefix}bull` });
    closers.push(() => queue.close());
    const job = await queue.add('send', { text: 'hi' }, { jobId: 'm-1' });
    expect((await queue.getJob(job.id!))?.data).toEqual({ text: 'hi' });
    expect(await queue.getJobCounts('waiting')).toEqual({ waiting: 1 });

    const count = await producer.eval(
      `local n = redis.call('INCR', KEYS[1]) if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end return {n, redis.call('PTTL', KEYS[1])}`,
      1,
      keys.rateLimit,
      '60000',
    );
    expect((count as number[])[0]).toBe(1);
    const id = await producer.xadd(keys.events, 'MAXLEN', '~', '1000', '*', 'event', '{}');
    expect((await producer.xrevrange(keys.events, '+', '-', 'COUNT', 1))[0]?.[0]).toBe(id);
    expect(await producer.info('server')).toContain('redis_version');
    await queue.close();
  });
});

describe('the worker user', () => {
  it('consumes the queues the api user fills and keeps session state; WAIT, INFO and TIME included', async () => {
    const connection = createRedis({
      target: { mode: 'standalone', ...redisOptions() },
      role: 'worker',
      username: worker.username,
      password: worker.password,
    }) as Redis;
    closers.push(() => connection.disconnect());
    const seen: unknown[] = [];
    const consumer = new Worker(
      'outbound',
      async (job) => {
        seen.push(job.data);
        return 'sent';
      },
      { connection, prefix: `${keyPrefix}bull` },
    );
    closers.push(() => consumer.close());
    await new Promise<void>((resolve, reject) => {
      consumer.once('completed', () => resolve());
      consumer.once('failed', (_job, error) => reject(error));
      consumer.once('error', reject);
    });
    expect(seen).toEqual([{ text: 'hi' }]);
    await consumer.close();

    expect(await connection.set(keys.lease, 'worker-0', 'PX', 10_000, 'NX')).toBe('OK');
    expect(await connection.hget(keys.auth, 'creds')).toBe('{"noiseKey":"secret"}');
    expect(
      await connection.eval(
        `if tonumber(redis.call('GET', KEYS[1]) or '0') > tonumber(ARGV[1]) then return 0 end redis.call('HSET', KEYS[2], 'creds', ARGV[2]) return 1`,
        2,
        keys.fence,
        keys.auth,
        '3',
        '{"noiseKey":"new"}',
      ),
    ).toBe(1);
    expect(await connection.call('WAIT', '0', '0')).toBe(0);
    expect(await connection.info('replication')).toContain('role:master');
    expect(await connection.eval(`return redis.call('TIME')[1]`, 0)).toMatch(/^\d+$/);
  });

  it("gets NOPERM on another tenant's keys and on administrative commands", async () => {
    const client = asUser(worker);
    expect(await refusal(client.get(keys.otherTenant))).toMatch(/NOPERM/);
    for (const [command, ...args] of [
      ['KEYS', '*'],
      ['CONFIG', 'GET', '*'],
      ['FLUSHALL'],
      ['ACL', 'LIST'],
    ] as [string, ...string[]][])
      expect(await refusal(client.call(command, ...args)), command).toMatch(/NOPERM/);
  });
});

describe('the Sentinel group with ACL users', () => {
  it('follows a forced failover as the worker user, writing before and after', async () => {
    const { sentinels, name } = sentinelOptions();
    const client = createRedis({
      target: {
        mode: 'sentinel',
        sentinels,
        name,
        sentinelUsername: worker.username,
        sentinelPassword: worker.password,
      },
      role: 'command',
      username: worker.username,
      password: worker.password,
    });
    closers.push(() => client.disconnect());
    const key = `${keyPrefix}failover`;
    await client.set(key, 'before');
    const { from, to } = await forceSentinelFailover();
    expect(to).not.toEqual(from);
    await client.set(key, 'after');
    expect(await client.get(key)).toBe('after');
    expect(await refusal(client.get(keys.otherTenant))).toMatch(/NOPERM/);
    await client.del(key);
  });

  it('lets the api user ask the Sentinels for the primary, and nothing that changes them', async () => {
    const { sentinels, name } = sentinelOptions();
    const client = new Redis({ ...sentinels[0]!, username: api.username, password: api.password });
    closers.push(() => client.disconnect());
    const primary = (await client.call('SENTINEL', 'get-master-addr-by-name', name)) as string[];
    expect(primary).toHaveLength(2);
    for (const args of [
      ['FAILOVER', name],
      ['SET', name, 'down-after-milliseconds', '1'],
      ['REMOVE', name],
      ['RESET', '*'],
      ['MASTER', name],
      ['CONFIG', 'GET', '*'],
    ])
      expect(await refusal(client.call('SENTINEL', ...args)), args[0]).toMatch(/NOPERM/);
    expect(await refusal(client.call('ACL', 'LIST'))).toMatch(/NOPERM/);
  });
});
