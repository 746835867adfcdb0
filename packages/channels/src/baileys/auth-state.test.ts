import { randomBytes } from 'node:crypto';
import { redisNamespace, redisOptions } from '@switchboard/testing';
import { BufferJSON, Curve, type KeyPair, proto } from '@whiskeysockets/baileys';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StaleEpochError } from '../errors.ts';
import { authStateKeys, createRedisAuthState, keyField } from './auth-state.ts';

const ns = redisNamespace('channels-auth');
const keyPrefix = `${ns.prefix}:`;
let redis: Redis;
let session = 0;
const nextSession = () => `auth-${++session}`;

beforeAll(() => {
  redis = new Redis(redisOptions());
});
afterAll(async () => {
  redis?.disconnect();
  await ns.cleanup();
});

const keyPair = (): KeyPair => Curve.generateKeyPair();
const sameBytes = (a: Uint8Array | undefined, b: Uint8Array) => Buffer.from(a ?? []).equals(Buffer.from(b));

describe('RedisAuthState', () => {
  it('starts from fresh creds, saves them, and a new instance on a new connection reads them back (a worker restart)', async () => {
    const sessionId = nextSession();
    const first = await createRedisAuthState({ redis, keyPrefix, sessionId, epoch: 1n });
    expect(first.existed).toBe(false);
    first.state.creds.me = { id: '5511999990001:3@s.whatsapp.net', lid: '99887766:3@lid', name: 'Acme' };
    first.state.creds.registered = true;
    await first.saveCreds();
    await first.state.keys.set({ session: { '5511999990002.0': Buffer.from('signal-session') } });

    const other = new Redis(redisOptions());
    try {
      const restarted = await createRedisAuthState({ redis: other, keyPrefix, sessionId, epoch: 1n });
      expect(restarted.existed).toBe(true);
      const creds = restarted.state.creds;
      expect(creds.me?.id).toBe('5511999990001:3@s.whatsapp.net');
      expect(creds.registered).toBe(true);
      expect(creds.registrationId).toBe(first.state.creds.registrationId);
      // Buffers survive BufferJSON as Buffers, byte for byte.
      expect(Buffer.isBuffer(creds.noiseKey.private)).toBe(true);
      expect(sameBytes(creds.noiseKey.private, first.state.creds.noiseKey.private)).toBe(true);
      expect(sameBytes(creds.signedPreKey.signature, first.state.creds.signedPreKey.signature)).toBe(true);
      const sessions = await restarted.state.keys.get('session', ['5511999990002.0']);
      expect(Buffer.from(sessions['5511999990002.0']!).toString()).toBe('signal-session');
    } finally {
      other.disconnect();
    }
  });

  it("round-trips keys through Baileys' own key-store calls, and a null value deletes", async () => {
    const sessionId = nextSession();
    const { state } = await createRedisAuthState({ redis, keyPrefix, sessionId, epoch: 2n });
    const one = keyPair();
    const two = keyPair();
    await state.keys.set({ 'pre-key': { '1': one, '2': two } });
    let got = await state.keys.get('pre-key', ['1', '2', '3']);
    expect(Object.keys(got).sort()).toEqual(['1', '2']);
    expect(sameBytes(got['1']?.public, one.public)).toBe(true);
    expect(sameBytes(got['2']?.private, two.private)).toBe(true);

    await state.keys.set({ 'pre-key': { '1': null, '3': one } });
    got = await state.keys.get('pre-key', ['1', '2', '3']);
    expect(Object.keys(got).sort()).toEqual(['2', '3']);
    expect(await redis.hexists(authStateKeys(keyPrefix, sessionId).auth, keyField('pre-key', '1'))).toBe(0);
  });

  it('revives app-state-sync-key values as the proto class Baileys calls methods on', async () => {
    const sessionId = nextSession();
    const { state } = await createRedisAuthState({ redis, keyPrefix, sessionId, epoch: 1 });
    const keyData = proto.Message.AppStateSyncKeyData.fromObject({
      keyData: randomBytes(32),
      fingerprint: { rawId: 7, currentIndex: 1, deviceIndexes: [0, 1] },
      timestamp: 1_700_000_000,
    });
    await state.keys.set({ 'app-state-sync-key': { AAAAAA: keyData } });
    const got = (await state.keys.get('app-state-sync-key', ['AAAAAA'])).AAAAAA;
    expect(got).toBeInstanceOf(proto.Message.AppStateSyncKeyData);
    expect(sameBytes(got?.keyData ?? undefined, keyData.keyData!)).toBe(true);
    expect(got?.fingerprint?.rawId).toBe(7);
  });

  it('stores the v7 key types (lid-mapping, device-list, tctoken) in the one hash', async () => {
    const sessionId = nextSession();
    const { state, keys } = await createRedisAuthState({ redis, keyPrefix, sessionId, epoch: 1 });
    await state.keys.set({
      'lid-mapping': { '5511999990003': '12345678901234', '12345678901234_reverse': '5511999990003' },
      'device-list': { '5511999990003': ['0', '2'] },
      tctoken: { '5511999990003@s.whatsapp.net': { token: Buffer.from('tok'), timestamp: '1700000000' } },
    });
    expect((await state.keys.get('lid-mapping', ['12345678901234_reverse']))['12345678901234_reverse']).toBe(
      '5511999990003',
    );
    expect((await state.keys.get('device-list', ['5511999990003']))['5511999990003']).toEqual(['0', '2']);
    const token = (await state.keys.get('tctoken', ['5511999990003@s.whatsapp.net']))[
      '5511999990003@s.whatsapp.net'
    ];
    expect(Buffer.from(token!.token).toString()).toBe('tok');
    expect(await redis.type(keys.auth)).toBe('hash');
    expect((await redis.hkeys(keys.auth)).sort()).toEqual([
      'device-list:5511999990003',
      'lid-mapping:12345678901234_reverse',
      'lid-mapping:5511999990003',
      'tctoken:5511999990003@s.whatsapp.net',
    ]);
  });

  it('applies a large set (sets and deletes together) in one write', async () => {
    const sessionId = nextSession();
    const { state, keys } = await createRedisAuthState({ redis, keyPrefix, sessionId, epoch: 1 });
    // Baileys uploads hundreds of pre-keys at once; history sync writes thousands of mappings.
    const many: Record<string, string> = {};
    for (let i = 0; i < 5_000; i++) many[`pn${i}`] = `lid${i}`;
    await state.keys.set({ 'lid-mapping': many });
    expect(await redis.hlen(keys.auth)).toBe(5_000);
    const mixed: Record<string, string | null> = {};
    for (let i = 0; i < 2_500; i++) mixed[`pn${i}`] = null;
    for (let i = 5_000; i < 7_500; i++) mixed[`pn${i}`] = `lid${i}`;
    await state.keys.set({ 'lid-mapping': mixed });
    expect(await redis.hlen(keys.auth)).toBe(5_000);
    expect(await redis.hexists(keys.auth, 'lid-mapping:pn0')).toBe(0);
    expect(await redis.hget(keys.auth, 'lid-mapping:pn7499')).toBe(JSON.stringify('lid7499'));
  });

  it('refuses every write once the fence is above its epoch, and changes nothing, not even part of it', async () => {
    const sessionId = nextSession();
    const stale: StaleEpochError[] = [];
    const auth = await createRedisAuthState({
      redis,
      keyPrefix,
      sessionId,
      epoch: 3n,
      onStale: (e) => stale.push(e),
    });
    await redis.set(auth.keys.fence, '3');
    await auth.saveCreds();
    await auth.state.keys.set({ 'pre-key': { '1': keyPair(), '2': keyPair() } });
    const before = await redis.hgetall(auth.keys.auth);
    expect(Object.keys(before).sort()).toEqual(['creds', 'pre-key:1', 'pre-key:2']);

    // Another owner claims the session: epoch 4.
    await redis.set(auth.keys.fence, '4');
    const write = auth.state.keys.set({
      'pre-key': { '1': null, '5': keyPair() },
      session: { x: Buffer.from('s') },
    });
    await expect(write).rejects.toBeInstanceOf(StaleEpochError);
    await expect(write).rejects.toMatchObject({ code: 'STALE_EPOCH', epoch: 3n, fence: 4n });
    auth.state.creds.registered = true;
    await expect(auth.saveCreds()).rejects.toMatchObject({ code: 'STALE_EPOCH' });
    await expect(auth.wipe()).rejects.toMatchObject({ code: 'STALE_EPOCH' });
    expect(await redis.hgetall(auth.keys.auth)).toEqual(before);
    expect(stale).toHaveLength(3);

    // The new owner writes fine.
    const owner = await createRedisAuthState({ redis, keyPrefix, sessionId, epoch: 4n });
    await owner.state.keys.set({ 'pre-key': { '1': null } });
    expect(await redis.hexists(owner.keys.auth, 'pre-key:1')).toBe(0);
  });

  it('wipe removes the hash; later writes through the wiped instance do not bring it back', async () => {
    const sessionId = nextSession();
    const auth = await createRedisAuthState({ redis, keyPrefix, sessionId, epoch: 1n });
    await auth.saveCreds();
    await auth.state.keys.set({ session: { a: Buffer.from('1') } });
    expect(await redis.exists(auth.keys.auth)).toBe(1);
    await auth.wipe();
    expect(await redis.exists(auth.keys.auth)).toBe(0);
    await auth.saveCreds();
    await auth.state.keys.set({ session: { b: Buffer.from('2') } });
    expect(await redis.exists(auth.keys.auth)).toBe(0);
    const fresh = await createRedisAuthState({ redis, keyPrefix, sessionId, epoch: 1n });
    expect(fresh.existed).toBe(false);
    expect(fresh.state.creds.me).toBeUndefined();
  });

  it('stores values in BufferJSON so other Baileys tooling can read them', async () => {
    const sessionId = nextSession();
    const auth = await createRedisAuthState({ redis, keyPrefix, sessionId, epoch: 1n });
    await auth.saveCreds();
    const raw = await redis.hget(auth.keys.auth, 'creds');
    const parsed = JSON.parse(raw!, BufferJSON.reviver);
    expect(parsed.advSecretKey).toBe(auth.state.creds.advSecretKey);
    expect(JSON.parse(raw!).noiseKey.public).toMatchObject({ type: 'Buffer' });
  });
});
