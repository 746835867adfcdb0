import { BufferJSON, DisconnectReason } from '@whiskeysockets/baileys';
import { describe, expect, it } from 'vitest';
import { settle } from '../testing.ts';
import type { StandInChannel } from './testing/harness.ts';
import { type SuiteChannelOptions, standInChannels } from './testing/suite.ts';

const phone = { phoneNumber: '5511988880001', lid: '400000000000001', device: 12 };
const channels = standInChannels('channels-pairing');

async function unpaired(options: SuiteChannelOptions = {}): Promise<StandInChannel> {
  return await channels.create({ now: () => new Date('2026-03-01T12:00:00Z'), ...options });
}

async function storedCreds(t: StandInChannel) {
  const raw = await channels.redis.hget(t.channel.keys.auth, 'creds');
  return raw ? JSON.parse(raw, BufferJSON.reviver) : undefined;
}

describe('pairing by QR', () => {
  it('publishes each QR with its TTL, a fresh one replacing the last, then completes after the 515 restart', async () => {
    const t = await unpaired();
    expect(t.channel.state).toBe('unpaired');
    await t.channel.connect();
    const socket = await t.standIn.socket(1);
    await t.log.waitFor('state', (s) => s.state === 'connecting');

    const first = socket.showQr();
    const qr1 = await t.log.waitFor('pairing');
    expect(t.channel.state).toBe('pairing');
    expect(qr1).toMatchObject({ kind: 'qr', code: first, ttlMs: 60_000, sequence: 1 });
    expect(qr1.expiresAt.getTime() - qr1.issuedAt.getTime()).toBe(60_000);
    // v7's QR payload: a wa.me link carrying ref, noise key, identity key, adv secret, platform.
    expect(first.startsWith('https://wa.me/settings/linked_devices#')).toBe(true);
    expect(first.split('#')[1]!.split(',')).toHaveLength(5);

    const second = socket.showQr();
    const qr2 = await t.log.waitFor('pairing', (p) => p.sequence === 2);
    expect(qr2).toMatchObject({ kind: 'qr', code: second, ttlMs: 20_000 });
    expect(qr2.code).not.toBe(qr1.code);

    socket.completePairing(phone);
    await settle(30);
    // creds.update was persisted on the spot: the linked account is in Redis before the restart.
    const creds = await storedCreds(t);
    expect(creds.me.id).toBe('5511988880001:12@s.whatsapp.net');
    expect(creds.account).toBeTruthy();
    expect(t.log.of('paired')).toHaveLength(0); // not until the new connection opens

    await socket.close(DisconnectReason.restartRequired);
    const restarted = await t.standIn.socket(2);
    expect(t.scheduler.calls).toHaveLength(0);
    expect(restarted.config.auth.creds.me?.id).toBe('5511988880001:12@s.whatsapp.net');
    restarted.open();
    const paired = await t.log.waitFor('paired');
    expect(paired).toEqual({
      sessionId: t.sessionId,
      phoneNumber: '5511988880001',
      lid: '400000000000001',
      at: expect.any(Date),
    });
    expect(t.log.of('state').at(-1)).toMatchObject({ state: 'connected', phoneNumber: '5511988880001' });
    expect(t.log.states()).toEqual(['connecting', 'pairing', 'connecting', 'connected']);
    expect(t.log.of('state').map((s) => s.previous)).toEqual([
      'unpaired',
      'connecting',
      'pairing',
      'connecting',
    ]);
  });

  it('renews the pairing with a new socket when the QR refs run out, and gives up after the allowed rounds', async () => {
    const t = await unpaired({ maxPairingRounds: 2 });
    await t.channel.connect();
    const one = await t.standIn.socket(1);
    one.showQr();
    await one.expireQrs();
    const two = await t.standIn.socket(2);
    expect(t.log.of('state').at(-1)).toMatchObject({ state: 'connecting', cause: 'pairing-renewed' });
    two.showQr();
    const renewed = await t.log.waitFor('pairing', (p) => p.sequence === 2);
    expect(renewed.ttlMs).toBe(60_000); // a new socket's first QR
    await two.expireQrs();
    const expired = await t.log.waitFor('state', (s) => s.state === 'unpaired');
    expect(expired).toMatchObject({ cause: 'pairing-expired', code: 408 });
    await settle(30);
    expect(t.standIn.sockets).toHaveLength(2);
  });
});

