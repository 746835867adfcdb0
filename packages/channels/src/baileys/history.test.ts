import { DisconnectReason, type WAMessage } from '@whiskeysockets/baileys';
import { describe, expect, it } from 'vitest';
import type { InboundMessage } from '../channel.ts';
import { HistoryImport } from './history.ts';
import type { MappingContext } from './mapping.ts';
import { messageId, wireMessage } from './testing/messages.ts';
import { standInChannels } from './testing/suite.ts';

const NOW = new Date('2026-03-01T12:00:00Z');
const DAY = 86_400;
const nowSeconds = NOW.getTime() / 1000;
const ME = { phoneNumber: '5511988880009', lid: '400000000000009', device: 3 };
const ANA = '5511977771001';
const ANA_LID = '600000000001001';
const ctx: MappingContext = {
  sessionId: '00000000-0000-4000-8000-000000000001',
  me: { id: `${ME.phoneNumber}:3@s.whatsapp.net`, lid: `${ME.lid}:3@lid` },
  now: () => NOW,
};

function text(id: string, daysAgo: number, body: string, options: { fromMe?: boolean; jid?: string } = {}) {
  return wireMessage({
    key: { remoteJid: options.jid ?? `${ANA}@s.whatsapp.net`, id, fromMe: options.fromMe ?? false },
    message: { conversation: body },
    pushName: 'Ana',
    timestamp: nowSeconds - daysAgo * DAY,
  });
}

function messages(events: ReturnType<HistoryImport['select']>): InboundMessage[] {
  return events.map((e) => {
    if (e.event !== 'message') throw new Error(`expected a message event, got ${e.event}`);
    return e.payload;
  });
}

describe('history import: the chunks WhatsApp sends at pairing', () => {
  it('keeps the window of direct and group messages, oldest first, flagged history; drops the rest', () => {
    const run = new HistoryImport({ days: async () => 7 });
    const ids = { old: messageId(), recent: messageId(), mine: messageId(), group: messageId() };
    const chunk: WAMessage[] = [
      text(ids.recent, 1, 'see you tomorrow'),
      text(ids.mine, 2, 'order shipped', { fromMe: true }),
      text(ids.old, 8, 'older than the window'),
      wireMessage({
        key: { remoteJid: '120363000000000001@g.us', id: ids.group, participant: `${ANA}@s.whatsapp.net` },
        message: { conversation: 'hello group' },
        timestamp: nowSeconds - 3 * DAY,
      }),
      // A status update, an edit (changes an earlier message), a protocol message, an empty one.
      wireMessage({
        key: { remoteJid: 'status@broadcast', id: messageId(), participant: `${ANA}@s.whatsapp.net` },
        message: { conversation: 'my status' },
        timestamp: nowSeconds - DAY,
      }),
      wireMessage({
        key: { remoteJid: `${ANA}@s.whatsapp.net`, id: messageId() },
        message: {
          protocolMessage: {
            type: 14,
            key: { id: ids.recent, remoteJid: `${ANA}@s.whatsapp.net` },
            editedMessage: { conversation: 'edited' },
          },
        },
        timestamp: nowSeconds - DAY,
      }),
      wireMessage({
        key: { remoteJid: `${ANA}@s.whatsapp.net`, id: messageId() },
        message: { protocolMessage: { type: 3 } },
        timestamp: nowSeconds - DAY,
      }),
      wireMessage({
        key: { remoteJid: `${ANA}@s.whatsapp.net`, id: messageId() },
        timestamp: nowSeconds - DAY,
      }),
    ];
    const kept = messages(run.select({ messages: chunk }, 7, ctx));
    expect(kept.map((m) => m.providerMessageId)).toEqual([ids.group, ids.mine, ids.recent]);
    expect(kept.every((m) => m.history === true && m.live === false)).toBe(true);
    const [group, mine, recent] = kept;
    expect(group!.chat).toMatchObject({ kind: 'group', address: '120363000000000001@g.us' });
    expect(mine).toMatchObject({
      fromMe: true,
      chat: { kind: 'direct', contact: { pn: ANA } },
      sender: { pn: ME.phoneNumber },
      content: { type: 'text', text: 'order shipped' },
    });
    expect(recent).toMatchObject({
      fromMe: false,
      sender: { pn: ANA, pushName: 'Ana' },
      timestamp: new Date((nowSeconds - DAY) * 1000),
    });
    expect(run.taken).toBe(3);
  });

  it('stops at the bound across chunks, keeping the newest of each chunk', () => {
    const run = new HistoryImport({ days: async () => 30, maxMessages: 3 });
    const first = [messageId(), messageId()];
    const second = [messageId(), messageId(), messageId()];
    const kept1 = messages(
      run.select({ messages: [text(first[0]!, 1, 'a'), text(first[1]!, 2, 'b')] }, 30, ctx),
    );
    expect(kept1.map((m) => m.providerMessageId)).toEqual([first[1], first[0]]);
    const kept2 = messages(
      run.select(
        { messages: [text(second[0]!, 5, 'c'), text(second[1]!, 3, 'd'), text(second[2]!, 4, 'e')] },
        30,
        ctx,
      ),
    );
    expect(kept2.map((m) => m.providerMessageId)).toEqual([second[1]]);
    expect(run.select({ messages: [text(messageId(), 1, 'f')] }, 30, ctx)).toEqual([]);
    expect(run.taken).toBe(3);
  });

  it('asks for the window once, and reads a failed lookup as none', async () => {
    let asked = 0;
    const run = new HistoryImport({
      days: async () => {
        asked++;
        throw new Error('database down');
      },
    });
    expect(await run.days()).toBeNull();
    expect(await run.days()).toBeNull();
    expect(asked).toBe(1);
  });
});

