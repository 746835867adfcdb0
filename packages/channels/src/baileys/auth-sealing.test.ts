import { randomBytes } from 'node:crypto';
import { waitForReplicas } from '@switchboard/sessions';
import {
  deleteKeysWithPrefix,
  redisNamespace,
  redisOptions,
  sentinelOptions,
  uniquePrefix,
  withSettledSentinelGroup,
} from '@switchboard/testing';
import { Curve } from '@whiskeysockets/baileys';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { StaleEpochError } from '../errors.ts';
import { AuthStateSealError, AuthStateSealer } from './auth-sealing.ts';
import { authStateKeys, createRedisAuthState, keyField } from './auth-state.ts';

const ns = redisNamespace('channels-auth-seal');
const keyPrefix = `${ns.prefix}:`;
let redis: Redis;
let session = 0;
const nextSession = () => `sealed-${++session}`;
const key = () => randomBytes(32).toString('base64');

beforeAll(() => {
  redis = new Redis(redisOptions());
});
afterAll(async () => {
  redis?.disconnect();
  await ns.cleanup();
});

/** Every value of the session's hash as Redis holds it. */
async function stored(sessionId: string): Promise<Record<string, string>> {
  return await redis.hgetall(authStateKeys(keyPrefix, sessionId).auth);
}

describe('AuthStateSealer', () => {
  it('parses AUTH_STATE_KEYS and refuses bad entries without echoing key material', () => {
    const k2 = key();
    const sealer = AuthStateSealer.parse(`k2:${k2}, k1:${key()}`);
    expect(sealer.currentKeyId).toBe('k2');
    for (const [text, reason] of [
      ['', /at least one/],
      [`k1${k2}`, /not <id>:<base64 key>/],
      [`k1:${randomBytes(16).toString('base64')}`, /exactly 32 bytes/],
      [`k 1:${k2}`, /must be 1-32 of/],
      [`k1:${k2},k1:${key()}`, /given twice/],
    ] as const) {
      let error: unknown;
      try {
        AuthStateSealer.parse(text);
      } catch (caught) {
        error = caught;
      }
      expect(error, text).toBeInstanceOf(AuthStateSealError);
      expect((error as Error).message).toMatch(reason);
      expect((error as Error).message).not.toContain(k2);
    }
  });

  it('binds a value to its session and field: a moved or altered value does not open', () => {
    const sealer = new AuthStateSealer([{ id: 'k1', key: key() }]);
    const value = sealer.seal('s1/creds', '{"secret":1}');
    expect(value).toMatch(/^sb1:k1:/);
    expect(value).not.toContain('secret');
    expect(sealer.open('s1/creds', value)).toEqual({ plaintext: '{"secret":1}', keyId: 'k1' });
    expect(() => sealer.open('s2/creds', value)).toThrow(AuthStateSealError);
    const bytes = Buffer.from(value.slice('sb1:k1:'.length), 'base64');
    bytes[20] = bytes[20]! ^ 1;
    expect(() => sealer.open('s1/creds', `sb1:k1:${bytes.toString('base64')}`)).toThrow(/does not open/);
    expect(() => sealer.open('s1/creds', value.replace('sb1:k1:', 'sb1:k9:'))).toThrow(/k9.*does not hold/);
  });
});

