import { randomUUID } from 'node:crypto';
import { startRedis } from '@switchboard/testing';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { Principal } from '../plugins/auth.ts';
import { RealtimeHub } from './hub.ts';
import { compareStreamIds } from './stream-ids.ts';

describe('RealtimeHub', () => {
  it('answers 503 unavailable while Redis is down, and keeps no place for the principal', async () => {
    const server = await startRedis();
    // The API's producer settings: fail fast instead of queueing while disconnected.
    const redis = new Redis({
      host: server.host,
      port: server.port,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
    });
    redis.on('error', () => {});
    const hub = new RealtimeHub({ redis, checkPrincipals: async () => new Map(), maxStreamsPerPrincipal: 1 });
    try {
      if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
      await redis.ping();
      await server.stop();
      await new Promise<void>((resolve) =>
        redis.status === 'ready' ? redis.once('close', resolve) : resolve(),
      );
      const principal: Principal = {
        kind: 'user',
        tenantId: randomUUID(),
        slug: 'down',
        userId: randomUUID(),
        role: 'viewer',
      };
      // Twice: a failed admission frees its place, so the second is refused for Redis, not the cap.
      for (let i = 0; i < 2; i++)
        await expect(hub.admit(principal, 'sb:down:events')).rejects.toMatchObject({
          code: 'unavailable',
          status: 503,
        });
      expect(hub.stats()).toEqual({ streams: 0, readers: 0, draining: 0 });
    } finally {
      await hub.close();
      redis.disconnect();
      await server.stop().catch(() => {});
    }
  });
});

describe('compareStreamIds', () => {
  it('orders by time, then sequence, also past 2^53 ms', () => {
    expect(compareStreamIds('1-0', '1-0')).toBe(0);
    expect(compareStreamIds('1-1', '1-0')).toBe(1);
    expect(compareStreamIds('9-0', '10-0')).toBe(-1);
    expect(compareStreamIds('9007199254740993-0', '9007199254740992-5')).toBe(1);
  });
});
