import { DisconnectReason } from '@whiskeysockets/baileys';
import { describe, expect, it } from 'vitest';
import { settle } from '../testing.ts';
import { backoffDelay, DEFAULT_BACKOFF } from './backoff.ts';
import { type CloseContext, decideOnClose } from './lifecycle.ts';
import { standInChannels } from './testing/suite.ts';

const identity = { phoneNumber: '5511900000001', lid: '300000000000001' };
const channels = standInChannels('channels-lifecycle', { paired: identity, random: () => 0 });
const connected = channels.connected;

describe('backoffDelay', () => {
  it('grows by the multiplier up to the ceiling, jitter only ever shortening it', () => {
    const policy = { initialMs: 1_000, maxMs: 30_000, multiplier: 2, jitter: 0.5 };
    expect([1, 2, 3, 4, 5, 6, 7, 12].map((a) => backoffDelay(a, policy, () => 0))).toEqual([
      1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000,
    ]);
    expect(backoffDelay(3, policy, () => 0.999)).toBeGreaterThanOrEqual(2_000);
    expect(backoffDelay(3, policy, () => 0.999)).toBeLessThan(4_000);
    // With jitter 0.5 and multiplier 2, below the ceiling attempt n+1's shortest delay is at
    // least attempt n's longest: delays never shrink while they grow.
    const { initialMs, maxMs, multiplier } = DEFAULT_BACKOFF;
    for (let attempt = 1; initialMs * multiplier ** attempt <= maxMs; attempt++) {
      expect(backoffDelay(attempt + 1, DEFAULT_BACKOFF, () => 0.999)).toBeGreaterThanOrEqual(
        backoffDelay(attempt, DEFAULT_BACKOFF, () => 0),
      );
    }
    for (let attempt = 1; attempt < 40; attempt++) {
      expect(backoffDelay(attempt, DEFAULT_BACKOFF, Math.random)).toBeLessThanOrEqual(maxMs);
    }
  });
});

describe('decideOnClose', () => {
  const base: CloseContext = {
    code: undefined,
    stopRequested: false,
    logoutRequested: false,
    fenced: false,
    paired: true,
    codesShown: false,
    pairingRound: 0,
    maxPairingRounds: 3,
  };
  it.each([
    [DisconnectReason.restartRequired, 'reconnect-now', 'restart-required'],
    [DisconnectReason.loggedOut, 'wipe', 'logged-out'],
    [DisconnectReason.forbidden, 'wipe', 'forbidden'],
    [DisconnectReason.connectionReplaced, 'stop', 'connection-replaced'],
    [DisconnectReason.connectionClosed, 'backoff', 'connection-closed'],
    [DisconnectReason.connectionLost, 'backoff', 'connection-lost'],
    [DisconnectReason.badSession, 'backoff', 'bad-session'],
    [DisconnectReason.multideviceMismatch, 'backoff', 'multidevice-mismatch'],
    [DisconnectReason.unavailableService, 'backoff', 'service-unavailable'],
    [499, 'backoff', 'unknown'],
  ])('code %i -> %s (%s)', (code, action, cause) => {
    expect(decideOnClose({ ...base, code })).toEqual({ action, cause });
  });

  it('lets a fence loss and a requested stop win over the code', () => {
    expect(decideOnClose({ ...base, code: 428, fenced: true })).toEqual({
      action: 'stop',
      cause: 'stale-epoch',
    });
    expect(decideOnClose({ ...base, code: 428, stopRequested: true })).toEqual({
      action: 'stop',
      cause: 'stopped',
    });
    expect(decideOnClose({ ...base, code: 401, logoutRequested: true })).toEqual({
      action: 'wipe',
      cause: 'logout',
    });
  });

  it('renews pairing after the QR refs ran out (408 while unpaired), until the rounds are used up', () => {
    const pairing = { ...base, code: 408, paired: false, codesShown: true };
    expect(decideOnClose({ ...pairing, pairingRound: 1 })).toEqual({
      action: 'reconnect-now',
      cause: 'pairing-renewed',
    });
    expect(decideOnClose({ ...pairing, pairingRound: 3 })).toEqual({
      action: 'pairing-expired',
      cause: 'pairing-expired',
    });
    // A 408 before any code was shown is a lost connection, not an expired pairing.
    expect(decideOnClose({ ...pairing, codesShown: false })).toEqual({
      action: 'backoff',
      cause: 'connection-lost',
    });
  });
});

