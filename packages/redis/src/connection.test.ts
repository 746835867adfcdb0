import { forceSentinelFailover, redisOptions, sentinelOptions, uniquePrefix } from '@switchboard/testing';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createRedis, reconnectDelay, reconnectOnReadonly, redisOptionsFor } from './connection.ts';

const opened: { disconnect(): void }[] = [];
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.allSettled(closers.splice(0).map((close) => close()));
  for (const client of opened.splice(0)) client.disconnect();
});

function track<T extends { disconnect(): void }>(client: T): T {
  opened.push(client);
  return client;
}

describe('role options', () => {
  it('gives BullMQ workers unlimited retries and producers a fail-fast client', () => {
    const target = { mode: 'standalone', host: '127.0.0.1', port: 1 } as const;
    const worker = redisOptionsFor({ target, role: 'worker' });
    const producer = redisOptionsFor({ target, role: 'producer' });
    expect(worker.maxRetriesPerRequest).toBeNull();
    expect(worker.enableOfflineQueue).toBe(true);
    expect(producer.enableOfflineQueue).toBe(false);
    expect(producer.maxRetriesPerRequest).toBe(1);
  });

  it('never gives up reconnecting and caps the delay', () => {
    const delays = [0, 1, 5, 50, 10_000].map(reconnectDelay);
    expect(delays.every((d) => typeof d === 'number' && d > 0 && d <= 2_000)).toBe(true);
    expect(delays[4]).toBe(2_000);
  });

  it('reconnects and resends on READONLY only', () => {
    expect(reconnectOnReadonly(new Error("READONLY You can't write against a read only replica."))).toBe(2);
    expect(reconnectOnReadonly(new Error('ERR wrong number of arguments'))).toBe(false);
  });

  it('fails fast as a producer when Redis is unreachable', async () => {
    const client = track(
      createRedis({
        target: { mode: 'standalone', host: '127.0.0.1', port: 1 },
        role: 'producer',
        lazyConnect: true,
      }),
    );
    client.connect().catch(() => undefined);
    await expect(client.set('k', 'v')).rejects.toThrow();
  });
});

describe('standalone', () => {
  it('reads and writes against the real server', async () => {
    const client = track(createRedis({ target: { mode: 'standalone', ...redisOptions() }, role: 'command' }));
    const key = `${uniquePrefix('standalone')}:k`;
    await client.set(key, 'v', 'PX', 10_000);
    expect(await client.get(key)).toBe('v');
  });
});

describe('sentinel failover', () => {
  it('keeps writing through a forced failover, landing on the new primary without a restart', async () => {
    const target = { mode: 'sentinel', ...sentinelOptions() } as const;
    const client = track(createRedis({ target, role: 'command', connectionName: 'failover-test' }));
    const key = `${uniquePrefix('failover')}:counter`;
    await client.set(key, 0, 'PX', 120_000);

    let acknowledged = 0;
    let errors = 0;
    let stop = false;
    const writer = (async () => {
      while (!stop) {
        try {
          await client.incr(key);
          acknowledged++;
        } catch {
          errors++;
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    })();

    await new Promise((r) => setTimeout(r, 200));
    const beforeFailover = acknowledged;
    const { from, to } = await forceSentinelFailover();
    // The client follows the sentinels' +switch-master to the new primary on its own.
    await waitFor(() => (client as Redis).stream?.remotePort === to.port, 15_000);
    const afterSwitch = acknowledged;
    await waitFor(() => acknowledged >= afterSwitch + 20, 15_000);
    stop = true;
    await writer;

    expect(from).not.toEqual(to);
    expect(beforeFailover).toBeGreaterThan(0);
    // ioredis queued commands across the switch instead of failing them to the caller.
    expect(errors).toBe(0);

    // Writes made now land on the new primary, read back directly from it. (Writes the old
    // primary acknowledged in the instant before it was demoted can be lost: replication is
    // asynchronous. That is why session ownership is fenced by a Postgres epoch, not by Redis.)
    const direct = track(new Redis({ host: to.host, port: to.port }));
    expect(((await direct.call('ROLE')) as [string])[0]).toBe('master');
    const before = Number(await direct.get(key));
    for (let i = 0; i < 25; i++) await client.incr(key);
    expect(Number(await direct.get(key))).toBe(before + 25);
  });

  it('keeps a BullMQ worker consuming after a failover', async () => {
    const target = { mode: 'sentinel', ...sentinelOptions() } as const;
    const prefix = uniquePrefix('bullmq');
    const queue = new Queue('failover', {
      prefix,
      connection: createRedis({ target, role: 'producer' }),
    });
    const seen = new Set<string>();
    const worker = new Worker(
      'failover',
      async (job) => {
        seen.add(job.data.n as string);
      },
      { prefix, connection: createRedis({ target, role: 'worker' }) as Redis, concurrency: 4 },
    );
    closers.push(
      () => worker.close(true),
      () => queue.close(),
    );
    await worker.waitUntilReady();

    for (let n = 0; n < 20; n++) await queue.add('job', { n: `before-${n}` });
    await waitFor(() => seen.size === 20);

    await forceSentinelFailover();
    // The producer fails fast while it reconnects, so retry each add as an API handler would.
    for (let n = 0; n < 20; n++) await retry(() => queue.add('job', { n: `after-${n}` }));
    await waitFor(() => seen.size === 40, 20_000);
    expect([...seen].filter((n) => n.startsWith('after-'))).toHaveLength(20);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function retry<T>(fn: () => Promise<T>, attempts = 100): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (error) {
      if (i >= attempts) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