describe('pairing by code', () => {
  it('requests a code for the number on the first QR and publishes it with its TTL', async () => {
    const t = await unpaired();
    await t.channel.connect({ pairingPhoneNumber: '+55 (11) 98888-0001' });
    const socket = await t.standIn.socket(1);
    socket.showQr();
    const code = await t.log.waitFor('pairing', (p) => p.kind === 'code');
    expect(socket.pairingCodeRequests).toEqual(['5511988880001']);
    expect(code).toMatchObject({ kind: 'code', phoneNumber: '5511988880001', ttlMs: 160_000 });
    expect(code.code).toMatch(/^[0-9A-Z]{8}$/);
    expect(socket.config.auth.creds.pairingCode).toBe(code.code);
    socket.showQr(); // QR rotation goes on; the code is not requested again on the same socket
    await t.log.waitFor('pairing', (p) => p.sequence === 3);
    expect(socket.pairingCodeRequests).toHaveLength(1);

    socket.completePairing(phone);
    await socket.close(DisconnectReason.restartRequired);
    (await t.standIn.socket(2)).open();
    expect(await t.log.waitFor('paired')).toMatchObject({ phoneNumber: '5511988880001' });
    expect((await storedCreds(t)).registered).toBe(true);
  });

  it('requestPairingCode() on a running pairing returns the code; a new round clears the unconfirmed number and asks again', async () => {
    const t = await unpaired();
    await t.channel.connect();
    const one = await t.standIn.socket(1);
    one.showQr();
    await t.log.waitFor('pairing');
    const challenge = await t.channel.requestPairingCode('5511988880001');
    expect(challenge).toMatchObject({ kind: 'code', phoneNumber: '5511988880001', sequence: 2 });
    expect(one.config.auth.creds.pairingCode).toBe(challenge.code);
    expect(one.config.auth.creds.me?.id).toBe('5511988880001@s.whatsapp.net');

    // Nobody typed it: the refs run out and a new socket starts a clean round.
    await one.expireQrs();
    const two = await t.standIn.socket(2);
    expect(two.config.auth.creds.me).toBeUndefined();
    two.showQr();
    const again = await t.log.waitFor('pairing', (p) => p.kind === 'code' && p.sequence > 2);
    expect(two.pairingCodeRequests).toEqual(['5511988880001']);
    expect(again.code).not.toBe(challenge.code);
  });

  it('requestPairingCode() on a stopped session connects and resolves on the first QR', async () => {
    const t = await unpaired();
    const pending = t.channel.requestPairingCode('5511988880001');
    const socket = await t.standIn.socket(1);
    socket.showQr();
    expect(await pending).toMatchObject({ kind: 'code', phoneNumber: '5511988880001' });
  });

  it('refuses an invalid number and an already paired session', async () => {
    const t = await unpaired();
    await expect(t.channel.requestPairingCode('12')).rejects.toMatchObject({
      code: 'INVALID_NUMBER',
      unrecoverable: true,
    });
    await expect(t.channel.connect({ pairingPhoneNumber: 'not a number' })).rejects.toMatchObject({
      code: 'INVALID_NUMBER',
    });
    expect(t.standIn.sockets).toHaveLength(0);

    const linked = await channels.create({ paired: phone });
    expect(linked.channel.state).toBe('disconnected');
    await expect(linked.channel.requestPairingCode('5511988880001')).rejects.toMatchObject({
      code: 'ALREADY_PAIRED',
    });
  });
});
