import { describe, expect, it } from 'vitest';
import type { GroupEvent } from '../groups.ts';
import { messageId, wireMessage } from './testing/messages.ts';
import { standInChannels } from './testing/suite.ts';

const identity = { phoneNumber: '5511900000003', lid: '500000000000003' };
const channels = standInChannels('channels-groups', { paired: identity });
const ME = `${identity.phoneNumber}@s.whatsapp.net`;
const ANA = '5511977770001';
const BRUNO = '5511977770002';
const BRUNO_LID = '600000000000002';

type Change = Extract<GroupEvent, { kind: 'change' }>;
type Metadata = Extract<GroupEvent, { kind: 'metadata' }>;

async function withGroup() {
  const t = await channels.connected();
  const server = t.standIn.current.groupServer;
  const group = server.seed({
    subject: 'Acme support',
    owner: `${ANA}@s.whatsapp.net`,
    participants: [
      { jid: `${ANA}@s.whatsapp.net`, admin: 'superadmin' },
      { jid: `${BRUNO_LID}@lid`, alt: `${BRUNO}@s.whatsapp.net` },
      { jid: ME, admin: 'admin' },
    ],
  });
  return { t, server, group: group.id };
}

describe('Baileys groups', () => {
  it('maps a group message with its sender and mentions, and reads the group info on first sight', async () => {
    const { t, server, group } = await withGroup();
    const id = messageId();
    t.standIn.current.receive([
      wireMessage({
        key: {
          remoteJid: group,
          id,
          participant: `${BRUNO_LID}@lid`,
          participantAlt: `${BRUNO}@s.whatsapp.net`,
        },
        pushName: 'Bruno',
        message: {
          extendedTextMessage: {
            text: '@5511977770001 can you check?',
            contextInfo: { mentionedJid: [`${ANA}@s.whatsapp.net`] },
          },
        },
      }),
    ]);
    const message = await t.log.waitFor('message', (m) => m.providerMessageId === id);
    expect(message.chat).toEqual({ address: group, kind: 'group' });
    expect(message.sender).toEqual({
      address: `${BRUNO_LID}@lid`,
      pn: BRUNO,
      lid: BRUNO_LID,
      pushName: 'Bruno',
    });
    expect(message.mentions).toEqual([{ address: `${ANA}@s.whatsapp.net`, pn: ANA }]);

    const metadata = (await t.log.waitFor('group', (g) => g.kind === 'metadata')) as Metadata;
    expect(metadata.group).toBe(group);
    expect(metadata.info.subject).toBe('Acme support');
    expect(metadata.info.participants).toEqual([
      { address: `${ANA}@s.whatsapp.net`, pn: ANA, role: 'superadmin' },
      { address: `${BRUNO_LID}@lid`, pn: BRUNO, lid: BRUNO_LID, role: 'member' },
      { address: ME, pn: identity.phoneNumber, role: 'admin' },
    ]);
    expect(server.queries.filter((q) => q.type === 'metadata')).toHaveLength(1);

    // Known now: a second message reads nothing more, and a send finds the group in Baileys' cache.
    const second = messageId();
    t.standIn.current.receive([
      wireMessage({
        key: { remoteJid: group, id: second, participant: `${ANA}@s.whatsapp.net` },
        message: { conversation: 'on it' },
      }),
    ]);
    await t.log.waitFor('message', (m) => m.providerMessageId === second);
    expect(server.queries.filter((q) => q.type === 'metadata')).toHaveLength(1);
    const cached = await t.standIn.current.config.cachedGroupMetadata?.(group);
    expect(cached?.subject).toBe('Acme support');
  });

  it('turns group notifications into change events (once per notification id) and keeps the cache current', async () => {
    const { t, server, group } = await withGroup();
    await t.channel.groups.metadata(group);
    const added = messageId();
    server.notify({
      group,
      id: added,
      author: `${ANA}@s.whatsapp.net`,
      change: { action: 'add', participants: [{ jid: '5511977770003@s.whatsapp.net' }] },
    });
    server.notify({
      group,
      author: `${BRUNO_LID}@lid`,
      authorAlt: `${BRUNO}@s.whatsapp.net`,
      change: {
        action: 'leave',
        participants: [{ jid: `${BRUNO_LID}@lid`, alt: `${BRUNO}@s.whatsapp.net` }],
      },
    });
    server.notify({
      group,
      author: `${ANA}@s.whatsapp.net`,
      change: { action: 'promote', participants: [{ jid: '5511977770003@s.whatsapp.net' }] },
    });
    server.notify({ group, author: `${ANA}@s.whatsapp.net`, change: { subject: 'Acme VIP' } });

    const changes = (await t.log
      .waitFor('group', () => t.log.of('group').filter((g) => g.kind === 'change').length >= 4)
      .then(() => t.log.of('group').filter((g): g is Change => g.kind === 'change'))) as Change[];
    expect(changes.map((c) => c.change)).toEqual([
      {
        type: 'participants',
        action: 'add',
        participants: [{ address: '5511977770003@s.whatsapp.net', pn: '5511977770003' }],
      },
      {
        type: 'participants',
        action: 'leave',
        participants: [{ address: `${BRUNO_LID}@lid`, pn: BRUNO, lid: BRUNO_LID }],
      },
      {
        type: 'participants',
        action: 'promote',
        participants: [{ address: '5511977770003@s.whatsapp.net', pn: '5511977770003' }],
      },
      { type: 'subject', subject: 'Acme VIP' },
    ]);
    expect(changes[0]).toMatchObject({ eventId: added, group, actor: { pn: ANA }, live: false });
    expect(changes[1]?.actor).toEqual({ address: `${BRUNO_LID}@lid`, pn: BRUNO, lid: BRUNO_LID });

    const cached = await t.standIn.current.config.cachedGroupMetadata?.(group);
    expect(cached?.subject).toBe('Acme VIP');
    expect(cached?.participants.map((p) => [p.id, p.admin ?? null])).toEqual([
      [`${ANA}@s.whatsapp.net`, 'superadmin'],
      [ME, 'admin'],
      ['5511977770003@s.whatsapp.net', 'admin'],
    ]);
  });

  it('creates groups, manages participants and the subject through the socket', async () => {
    const { t, server, group } = await withGroup();
    server.refusals.set('5511977770009@s.whatsapp.net', '403');

    const created = await t.channel.groups.create('  New project ', [ANA, '+55 11 97777-0009']);
    expect(created.subject).toBe('New project');
    expect(created.address).toMatch(/^\d+@g\.us$/);
    expect(created.participants.map((p) => [p.pn, p.role])).toEqual([
      [identity.phoneNumber, 'superadmin'],
      [ANA, 'member'],
    ]);
    expect(server.queries.at(-1)).toMatchObject({
      type: 'create',
      subject: 'New project',
      participants: [`${ANA}@s.whatsapp.net`, '5511977770009@s.whatsapp.net'],
    });
    await t.log.waitFor(
      'group',
      (g) => g.kind === 'change' && g.change.type === 'created' && g.group === created.address,
    );

    const results = await t.channel.groups.updateParticipants(
      group,
      ['5511977770004', '5511977770009'],
      'add',
    );
    expect(results).toEqual([
      { address: '5511977770004@s.whatsapp.net', pn: '5511977770004', status: 200 },
      { address: '5511977770009@s.whatsapp.net', pn: '5511977770009', status: 403 },
    ]);
    await t.log.waitFor(
      'group',
      (g) =>
        g.kind === 'change' &&
        g.change.type === 'participants' &&
        g.change.participants[0]?.pn === '5511977770004',
    );

    await t.channel.groups.updateSubject(group, 'Renamed');
    const renamed = (await t.log.waitFor(
      'group',
      (g) => g.kind === 'change' && g.change.type === 'subject',
    )) as Change;
    expect(renamed.change).toEqual({ type: 'subject', subject: 'Renamed' });
    expect(renamed.actor?.pn).toBe(identity.phoneNumber);

    await expect(t.channel.groups.updateParticipants(group, ['not-a-number'], 'add')).rejects.toMatchObject({
      code: 'INVALID_NUMBER',
      unrecoverable: true,
    });
    await expect(t.channel.groups.metadata(`${ANA}@s.whatsapp.net`)).rejects.toMatchObject({
      code: 'INVALID_NUMBER',
    });
    await expect(t.channel.groups.create(' ', [ANA])).rejects.toMatchObject({ code: 'INVALID_CONTENT' });
  });

  it('sends to a group JID with mentions in the context info', async () => {
    const { t, group } = await withGroup();
    await t.channel.send({
      to: group,
      content: { type: 'text', text: `@${ANA} please look` },
      mentions: [ANA, `${BRUNO_LID}@lid`],
    });
    const sent = t.standIn.current.sent[0]!;
    expect(sent.jid).toBe(group);
    expect(sent.message.message?.extendedTextMessage?.text).toBe(`@${ANA} please look`);
    expect(sent.message.message?.extendedTextMessage?.contextInfo?.mentionedJid).toEqual([
      `${ANA}@s.whatsapp.net`,
      `${BRUNO_LID}@lid`,
    ]);
    await expect(
      t.channel.send({
        to: group,
        content: { type: 'location', latitude: 1, longitude: 2 },
        mentions: [ANA],
      }),
    ).rejects.toMatchObject({ code: 'INVALID_CONTENT' });
  });

  it('refuses group operations while the session is not connected', async () => {
    const { t, group } = await withGroup();
    await t.channel.disconnect();
    await expect(t.channel.groups.metadata(group)).rejects.toMatchObject({ code: 'NOT_CONNECTED' });
    await expect(t.channel.groups.create('x', [ANA])).rejects.toMatchObject({ code: 'NOT_CONNECTED' });
  });
});