describe('the adapter on each disconnect code', () => {
  it('515 (restartRequired) reconnects at once, without a backoff timer', async () => {
    const t = await connected();
    await t.standIn.current.close(DisconnectReason.restartRequired);
    const second = await t.standIn.socket(2);
    expect(t.scheduler.calls).toHaveLength(0);
    expect(t.log.of('state').at(-1)).toMatchObject({ state: 'connecting', cause: 'restart-required' });
    expect(t.log.states()).not.toContain('disconnected');
    second.open();
    await t.log.waitFor('state', (s) => s.state === 'connected' && s.cause === 'restart-required');
  });

  it.each([
    [DisconnectReason.loggedOut, 'logged-out'],
    [DisconnectReason.forbidden, 'forbidden'],
  ])('%i wipes the auth state and ends logged out, unpaired, without reconnecting', async (code, cause) => {
    const t = await connected();
    const authKey = t.channel.keys.auth;
    expect(await channels.redis.hexists(authKey, 'creds')).toBe(1);
    await t.standIn.current.close(code);
    const change = await t.log.waitFor('state', (s) => s.state === 'logged_out');
    expect(change).toMatchObject({ cause, code, willReconnect: false, previous: 'connected' });
    expect(await channels.redis.exists(authKey)).toBe(0);
    await settle(30);
    expect(t.standIn.sockets).toHaveLength(1);
    expect(t.scheduler.pending()).toHaveLength(0);
    await expect(
      t.channel.send({ to: '5511911112222', content: { type: 'text', text: 'x' } }),
    ).rejects.toMatchObject({
      code: 'LOGGED_OUT',
      unrecoverable: true,
    });

    // Connecting again starts a new pairing with fresh creds.
    await t.channel.connect();
    const next = await t.standIn.socket(2);
    expect(next.config.auth.creds.me).toBeUndefined();
    expect(next.config.auth.creds.account).toBeUndefined();
    next.showQr();
    await t.log.waitFor('state', (s) => s.state === 'pairing');
  });

  it('440 (connectionReplaced) stops and does not reconnect: the session moved', async () => {
    const t = await connected();
    await t.standIn.current.close(DisconnectReason.connectionReplaced, 'Stream Errored (conflict)');
    const change = await t.log.waitFor('state', (s) => s.state === 'disconnected');
    expect(change).toMatchObject({
      cause: 'connection-replaced',
      code: 440,
      detail: 'Stream Errored (conflict)',
      willReconnect: false,
    });
    await settle(30);
    expect(t.standIn.sockets).toHaveLength(1);
    expect(t.scheduler.calls).toHaveLength(0);
    expect(await channels.redis.hexists(t.channel.keys.auth, 'creds')).toBe(1); // auth kept: the new owner uses it
  });

  it('428, 408 and 500 reconnect with a growing delay, capped, and record the reason', async () => {
    const t = await connected({ backoff: { initialMs: 1_000, maxMs: 5_000, multiplier: 2, jitter: 0.5 } });
    const codes = [
      DisconnectReason.connectionClosed,
      DisconnectReason.connectionLost,
      DisconnectReason.badSession,
      DisconnectReason.connectionClosed,
      DisconnectReason.connectionLost,
    ];
    for (const [i, code] of codes.entries()) {
      await t.standIn.sockets[i]!.close(code);
      const change = await t.log.waitFor('state', (s) => s.state === 'disconnected' && s.attempt === i + 1);
      expect(change).toMatchObject({ code, willReconnect: true });
      expect(t.scheduler.pending()).toHaveLength(1);
      // Nothing reconnects until the delay has passed.
      expect(t.standIn.sockets).toHaveLength(i + 1);
      t.scheduler.runNext();
      await t.standIn.socket(i + 2);
    }
    const disconnects = t.log.of('state').filter((s) => s.state === 'disconnected');
    expect(disconnects.map((s) => s.retryInMs)).toEqual([1_000, 2_000, 4_000, 5_000, 5_000]);
    expect(disconnects.map((s) => s.cause)).toEqual([
      'connection-closed',
      'connection-lost',
      'bad-session',
      'connection-closed',
      'connection-lost',
    ]);
    expect(t.scheduler.calls.map((c) => c.ms)).toEqual([1_000, 2_000, 4_000, 5_000, 5_000]);
  });

  it('starts the backoff over after a connection that stayed up, not after a flapping one', async () => {
    let now = Date.parse('2026-03-01T12:00:00Z');
    const t = await connected({ now: () => new Date(now), stableAfterMs: 60_000 });
    await t.standIn.current.close(DisconnectReason.connectionClosed);
    t.scheduler.runNext();
    (await t.standIn.socket(2)).open(); // up for no time at all
    await t.standIn.current.close(DisconnectReason.connectionClosed);
    await t.log.waitFor('state', (s) => s.attempt === 2);
    t.scheduler.runNext();
    (await t.standIn.socket(3)).open();
    now += 61_000; // stable
    await t.standIn.current.close(DisconnectReason.connectionClosed);
    const last = t.log.of('state').at(-1);
    expect(last).toMatchObject({ state: 'disconnected', attempt: 1, retryInMs: 1_000 });
  });

  it('disconnect() during a backoff wait cancels the reconnect', async () => {
    const t = await connected();
    await t.standIn.current.close(DisconnectReason.connectionLost);
    await t.log.waitFor('state', (s) => s.state === 'disconnected' && s.willReconnect === true);
    await t.channel.disconnect();
    expect(t.log.of('state').at(-1)).toMatchObject({
      state: 'disconnected',
      cause: 'stopped',
      willReconnect: false,
    });
    expect(t.scheduler.pending()).toHaveLength(0);
    t.scheduler.calls[0]!.fn(); // even if the timer fired anyway
    await settle(30);
    expect(t.standIn.sockets).toHaveLength(1);
  });

  it('disconnect() ends the socket itself and keeps the auth state', async () => {
    const t = await connected();
    await t.channel.disconnect();
    expect(t.standIn.current.closed).toBe(true);
    expect(t.standIn.current.endError).toBeUndefined();
    expect(t.channel.state).toBe('disconnected');
    expect(t.log.of('state').at(-1)).toMatchObject({ cause: 'stopped', willReconnect: false });
    expect(await channels.redis.hexists(t.channel.keys.auth, 'creds')).toBe(1);
    await t.channel.disconnect(); // idempotent
    expect(t.log.of('state').filter((s) => s.cause === 'stopped')).toHaveLength(1);
  });

  it('logout() unlinks the device and removes the auth state', async () => {
    const t = await connected();
    await t.channel.logout();
    expect(t.standIn.sockets[0]!.logoutCalls).toBe(1);
    expect(t.channel.state).toBe('logged_out');
    expect(t.log.of('state').at(-1)).toMatchObject({ state: 'logged_out', cause: 'logout' });
    expect(await channels.redis.exists(t.channel.keys.auth)).toBe(0);
  });

  it('stops for good when the fence moves: a refused creds save ends the socket (stale-epoch), no reconnect', async () => {
    const t = await connected();
    await channels.redis.set(t.channel.keys.fence, '2');
    const before = await channels.redis.hget(t.channel.keys.auth, 'creds');
    t.standIn.current.ev.emit('creds.update', {
      me: { id: '5511900000001:7@s.whatsapp.net', name: 'renamed' },
    });
    const change = await t.log.waitFor('state', (s) => s.state === 'disconnected');
    expect(change).toMatchObject({ cause: 'stale-epoch', willReconnect: false });
    expect(t.standIn.current.closed).toBe(true);
    expect(await channels.redis.hget(t.channel.keys.auth, 'creds')).toBe(before);
    await settle(30);
    expect(t.standIn.sockets).toHaveLength(1);
    await expect(t.channel.connect()).rejects.toMatchObject({ code: 'STALE_EPOCH' });
  });

  it('checks the fence before reconnecting after a backoff', async () => {
    const t = await connected();
    await t.standIn.current.close(DisconnectReason.connectionClosed);
    await t.log.waitFor('state', (s) => s.willReconnect === true);
    await channels.redis.set(t.channel.keys.fence, '5');
    t.scheduler.runNext();
    await t.log.waitFor('state', (s) => s.cause === 'stale-epoch');
    await settle(30);
    expect(t.standIn.sockets).toHaveLength(1);
  });
});
