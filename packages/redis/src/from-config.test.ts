import { describe, expect, it } from 'vitest';
import { redisConnectionFromSettings } from './from-config.ts';

describe('redisConnectionFromSettings', () => {
  it('reads host, port, database, user, password and TLS from a standalone URL', () => {
    expect(
      redisConnectionFromSettings({
        REDIS_MODE: 'standalone',
        REDIS_URL: 'rediss://app:p%40ss@cache.local:6380/2',
      }),
    ).toEqual({
      target: { mode: 'standalone', host: 'cache.local', port: 6380, db: 2 },
      username: 'app',
      password: 'p@ss',
      tls: true,
    });
  });

  it('defaults the port and database, and REDIS_PASSWORD wins over the URL', () => {
    expect(
      redisConnectionFromSettings({
        REDIS_MODE: 'standalone',
        REDIS_URL: 'redis://:old@127.0.0.1',
        REDIS_PASSWORD: 'new',
      }),
    ).toEqual({ target: { mode: 'standalone', host: '127.0.0.1', port: 6379, db: 0 }, password: 'new' });
  });

  it('gives the Sentinels the data password, as the operator configures them', () => {
    expect(
      redisConnectionFromSettings({
        REDIS_MODE: 'sentinel',
        REDIS_SENTINELS: [
          { host: 's-0', port: 26379 },
          { host: 's-1', port: 26379 },
        ],
        REDIS_SENTINEL_NAME: 'switchboard',
        REDIS_PASSWORD: 'pw',
      }),
    ).toEqual({
      target: {
        mode: 'sentinel',
        sentinels: [
          { host: 's-0', port: 26379 },
          { host: 's-1', port: 26379 },
        ],
        name: 'switchboard',
        sentinelPassword: 'pw',
      },
      password: 'pw',
    });
  });

  it('uses REDIS_USERNAME as the ACL user on Redis and on the Sentinels, and over the URL', () => {
    expect(
      redisConnectionFromSettings({
        REDIS_MODE: 'sentinel',
        REDIS_SENTINELS: [{ host: 's-0', port: 26379 }],
        REDIS_SENTINEL_NAME: 'switchboard',
        REDIS_USERNAME: 'api',
        REDIS_PASSWORD: 'pw',
      }),
    ).toEqual({
      target: {
        mode: 'sentinel',
        sentinels: [{ host: 's-0', port: 26379 }],
        name: 'switchboard',
        sentinelUsername: 'api',
        sentinelPassword: 'pw',
      },
      username: 'api',
      password: 'pw',
    });
    expect(
      redisConnectionFromSettings({
        REDIS_MODE: 'standalone',
        REDIS_URL: 'redis://old:pw@127.0.0.1',
        REDIS_USERNAME: 'worker',
      }),
    ).toMatchObject({ username: 'worker', password: 'pw' });
  });

  it('names the missing variable of a mode', () => {
    expect(() => redisConnectionFromSettings({ REDIS_MODE: 'sentinel', REDIS_SENTINEL_NAME: 'x' })).toThrow(
      'REDIS_SENTINELS is required when REDIS_MODE=sentinel',
    );
    expect(() => redisConnectionFromSettings({ REDIS_MODE: 'standalone' })).toThrow(
      'REDIS_URL is required when REDIS_MODE=standalone',
    );
  });
});