describe('RedisAuthState sealed at rest', () => {
  it('stores creds and signal keys sealed; nothing of the keys is readable in Redis', async () => {
    const sessionId = nextSession();
    const sealer = new AuthStateSealer([{ id: 'k1', key: key() }]);
    const auth = await createRedisAuthState({ redis, keyPrefix, sessionId, epoch: 1n, sealer });
    auth.state.creds.me = { id: '5511999990001:3@s.whatsapp.net', name: 'Acme' };
    await auth.saveCreds();
    const preKey = Curve.generateKeyPair();
    await auth.state.keys.set({ 'pre-key': { '7': preKey } });

    const raw = await stored(sessionId);
    expect(Object.keys(raw).sort()).toEqual(['creds', keyField('pre-key', '7')]);
    const privateB64 = Buffer.from(auth.state.creds.noiseKey.private).toString('base64');
    for (const value of Object.values(raw)) {
      expect(value).toMatch(/^sb1:k1:/);
      expect(value).not.toContain(privateB64);
      expect(value).not.toContain('5511999990001');
      expect(value).not.toContain(Buffer.from(preKey.private).toString('base64'));
    }
    // A restart with the same keys reads it back; without keys it refuses clearly.
    const again = await createRedisAuthState({ redis, keyPrefix, sessionId, epoch: 1n, sealer });
    expect(again.state.creds.me?.id).toBe('5511999990001:3@s.whatsapp.net');
    const got = await again.state.keys.get('pre-key', ['7']);
    expect(Buffer.from(got['7']!.private).equals(Buffer.from(preKey.private))).toBe(true);
    await expect(createRedisAuthState({ redis, keyPrefix, sessionId, epoch: 1n })).rejects.toThrow(
      /sealed and no AUTH_STATE_KEYS/,
    );
  });

  it('loads a plaintext hash from before sealing (a live session) and re-seals every value', async () => {
    const sessionId = nextSession();
    // The session as the previous release left it: plaintext BufferJSON, more fields than one batch.
    const before = await createRedisAuthState({ redis, keyPrefix, sessionId, epoch: 3n });
    before.state.creds.me = { id: '5511999990003:1@s.whatsapp.net' };
    await before.saveCreds();
    const preKeys = Object.fromEntries(
      Array.from({ length: 1200 }, (_, i) => [String(i), Curve.generateKeyPair()]),
    );
    await before.state.keys.set({ 'pre-key': preKeys });
    const plaintext = await stored(sessionId);
    expect(plaintext.creds).toMatch(/^\{/);

    const sealer = new AuthStateSealer([{ id: 'k1', key: key() }]);
    const upgraded = await createRedisAuthState({ redis, keyPrefix, sessionId, epoch: 3n, sealer });
    expect(upgraded.existed).toBe(true);
    expect(upgraded.state.creds.me?.id).toBe('5511999990003:1@s.whatsapp.net');
    expect(
      Buffer.from(upgraded.state.creds.noiseKey.private).equals(
        Buffer.from(before.state.creds.noiseKey.private),
      ),
    ).toBe(true);
    const got = await upgraded.state.keys.get('pre-key', ['0', '1199']);
    expect(Buffer.from(got['1199']!.public).equals(Buffer.from(preKeys['1199']!.public))).toBe(true);

    const raw = await stored(sessionId);
    expect(raw._sealed).toBe('k1');
    const values = Object.entries(raw).filter(([field]) => field !== '_sealed');
    expect(values).toHaveLength(1201);
    expect(values.every(([, value]) => value.startsWith('sb1:k1:'))).toBe(true);
  });

  it('rotates: a new current key reads values of the previous one and re-seals them under itself', async () => {
    const sessionId = nextSession();
    const k1 = { id: 'k1', key: key() };
    const k2 = { id: 'k2', key: key() };
    const old = await createRedisAuthState({
      redis,
      keyPrefix,
      sessionId,
      epoch: 1n,
      sealer: new AuthStateSealer([k1]),
    });
    await old.saveCreds();
    await old.state.keys.set({ session: { 'a.0': Buffer.from('signal-session') } });

    const rotated = new AuthStateSealer([k2, k1]);
    const auth = await createRedisAuthState({ redis, keyPrefix, sessionId, epoch: 1n, sealer: rotated });
    expect(auth.state.creds.registrationId).toBe(old.state.creds.registrationId);
    const raw = await stored(sessionId);
    expect(raw._sealed).toBe('k2');
    expect(raw.creds).toMatch(/^sb1:k2:/);
    expect(raw[keyField('session', 'a.0')]).toMatch(/^sb1:k2:/);
    // k1 can now be dropped: k2 alone opens everything.
    const only = await createRedisAuthState({
      redis,
      keyPrefix,
      sessionId,
      epoch: 1n,
      sealer: new AuthStateSealer([k2]),
    });
    expect(Buffer.from((await only.state.keys.get('session', ['a.0']))['a.0']!).toString()).toBe(
      'signal-session',
    );
  });

  it('re-seals only under the current claim: a stale owner migrating is refused by the fence', async () => {
    const sessionId = nextSession();
    const plain = await createRedisAuthState({ redis, keyPrefix, sessionId, epoch: 1n });
    await plain.saveCreds();
    await redis.set(authStateKeys(keyPrefix, sessionId).fence, '5');
    const sealer = new AuthStateSealer([{ id: 'k1', key: key() }]);
    await expect(
      createRedisAuthState({ redis, keyPrefix, sessionId, epoch: 4n, sealer }),
    ).rejects.toBeInstanceOf(StaleEpochError);
    expect((await stored(sessionId)).creds).toMatch(/^\{/);
  });
});

describe('RedisAuthState on the Sentinel group, waiting for replicas', () => {
  it('resolves a write only once every replica holds it; a refused write waits for nothing', async () => {
    // The group stays whole (no other file's failover, whose resync empties a replica for a
    // moment) from the first write until every node has been read.
    await withSettledSentinelGroup(() => writesOnEveryNode());
  });
});

/** Two fenced writes through the group, then every node read directly. */
async function writesOnEveryNode(): Promise<void> {
  const sentinel = new Redis(sentinelOptions());
  const prefix = `${uniquePrefix('channels-auth-wait')}:`;
  try {
    const sessionId = nextSession();
    const outcomes: string[] = [];
    const auth = await createRedisAuthState({
      redis: sentinel,
      keyPrefix: prefix,
      sessionId,
      epoch: 1n,
      sealer: new AuthStateSealer([{ id: 'k1', key: key() }]),
      afterWrite: async () =>
        void outcomes.push(await waitForReplicas(sentinel, { replicas: 2, timeoutMs: 5_000 })),
    });
    await auth.saveCreds();
    await auth.state.keys.set({ session: { 'b.0': Buffer.from('signal-session') } });
    expect(outcomes).toEqual(['acknowledged', 'acknowledged']);
    // Acknowledged by both replicas: every node of the group holds both writes already.
    for (const node of inject('sentinel').nodes) {
      const direct = new Redis({ host: node.host, port: node.port });
      try {
        const hash = await direct.hgetall(authStateKeys(prefix, sessionId).auth);
        expect(Object.keys(hash).sort()).toEqual(['creds', keyField('session', 'b.0')]);
      } finally {
        direct.disconnect();
      }
    }
    await sentinel.set(authStateKeys(prefix, sessionId).fence, '2');
    await expect(auth.saveCreds()).rejects.toBeInstanceOf(StaleEpochError);
    expect(outcomes).toHaveLength(2);
  } finally {
    await deleteKeysWithPrefix(sentinel, prefix);
    sentinel.disconnect();
  }
}