const channels = standInChannels('channels-history');

describe('history import through the adapter', () => {
  it('emits the history of the socket that opened right after pairing, with LIDs resolved to phone numbers', async () => {
    let asked = 0;
    const t = await channels.create({
      now: () => NOW,
      historyImportDays: async () => {
        asked++;
        return 10;
      },
    });
    await t.channel.connect();
    const socket = await t.standIn.socket(1);
    socket.showQr();
    await t.log.waitFor('pairing');
    socket.completePairing(ME);
    await socket.close(DisconnectReason.restartRequired);
    const restarted = await t.standIn.socket(2);
    restarted.open();
    await t.log.waitFor('paired');
    await restarted.learnLidMapping(`${ANA}@s.whatsapp.net`, `${ANA_LID}@lid`);

    const recent = messageId();
    const old = messageId();
    restarted.ev.emit('messaging-history.set', {
      chats: [],
      contacts: [],
      messages: [
        text(recent, 2, 'kept', { jid: `${ANA_LID}@lid` }),
        text(old, 11, 'outside the window', { jid: `${ANA_LID}@lid` }),
      ],
      isLatest: true,
      progress: 100,
      syncType: 3,
    });
    const imported = await t.log.waitFor('message', (m) => m.providerMessageId === recent);
    expect(imported).toMatchObject({
      history: true,
      live: false,
      chat: { kind: 'direct', contact: { lid: ANA_LID, pn: ANA } },
    });
    // A live message after it: the history was delivered first, and only the kept message.
    const live = messageId();
    restarted.receive([text(live, 0, 'hello now', { jid: `${ANA}@s.whatsapp.net` })]);
    await t.log.waitFor('message', (m) => m.providerMessageId === live);
    expect(t.log.of('message').map((m) => [m.providerMessageId, m.history ?? false])).toEqual([
      [recent, true],
      [live, false],
    ]);
    expect(asked).toBe(1);
  });

  it('imports nothing after a pairing when the setting says none', async () => {
    let asked = 0;
    const t = await channels.create({
      now: () => NOW,
      historyImportDays: async () => {
        asked++;
        return null;
      },
    });
    await t.channel.connect();
    const socket = await t.standIn.socket(1);
    socket.showQr();
    await t.log.waitFor('pairing');
    socket.completePairing(ME);
    await socket.close(DisconnectReason.restartRequired);
    const restarted = await t.standIn.socket(2);
    restarted.open();
    await t.log.waitFor('paired');
    restarted.ev.emit('messaging-history.set', {
      chats: [],
      contacts: [],
      messages: [text(messageId(), 1, 'not imported')],
      isLatest: true,
      syncType: 3,
    });
    // The setting's answer is already settled: its continuation runs before the next macrotask.
    await new Promise((resolve) => setImmediate(resolve));
    expect(asked).toBe(1);
    const live = messageId();
    restarted.receive([text(live, 0, 'hello')]);
    await t.log.waitFor('message', (m) => m.providerMessageId === live);
    expect(t.log.of('message').map((m) => m.providerMessageId)).toEqual([live]);
  });

  it('imports nothing on a reconnect of a number paired before', async () => {
    let asked = 0;
    const t = await channels.connected({
      now: () => NOW,
      paired: ME,
      historyImportDays: async () => {
        asked++;
        return 10;
      },
    });
    t.standIn.current.ev.emit('messaging-history.set', {
      chats: [],
      contacts: [],
      messages: [text(messageId(), 1, 'old sync')],
      isLatest: true,
      syncType: 3,
    });
    const live = messageId();
    t.standIn.current.receive([text(live, 0, 'hello')]);
    await t.log.waitFor('message', (m) => m.providerMessageId === live);
    expect(t.log.of('message').map((m) => m.providerMessageId)).toEqual([live]);
    expect(asked).toBe(0);
  });
});
