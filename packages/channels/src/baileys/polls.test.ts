import { jidNormalizedUser } from '@whiskeysockets/baileys';
import { describe, expect, it } from 'vitest';
import type { OutboundContent } from '../channel.ts';
import { messageId, wireMessage } from './testing/messages.ts';
import { pollVoteMessage } from './testing/polls.ts';
import { standInChannels } from './testing/suite.ts';

const identity = { phoneNumber: '5511900000031', lid: '500000000000031' };
const channels = standInChannels('channels-polls', { paired: identity });
const PEER = '5511977770031';
const PEER_JID = `${PEER}@s.whatsapp.net`;
const ME = `${identity.phoneNumber}@s.whatsapp.net`;

describe('polls on a Baileys session', () => {
  it('sends a poll with a secret, and decrypts the customer’s votes on it (real protos, AES-GCM)', async () => {
    const t = await channels.connected();
    const sent = await t.channel.send({
      to: PEER,
      content: { type: 'poll', name: 'Lunch?', options: ['pizza', 'sushi', 'salad'], selectableCount: 2 },
    });
    const built = t.standIn.current.sent[0]!.message.message!;
    const creation = built.pollCreationMessage ?? built.pollCreationMessageV3;
    expect(creation?.name).toBe('Lunch?');
    expect(creation?.options?.map((o) => o.optionName)).toEqual(['pizza', 'sushi', 'salad']);
    expect(creation?.selectableOptionsCount).toBe(2);
    const secret = built.messageContextInfo?.messageSecret;
    expect(secret?.length).toBe(32);

    const voteId = messageId();
    t.standIn.current.receive([
      wireMessage({
        key: { remoteJid: PEER_JID, id: voteId },
        message: pollVoteMessage({
          pollKey: { remoteJid: PEER_JID, id: sent.providerMessageId, fromMe: true },
          pollCreatorJid: jidNormalizedUser(ME),
          voterJid: PEER_JID,
          secret: secret!,
          selectedOptions: ['sushi', 'salad'],
        }),
      }),
    ]);
    const vote = await t.log.waitFor('message', (m) => m.providerMessageId === voteId);
    expect(vote.content).toEqual({
      type: 'poll_vote',
      pollMessageId: sent.providerMessageId,
      selectedOptions: ['sushi', 'salad'],
    });
    expect(vote.fromMe).toBe(false);
  });

  it('keeps the secret of a poll the customer creates and decrypts the votes on it', async () => {
    const t = await channels.connected();
    const pollId = messageId();
    const secret = Buffer.alloc(32, 7);
    t.standIn.current.receive([
      wireMessage({
        key: { remoteJid: PEER_JID, id: pollId },
        message: {
          messageContextInfo: { messageSecret: secret },
          pollCreationMessageV3: {
            name: 'Which day?',
            options: [{ optionName: 'Mon' }, { optionName: 'Tue' }],
            selectableOptionsCount: 1,
          },
        },
      }),
    ]);
    const poll = await t.log.waitFor('message', (m) => m.providerMessageId === pollId);
    expect(poll.content).toEqual({
      type: 'poll',
      name: 'Which day?',
      options: ['Mon', 'Tue'],
      selectableCount: 1,
    });

    // The customer votes on their own poll (creator and voter are the customer).
    const voteId = messageId();
    t.standIn.current.receive([
      wireMessage({
        key: { remoteJid: PEER_JID, id: voteId },
        message: pollVoteMessage({
          pollKey: { remoteJid: PEER_JID, id: pollId, fromMe: false },
          pollCreatorJid: PEER_JID,
          voterJid: PEER_JID,
          secret,
          selectedOptions: ['Tue'],
        }),
      }),
    ]);
    const vote = await t.log.waitFor('message', (m) => m.providerMessageId === voteId);
    expect(vote.content).toMatchObject({
      type: 'poll_vote',
      pollMessageId: pollId,
      selectedOptions: ['Tue'],
    });
  });

  it('reports a vote on an unknown poll, or one encrypted with another secret, as undecryptable', async () => {
    const t = await channels.connected();
    const sent = await t.channel.send({
      to: PEER,
      content: { type: 'poll', name: 'Q', options: ['a', 'b'], selectableCount: 1 },
    });
    const unknownVote = messageId();
    const forgedVote = messageId();
    t.standIn.current.receive([
      wireMessage({
        key: { remoteJid: PEER_JID, id: unknownVote },
        message: pollVoteMessage({
          pollKey: { remoteJid: PEER_JID, id: messageId(), fromMe: true },
          pollCreatorJid: ME,
          voterJid: PEER_JID,
          secret: Buffer.alloc(32, 1),
          selectedOptions: ['a'],
        }),
      }),
      wireMessage({
        key: { remoteJid: PEER_JID, id: forgedVote },
        message: pollVoteMessage({
          pollKey: { remoteJid: PEER_JID, id: sent.providerMessageId, fromMe: true },
          pollCreatorJid: ME,
          voterJid: PEER_JID,
          secret: Buffer.alloc(32, 2),
          selectedOptions: ['a'],
        }),
      }),
    ]);
    const forged = await t.log.waitFor('unsupported', (u) => u.providerMessageId === forgedVote);
    const unknown = t.log.of('unsupported').find((u) => u.providerMessageId === unknownVote);
    expect(unknown).toMatchObject({ reason: 'undecryptable', detail: 'poll vote for an unknown poll' });
    expect(forged).toMatchObject({ reason: 'undecryptable', detail: 'poll vote did not decrypt' });
    expect(t.log.of('message').filter((m) => m.content.type === 'poll_vote')).toEqual([]);
  });

  it('refuses polls outside WhatsApp’s limits and interactive messages, without sending', async () => {
    const t = await channels.connected();
    for (const content of [
      { type: 'poll', name: 'Q', options: ['only one'], selectableCount: 1 },
      { type: 'poll', name: 'Q', options: ['a', 'a'], selectableCount: 1 },
      { type: 'poll', name: 'Q', options: ['a', 'b'], selectableCount: 3 },
      {
        type: 'interactive',
        interactive: { kind: 'button', body: 'Hi', buttons: [{ id: 'a', title: 'A' }] },
      },
    ] as OutboundContent[]) {
      await expect(t.channel.send({ to: PEER, content })).rejects.toMatchObject({ code: 'INVALID_CONTENT' });
    }
    expect(t.standIn.current.sent).toHaveLength(0);
  });
});

describe('read receipts and presence on a Baileys session', () => {
  it('marks messages read with readMessages and subscribes to the chat’s presence', async () => {
    const t = await channels.connected();
    await t.channel.markRead(PEER, ['ID1', 'ID2']);
    await t.channel.subscribePresence(PEER);
    expect(t.standIn.current.readKeys).toEqual([
      { remoteJid: PEER_JID, id: 'ID1', fromMe: false },
      { remoteJid: PEER_JID, id: 'ID2', fromMe: false },
    ]);
    expect(t.standIn.current.presenceSubscriptions).toEqual([PEER_JID]);
  });

  it('refuses both while not connected (NOT_CONNECTED: the command is retried)', async () => {
    const t = await channels.create();
    await expect(t.channel.markRead(PEER, ['ID1'])).rejects.toMatchObject({ code: 'NOT_CONNECTED' });
    await expect(t.channel.subscribePresence(PEER)).rejects.toMatchObject({ code: 'NOT_CONNECTED' });
  });
});
