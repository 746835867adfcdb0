import { redisOptions } from '@switchboard/testing';
import { DisconnectReason, proto } from '@whiskeysockets/baileys';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { ChannelError, StaleEpochError, UnrecoverableChannelError } from '../errors.ts';
import { settle } from '../testing.ts';
import { BaileysChannel } from './adapter.ts';
import { messageId, wireMessage } from './testing/messages.ts';
import { BaileysStandIn, boom } from './testing/stand-in.ts';
import { standInChannels } from './testing/suite.ts';

const identity = { phoneNumber: '5511900000002', lid: '500000000000002' };
const channels = standInChannels('channels-adapter', { paired: identity });
const connected = channels.connected;
const PEER = '5511977770000';
const PEER_LID = '600000000000009';

describe('send', () => {
  it('sends text through the socket and returns the provider message id', async () => {
    const t = await connected();
    const result = await t.channel.send({
      to: '+55 11 97777-0000',
      content: { type: 'text', text: 'Hello from Acme' },
    });
    const [sent] = t.standIn.current.sent;
    expect(sent?.jid).toBe(`${PEER}@s.whatsapp.net`);
    expect(result.providerMessageId).toBe(sent?.message.key.id);
    expect(result.providerMessageId).toMatch(/^3EB0[0-9A-F]+$/);
    expect(result.to).toBe(`${PEER}@s.whatsapp.net`);
    expect(result.timestamp).toBeInstanceOf(Date);
    const body = sent?.message.message;
    expect(body?.conversation ?? body?.extendedTextMessage?.text).toBe('Hello from Acme');
  });

  it('rejects template and media content, which it cannot send, as unrecoverable INVALID_CONTENT without sending', async () => {
    const t = await connected();
    for (const content of [
      { type: 'template', name: 'order_update', language: 'pt_BR' },
      { type: 'media', kind: 'image', url: 'https://example.test/a.jpg' },
    ] as const) {
      const attempt = t.channel.send({ to: PEER, content });
      await expect(attempt).rejects.toBeInstanceOf(UnrecoverableChannelError);
      await expect(attempt).rejects.toMatchObject({ code: 'INVALID_CONTENT', unrecoverable: true });
    }
    expect(t.standIn.current.sent).toHaveLength(0);
    expect(t.channel.state).toBe('connected');
  });

  it('sends a reply: the built message quotes the original (stanzaId, participant, quoted text)', async () => {
    const t = await connected();
    const original = messageId();
    const result = await t.channel.send({
      to: `${PEER_LID}@lid`,
      content: { type: 'text', text: 'Sure, tomorrow at 10' },
      replyTo: { providerMessageId: original, text: 'Can we talk?' },
    });
    const sent = t.standIn.current.sent[0]!;
    expect(sent.jid).toBe(`${PEER_LID}@lid`);
    const context = sent.message.message?.extendedTextMessage?.contextInfo;
    expect(sent.message.message?.extendedTextMessage?.text).toBe('Sure, tomorrow at 10');
    expect(context?.stanzaId).toBe(original);
    expect(context?.participant).toBe(`${PEER_LID}@lid`);
    expect(context?.quotedMessage?.conversation).toBe('Can we talk?');
    expect(result.providerMessageId).toBe(sent.message.key.id);
  });

  it('uses the caller-provided message id (a retried send keeps its id)', async () => {
    const t = await connected();
    const id = messageId();
    const result = await t.channel.send({
      to: PEER,
      content: { type: 'text', text: 'x' },
      providerMessageId: id,
    });
    expect(result.providerMessageId).toBe(id);
    expect(t.standIn.current.sent[0]?.message.key.id).toBe(id);
  });

  it('sends reactions, locations and contacts as Baileys content', async () => {
    const t = await connected();
    await t.channel.send({ to: PEER, content: { type: 'reaction', targetId: 'ABC', emoji: '🙏' } });
    await t.channel.send({
      to: PEER,
      content: { type: 'location', latitude: -23.5, longitude: -46.6, name: 'Office' },
    });
    await t.channel.send({
      to: PEER,
      content: { type: 'contact', displayName: 'Support', vcard: 'BEGIN:VCARD\nEND:VCARD' },
    });
    const [reaction, location, contact] = t.standIn.current.sent.map((s) => s.message.message);
    expect(reaction?.reactionMessage).toMatchObject({
      text: '🙏',
      key: { id: 'ABC', remoteJid: `${PEER}@s.whatsapp.net` },
    });
    expect(location?.locationMessage).toMatchObject({
      degreesLatitude: -23.5,
      degreesLongitude: -46.6,
      name: 'Office',
    });
    expect(contact?.contactMessage).toMatchObject({
      displayName: 'Support',
      vcard: 'BEGIN:VCARD\nEND:VCARD',
    });
  });

  it('refuses with STALE_EPOCH, sending nothing, once the fence moved; the channel stops', async () => {
    const t = await connected();
    await channels.redis.set(t.channel.keys.fence, '2'); // another worker claimed the session
    const attempt = t.channel.send({ to: PEER, content: { type: 'text', text: 'must not go out' } });
    await expect(attempt).rejects.toBeInstanceOf(StaleEpochError);
    await expect(attempt).rejects.toMatchObject({
      code: 'STALE_EPOCH',
      unrecoverable: false,
      epoch: 1n,
      fence: 2n,
    });
    expect(t.standIn.current.sent).toHaveLength(0);
    await t.log.waitFor('state', (s) => s.cause === 'stale-epoch');
    expect(t.standIn.current.closed).toBe(true);
    await expect(
      t.channel.send({ to: PEER, content: { type: 'text', text: 'again' } }),
    ).rejects.toMatchObject({
      code: 'STALE_EPOCH',
    });
  });

  it('refuses when not connected (retryable), an invalid number and empty text (unrecoverable)', async () => {
    const t = await channels.create();
    const notConnected = t.channel.send({ to: PEER, content: { type: 'text', text: 'x' } });
    await expect(notConnected).rejects.toBeInstanceOf(ChannelError);
    await expect(notConnected).rejects.toMatchObject({ code: 'NOT_CONNECTED', unrecoverable: false });

    await t.channel.connect();
    (await t.standIn.socket(1)).open();
    await t.log.waitFor('state', (s) => s.state === 'connected');
    await expect(t.channel.send({ to: '12345', content: { type: 'text', text: 'x' } })).rejects.toMatchObject(
      {
        code: 'INVALID_NUMBER',
        unrecoverable: true,
      },
    );
    await expect(
      t.channel.send({ to: 'someone@example.com', content: { type: 'text', text: 'x' } }),
    ).rejects.toMatchObject({
      code: 'INVALID_NUMBER',
    });
    await expect(t.channel.send({ to: PEER, content: { type: 'text', text: '' } })).rejects.toMatchObject({
      code: 'INVALID_CONTENT',
      unrecoverable: true,
    });
    expect(t.standIn.current.sent).toHaveLength(0);
  });

  it('refuses a send with a retryable FENCE_UNAVAILABLE when the fence cannot be read', async () => {
    const own = new Redis({
      ...redisOptions(),
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
    });
    await own.connect();
    const t = await connected({ redis: own });
    own.disconnect();
    const attempt = t.channel.send({ to: PEER, content: { type: 'text', text: 'x' } });
    await expect(attempt).rejects.toMatchObject({ code: 'FENCE_UNAVAILABLE', unrecoverable: false });
    expect(t.standIn.current.sent).toHaveLength(0);
  });

  it('logout() by a fenced-out owner rejects with STALE_EPOCH and leaves the auth state to the new owner', async () => {
    const t = await connected();
    await t.channel.disconnect();
    await channels.redis.set(t.channel.keys.fence, '9');
    await expect(t.channel.logout()).rejects.toMatchObject({ code: 'STALE_EPOCH' });
    expect(await channels.redis.hexists(t.channel.keys.auth, 'creds')).toBe(1);
  });

  it('maps a socket failure during a send to a retryable NOT_CONNECTED', async () => {
    const t = await connected();
    t.standIn.current.failNextSend = boom('Connection Closed', DisconnectReason.connectionClosed);
    await expect(t.channel.send({ to: PEER, content: { type: 'text', text: 'x' } })).rejects.toMatchObject({
      code: 'NOT_CONNECTED',
      unrecoverable: false,
    });
  });

  it('shows typing in a chat and availability globally', async () => {
    const t = await connected();
    await t.channel.sendPresence(PEER, 'typing');
    await t.channel.sendPresence(PEER, 'paused');
    await t.channel.sendPresence('', 'available');
    expect(t.standIn.current.presenceUpdates).toEqual([
      { type: 'composing', jid: `${PEER}@s.whatsapp.net` },
      { type: 'paused', jid: `${PEER}@s.whatsapp.net` },
      { type: 'available' },
    ]);
  });
});

