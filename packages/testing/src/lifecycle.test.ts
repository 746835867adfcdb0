import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import './provided-context.ts';
import { redisNamespace, uniquePrefix } from './redis-fixtures.ts';
import { startRedis } from './redis-server.ts';
import { forceSentinelFailover, settledSentinelGroup } from './sentinel-fixtures.ts';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function accepts(port: number): Promise<boolean> {
  const client = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

describe('the services the global setup started', () => {
  it('gives a superuser on a real Postgres', async () => {
    const { host, port, user, password } = inject('postgres');
    const client = new pg.Client({ host, port, user, password, database: 'postgres' });
    await client.connect();
    try {
      const { rows } = await client.query<{ v: string; su: boolean }>(
        "select current_setting('server_version_num') as v, rolsuper as su from pg_roles where rolname = current_user",
      );
      expect(Number(rows[0]!.v)).toBeGreaterThanOrEqual(150000);
      expect(rows[0]!.su).toBe(true);
    } finally {
      await client.end();
    }
  });

  it('gives a Sentinel group of one primary, two replicas and three sentinels', async () => {
    const group = inject('sentinel');
    expect(group.sentinels).toHaveLength(3);
    expect(group.nodes).toHaveLength(3);
    const primary = await settledSentinelGroup();
    const client = new Redis({ ...primary });
    try {
      const role = (await client.call('ROLE')) as [string, number, [string, string, string][]];
      expect(role[0]).toBe('master');
      expect(role[2]).toHaveLength(2);
    } finally {
      client.disconnect();
    }
  }, 60_000); // may wait for other files' failovers and a demoted primary to rejoin (about 15 s)

  it('forces a failover to a new writable primary', async () => {
    const { from, to } = await forceSentinelFailover();
    expect(`${to.host}:${to.port}`).not.toBe(`${from.host}:${from.port}`);
    const client = new Redis({ ...to });
    try {
      expect(await client.set(`${uniquePrefix('failover')}:k`, '1', 'PX', 5_000)).toBe('OK');
    } finally {
      client.disconnect();
    }
  });
});

describe('fixtures', () => {
  it('makes prefixes no one else has, safe for BullMQ', () => {
    const prefixes = new Set(Array.from({ length: 1000 }, () => uniquePrefix('My Queue:1')));
    expect(prefixes.size).toBe(1000);
    for (const prefix of prefixes) expect(prefix).toMatch(/^sbt-my-queue-1-[0-9a-f]{10}$/);
  });

  it('cleans up only its own keys', async () => {
    const mine = redisNamespace('mine');
    const theirs = redisNamespace('theirs');
    const client = new Redis({ ...inject('redis') });
    try {
      await client.set(`${mine.prefix}:a`, '1');
      await client.set(`${mine.prefix}:b`, '1');
      await client.set(`${theirs.prefix}:a`, '1');
      await mine.cleanup();
      expect(await client.exists(`${mine.prefix}:a`, `${mine.prefix}:b`)).toBe(0);
      expect(await client.exists(`${theirs.prefix}:a`)).toBe(1);
      await theirs.cleanup();
    } finally {
      client.disconnect();
    }
  });
});

describe('nothing is left behind', () => {
  it('stops a server and removes its data directory', async () => {
    const redis = await startRedis();
    expect(await accepts(redis.port)).toBe(true);
    await redis.stop();
    expect(alive(redis.pid)).toBe(false);
    expect(await accepts(redis.port)).toBe(false);
    expect(existsSync(redis.dir)).toBe(false);
  });

  it('kills the servers of a process that is interrupted', async () => {
    const script = fileURLToPath(new URL('./fixtures/start-and-wait.ts', import.meta.url));
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
      const started = await new Promise<{ pid: number; port: number; dir: string }>((resolve, reject) => {
        child.stdout.once('data', (chunk: Buffer) => resolve(JSON.parse(chunk.toString())));
        child.once('exit', (code) => reject(new Error(`fixture exited early with ${code}`)));
      });
      expect(alive(started.pid)).toBe(true);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill(signal);
      await exited;
      await waitUntil(() => !alive(started.pid));
      expect(await accepts(started.port)).toBe(false);
      expect(existsSync(started.dir)).toBe(false);
    }
  });
});

async function waitUntil(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