describe('inbound events through the adapter', () => {
  it('holds events a logged-in socket receives while catching up until the offline notifications are in', async () => {
    const t = await channels.create();
    await t.channel.connect();
    const socket = await t.standIn.socket(1);
    await t.log.waitFor('state', (s) => s.state === 'connecting');
    await settle(5); // the socket starts buffering on its next tick
    socket.receive(
      [
        wireMessage({
          key: { remoteJid: `${PEER}@s.whatsapp.net`, id: messageId() },
          message: { conversation: 'while you were away' },
        }),
      ],
      'append',
    );
    await settle(30);
    expect(t.log.of('message')).toHaveLength(0);
    socket.open();
    const message = await t.log.waitFor('message');
    expect(message).toMatchObject({ live: false, content: { type: 'text', text: 'while you were away' } });
  });

  it('emits messages, receipts, presence, identity links and unsupported events in order', async () => {
    const t = await connected();
    const socket = t.standIn.current;
    const id = messageId();
    socket.receive([
      wireMessage({
        key: { remoteJid: `${PEER_LID}@lid`, remoteJidAlt: `${PEER}@s.whatsapp.net`, id },
        message: { conversation: 'hi' },
        pushName: 'Ana',
      }),
      wireMessage({
        key: { remoteJid: `${PEER}@s.whatsapp.net`, id: messageId() },
        message: { eventMessage: { name: 'Party' } },
      }),
    ]);
    socket.updateMessages([
      {
        key: { remoteJid: `${PEER_LID}@lid`, id: 'OUT1', fromMe: true },
        update: { status: proto.WebMessageInfo.Status.DELIVERY_ACK },
      },
    ]);
    socket.receipts([
      {
        key: { remoteJid: '120363025246125486@g.us', id: 'OUT2', fromMe: true },
        receipt: { userJid: `${PEER}@s.whatsapp.net`, readTimestamp: 1_772_000_000 },
      },
    ]);
    socket.presence({
      id: `${PEER_LID}@lid`,
      presences: { [`${PEER_LID}@lid`]: { lastKnownPresence: 'composing' } },
    });
    await socket.learnLidMapping(`${PEER}@s.whatsapp.net`, `${PEER_LID}@lid`);

    await t.log.waitFor('identity');
    const names = t.log.events.filter((e) => e.event !== 'state').map((e) => e.event);
    expect(names).toEqual(['message', 'unsupported', 'receipt', 'receipt', 'presence', 'identity']);
    expect(t.log.of('message')[0]).toMatchObject({
      providerMessageId: id,
      sender: { lid: PEER_LID, pn: PEER, pushName: 'Ana' },
      live: true,
    });
    expect(t.log.of('receipt').map((r) => [r.providerMessageId, r.status])).toEqual([
      ['OUT1', 'delivered'],
      ['OUT2', 'read'],
    ]);
    expect(t.log.of('identity')[0]).toEqual({ sessionId: t.sessionId, pn: PEER, lid: PEER_LID });
    expect(t.log.of('unsupported')[0]).toMatchObject({
      reason: 'unknown-content',
      detail: 'eventMessage',
    });
  });

  it("fills in the PN of a LID chat without remoteJidAlt from the session's LID mappings", async () => {
    const t = await connected();
    const socket = t.standIn.current;
    const lidOnly = () =>
      wireMessage({
        key: { remoteJid: `${PEER_LID}@lid`, id: messageId() },
        message: { conversation: 'who am I?' },
      });
    socket.receive([lidOnly()]);
    const before = await t.log.waitFor('message');
    expect(before.sender).toEqual({ address: `${PEER_LID}@lid`, lid: PEER_LID });

    await socket.learnLidMapping(`${PEER}@s.whatsapp.net`, `${PEER_LID}@lid`);
    socket.receive([lidOnly()]);
    const [, after] = await t.log.waitForCount('message', 2);
    expect(after?.sender).toEqual({ address: `${PEER_LID}@lid`, lid: PEER_LID, pn: PEER });
    expect(after?.chat.contact).toMatchObject({ pn: PEER });
  });

  it('keeps delivering when a listener throws or rejects', async () => {
    const t = await connected();
    t.channel.on('message', () => {
      throw new Error('listener bug');
    });
    t.channel.on('message', async () => {
      throw new Error('async listener bug');
    });
    const socket = t.standIn.current;
    for (const text of ['one', 'two']) {
      socket.receive([
        wireMessage({
          key: { remoteJid: `${PEER}@s.whatsapp.net`, id: messageId() },
          message: { conversation: text },
        }),
      ]);
    }
    const messages = await t.log.waitForCount('message', 2);
    expect(messages.map((m) => (m.content.type === 'text' ? m.content.text : ''))).toEqual(['one', 'two']);
    expect(t.channel.state).toBe('connected');
  });
});

describe('a worker restart', () => {
  it('a new channel on a new Redis connection resumes the paired session without pairing again', async () => {
    const first = await connected();
    await first.channel.disconnect();
    const other = new Redis(redisOptions());
    try {
      const standIn = new BaileysStandIn();
      const restarted = await BaileysChannel.create({
        redis: other,
        keyPrefix: channels.keyPrefix,
        sessionId: first.sessionId,
        epoch: 2n,
        socketFactory: standIn.factory,
      });
      await other.set(restarted.keys.fence, '2');
      expect(restarted.state).toBe('disconnected');
      await restarted.connect();
      const socket = await standIn.socket(1);
      expect(socket.config.auth.creds.me?.id).toBe('5511900000002:7@s.whatsapp.net');
      expect(socket.config.auth.creds.account).toBeTruthy();
      socket.open();
      await settle(20);
      expect(restarted.state).toBe('connected');
      await restarted.disconnect();
    } finally {
      other.disconnect();
    }
  });
});
