import { createHash, randomBytes } from 'node:crypto';
import { proto, type WAMessage } from '@whiskeysockets/baileys';
import { describe, expect, it } from 'vitest';
import type { InboundMessage, MessageContent, Receipt, UnsupportedEvent } from '../channel.ts';
import {
  decodeMediaDownload,
  type MappedEvent,
  type MappingContext,
  mapLidMapping,
  mapMessage,
  mapMessageUpdates,
  mapPresence,
  mapReceiptUpdates,
  mapUpsert,
} from './mapping.ts';
import { messageId, wireMessage } from './testing/messages.ts';

const NOW = new Date('2026-03-01T12:00:00Z');
const ctx: MappingContext = {
  sessionId: 'session-1',
  me: { id: '5511900000000:7@s.whatsapp.net', lid: '111122223333:7@lid', name: 'Acme' },
  now: () => NOW,
};
const PN = '5511988887777';
const LID = '204060801234567';
const T = 1_772_000_000;

function inbound(event: MappedEvent): InboundMessage {
  expect(event.event, JSON.stringify(event.payload)).toBe('message');
  return event.payload as InboundMessage;
}
function unsupported(event: MappedEvent): UnsupportedEvent {
  expect(event.event).toBe('unsupported');
  return event.payload as UnsupportedEvent;
}
function fromPeer(
  message: Record<string, unknown>,
  extra: Partial<Parameters<typeof wireMessage>[0]> = {},
): WAMessage {
  return wireMessage({
    key: { remoteJid: `${PN}@s.whatsapp.net`, remoteJidAlt: `${LID}@lid`, id: messageId(), fromMe: false },
    message,
    pushName: 'Maria',
    timestamp: T,
    ...extra,
  });
}
const contentOf = (message: WAMessage) => inbound(mapMessage(message, true, ctx)).content;

describe('text and replies', () => {
  it('maps a conversation message with both identities of a PN-addressed sender', () => {
    const message = fromPeer({ conversation: 'olá' });
    const mapped = inbound(mapMessage(message, true, ctx));
    expect(mapped).toEqual({
      sessionId: 'session-1',
      providerMessageId: message.key.id,
      chat: {
        address: `${PN}@s.whatsapp.net`,
        kind: 'direct',
        contact: { address: `${PN}@s.whatsapp.net`, pn: PN, lid: LID, pushName: 'Maria' },
      },
      sender: { address: `${PN}@s.whatsapp.net`, pn: PN, lid: LID, pushName: 'Maria' },
      fromMe: false,
      timestamp: new Date(T * 1000),
      live: true,
      content: { type: 'text', text: 'olá' },
    });
  });

  it('maps extended text and a reply (contextInfo.stanzaId and the quoted author)', () => {
    const quotedId = messageId();
    const message = fromPeer({
      extendedTextMessage: {
        text: 'yes, that one',
        contextInfo: {
          stanzaId: quotedId,
          participant: '5511900000000@s.whatsapp.net',
          quotedMessage: { conversation: 'which one?' },
          isForwarded: true,
        },
      },
    });
    const mapped = inbound(mapMessage(message, true, ctx));
    expect(mapped.content).toEqual({ type: 'text', text: 'yes, that one' });
    expect(mapped.replyTo).toEqual({ providerMessageId: quotedId, author: '5511900000000@s.whatsapp.net' });
    expect(mapped.forwarded).toBe(true);
  });

  it('unwraps ephemeral and view-once wrappers', () => {
    expect(contentOf(fromPeer({ ephemeralMessage: { message: { conversation: 'disappearing' } } }))).toEqual({
      type: 'text',
      text: 'disappearing',
    });
    const viewOnce = contentOf(
      fromPeer({
        viewOnceMessageV2: { message: { imageMessage: { mimetype: 'image/jpeg', viewOnce: true } } },
      }),
    );
    expect(viewOnce.type).toBe('image');
  });

  it('maps catch-up delivery (append) as not live, and our own messages from the phone as fromMe', () => {
    const ours = wireMessage({
      key: { remoteJid: `${LID}@lid`, id: messageId(), fromMe: true },
      message: { conversation: 'sent from the phone' },
      timestamp: T,
    });
    const [event] = mapUpsert({ messages: [ours], type: 'append' }, ctx);
    const mapped = inbound(event!);
    expect(mapped.live).toBe(false);
    expect(mapped.fromMe).toBe(true);
    expect(mapped.sender).toEqual({
      address: '5511900000000@s.whatsapp.net',
      pn: '5511900000000',
      lid: '111122223333',
    });
    expect(mapped.chat.contact).toEqual({ address: `${LID}@lid`, lid: LID });
  });
});

describe('media: a reference for the background download, no download', () => {
  const sha = createHash('sha256').update('file').digest();
  const mediaKey = randomBytes(32);

  it('maps an image with mimetype, size (a protobuf Long), sha256, caption and dimensions', () => {
    const message = fromPeer({
      imageMessage: {
        url: 'https://mmg.whatsapp.net/o1/v/t62/abc',
        directPath: '/o1/v/t62/abc',
        mimetype: 'image/jpeg',
        fileLength: 734_512,
        fileSha256: sha,
        fileEncSha256: randomBytes(32),
        mediaKey,
        width: 1280,
        height: 960,
        caption: 'the invoice',
        contextInfo: { stanzaId: 'QUOTED1' },
      },
    });
    expect(typeof (message.message?.imageMessage?.fileLength as object)).toBe('object'); // Long, as off the wire
    const mapped = inbound(mapMessage(message, true, ctx));
    const content = mapped.content as Extract<MessageContent, { media: unknown }>;
    expect(content.type).toBe('image');
    expect(content.caption).toBe('the invoice');
    expect(content.media).toMatchObject({
      mimetype: 'image/jpeg',
      size: 734_512,
      sha256: sha.toString('hex'),
      width: 1280,
      height: 960,
    });
    expect(mapped.replyTo?.providerMessageId).toBe('QUOTED1');

    expect(content.media.download.provider).toBe('baileys');
    const download = decodeMediaDownload(content.media.download.data);
    expect(download.key).toEqual({ remoteJid: `${PN}@s.whatsapp.net`, id: message.key.id, fromMe: false });
    expect(Buffer.from(download.message.imageMessage!.mediaKey!).equals(mediaKey)).toBe(true);
    expect(download.message.imageMessage!.directPath).toBe('/o1/v/t62/abc');
    expect(download.message.imageMessage!.contextInfo).toBeFalsy();
  });

  it('maps video, voice-note audio, document (also wrapped with a caption) and animated sticker', () => {
    const video = contentOf(
      fromPeer({ videoMessage: { mimetype: 'video/mp4', seconds: 12, gifPlayback: true, fileLength: 1000 } }),
    );
    expect(video).toMatchObject({
      type: 'video',
      animated: true,
      media: { mimetype: 'video/mp4', seconds: 12, size: 1000 },
    });

    const audio = contentOf(
      fromPeer({ audioMessage: { mimetype: 'audio/ogg; codecs=opus', seconds: 7, ptt: true } }),
    );
    expect(audio).toMatchObject({
      type: 'audio',
      voiceNote: true,
      media: { mimetype: 'audio/ogg; codecs=opus', seconds: 7 },
    });

    const document = contentOf(
      fromPeer({
        documentMessage: {
          mimetype: 'application/pdf',
          fileName: 'contract.pdf',
          fileLength: 52_000,
          fileSha256: sha,
        },
      }),
    );
    expect(document).toMatchObject({
      type: 'document',
      media: { fileName: 'contract.pdf', size: 52_000, sha256: sha.toString('hex') },
    });

    const wrapped = contentOf(
      fromPeer({
        documentWithCaptionMessage: {
          message: {
            documentMessage: { mimetype: 'application/pdf', fileName: 'q1.pdf', caption: 'Q1 numbers' },
          },
        },
      }),
    );
    expect(wrapped).toMatchObject({ type: 'document', caption: 'Q1 numbers', media: { fileName: 'q1.pdf' } });

    const sticker = contentOf(
      fromPeer({ stickerMessage: { mimetype: 'image/webp', isAnimated: true, width: 512, height: 512 } }),
    );
    expect(sticker).toMatchObject({
      type: 'sticker',
      animated: true,
      media: { mimetype: 'image/webp', width: 512 },
    });
  });
});

describe('location, contacts, reactions', () => {
  it('maps a location and a live location', () => {
    expect(
      contentOf(
        fromPeer({
          locationMessage: {
            degreesLatitude: -23.5505,
            degreesLongitude: -46.6333,
            name: 'Sé',
            address: 'Praça da Sé',
          },
        }),
      ),
    ).toEqual({
      type: 'location',
      latitude: -23.5505,
      longitude: -46.6333,
      name: 'Sé',
      address: 'Praça da Sé',
    });
    expect(
      contentOf(fromPeer({ liveLocationMessage: { degreesLatitude: 1.5, degreesLongitude: 2.5 } })),
    ).toEqual({
      type: 'location',
      latitude: 1.5,
      longitude: 2.5,
      live: true,
    });
  });

  it('maps a contact card and a contacts array (vcard)', () => {
    const vcard =
      'BEGIN:VCARD\nVERSION:3.0\nFN:João\nTEL;type=CELL;waid=5511977776666:+55 11 97777-6666\nEND:VCARD';
    expect(contentOf(fromPeer({ contactMessage: { displayName: 'João', vcard } }))).toEqual({
      type: 'contact',
      contacts: [{ displayName: 'João', vcard }],
    });
    const many = contentOf(
      fromPeer({
        contactsArrayMessage: {
          displayName: '2 contacts',
          contacts: [{ displayName: 'A', vcard }, { vcard }],
        },
      }),
    );
    expect(many).toEqual({ type: 'contact', contacts: [{ displayName: 'A', vcard }, { vcard }] });
  });

  it('maps a reaction and its removal (empty text)', () => {
    const target = messageId();
    const reaction = {
      key: { remoteJid: `${PN}@s.whatsapp.net`, fromMe: true, id: target },
      senderTimestampMs: T * 1000,
    };
    expect(contentOf(fromPeer({ reactionMessage: { ...reaction, text: '👍' } }))).toEqual({
      type: 'reaction',
      targetId: target,
      emoji: '👍',
    });
    expect(contentOf(fromPeer({ reactionMessage: { ...reaction, text: '' } }))).toEqual({
      type: 'reaction',
      targetId: target,
      emoji: null,
    });
  });
});

describe('edits and deletes', () => {
  const target = messageId();
  const targetKey = { remoteJid: `${PN}@s.whatsapp.net`, fromMe: false, id: target };

  it('maps protocolMessage MESSAGE_EDIT (as v7 wraps it in editedMessage) to an edit with the new content', () => {
    const edit = fromPeer({
      editedMessage: {
        message: {
          protocolMessage: {
            key: targetKey,
            type: proto.Message.ProtocolMessage.Type.MESSAGE_EDIT,
            editedMessage: { conversation: 'fixed typo' },
            timestampMs: T * 1000,
          },
        },
      },
    });
    expect(contentOf(edit)).toEqual({
      type: 'edit',
      targetId: target,
      content: { type: 'text', text: 'fixed typo' },
    });
    // The same edit, unwrapped.
    const bare = fromPeer({
      protocolMessage: {
        key: targetKey,
        type: proto.Message.ProtocolMessage.Type.MESSAGE_EDIT,
        editedMessage: { extendedTextMessage: { text: 'fixed again' } },
      },
    });
    expect(contentOf(bare)).toEqual({
      type: 'edit',
      targetId: target,
      content: { type: 'text', text: 'fixed again' },
    });
  });

  it('maps protocolMessage REVOKE (type 0, explicitly present) to a delete', () => {
    const revoke = fromPeer({
      protocolMessage: { key: targetKey, type: proto.Message.ProtocolMessage.Type.REVOKE },
    });
    expect(revoke.message?.protocolMessage?.type).toBe(0);
    expect(contentOf(revoke)).toEqual({ type: 'delete', targetId: target });
  });

  it("skips Baileys' messages.update copies of an edit and a revoke (already mapped from the upsert)", () => {
    const events = mapMessageUpdates(
      [
        {
          key: targetKey,
          update: {
            message: { editedMessage: { message: { conversation: 'fixed typo' } } },
            messageTimestamp: T,
          },
        },
        {
          key: targetKey,
          update: { message: null, messageStubType: proto.WebMessageInfo.StubType.REVOKE, key: targetKey },
        },
      ],
      ctx,
    );
    expect(events).toEqual([]);
  });
});

describe('receipts', () => {
  const ownKey = (id: string) => ({
    remoteJid: `${LID}@lid`,
    remoteJidAlt: `${PN}@s.whatsapp.net`,
    fromMe: true,
    id,
  });
  const { Status } = proto.WebMessageInfo;

  it('maps messages.update status to sent, delivered, read (played counts as read) and failed', () => {
    const ids = [messageId(), messageId(), messageId(), messageId(), messageId()];
    const statuses = [Status.SERVER_ACK, Status.DELIVERY_ACK, Status.READ, Status.PLAYED, Status.ERROR];
    const events = mapMessageUpdates(
      ids.map((id, i) => ({ key: ownKey(id), update: { status: statuses[i], messageTimestamp: T + i } })),
      ctx,
    );
    expect(events.map((e) => e.event)).toEqual(['receipt', 'receipt', 'receipt', 'receipt', 'receipt']);
    const receipts = events.map((e) => e.payload as Receipt);
    expect(receipts.map((r) => r.status)).toEqual(['sent', 'delivered', 'read', 'read', 'failed']);
    expect(receipts[1]).toEqual({
      sessionId: 'session-1',
      providerMessageId: ids[1],
      chat: `${LID}@lid`,
      status: 'delivered',
      fromMe: true,
      recipient: { address: `${LID}@lid`, pn: PN, lid: LID },
      at: new Date((T + 1) * 1000),
    });
  });

  it('marks a read of an inbound message by another of our devices as fromMe: false', () => {
    const [event] = mapMessageUpdates(
      [
        {
          key: { remoteJid: `${PN}@s.whatsapp.net`, fromMe: false, id: 'IN1' },
          update: { status: Status.READ },
        },
      ],
      ctx,
    );
    expect(event?.payload).toMatchObject({ status: 'read', fromMe: false, providerMessageId: 'IN1' });
  });

  it('reports a status it does not map and an update with other fields as unsupported', () => {
    const events = mapMessageUpdates(
      [
        { key: ownKey('P1'), update: { status: Status.PENDING } },
        { key: ownKey('P2'), update: { starred: true } },
      ],
      ctx,
    );
    expect(events.map((e) => unsupported(e))).toMatchObject([
      { reason: 'unknown-update', detail: 'status PENDING', providerMessageId: 'P1' },
      { reason: 'unknown-update', detail: 'fields: starred', providerMessageId: 'P2' },
    ]);
  });

  it('maps message-receipt.update (group receipts per participant)', () => {
    const key = { remoteJid: '120363025246125486@g.us', fromMe: true, id: 'G1' };
    const events = mapReceiptUpdates(
      [
        { key, receipt: { userJid: `${PN}@s.whatsapp.net`, receiptTimestamp: T } },
        { key, receipt: { userJid: `${LID}@lid`, readTimestamp: T + 5 } },
        { key, receipt: { userJid: `${LID}@lid` } },
      ],
      ctx,
    );
    expect(events[0]?.payload).toEqual({
      sessionId: 'session-1',
      providerMessageId: 'G1',
      chat: '120363025246125486@g.us',
      status: 'delivered',
      fromMe: true,
      recipient: { address: `${PN}@s.whatsapp.net`, pn: PN },
      at: new Date(T * 1000),
    });
    expect(events[1]?.payload).toMatchObject({
      status: 'read',
      recipient: { lid: LID },
      at: new Date((T + 5) * 1000),
    });
    expect(unsupported(events[2]!)).toMatchObject({ reason: 'unknown-update', providerMessageId: 'G1' });
  });
});

describe('identities: PN and LID', () => {
  it('records only the LID of a LID-addressed chat whose remoteJidAlt is missing', () => {
    const message = wireMessage({
      key: { remoteJid: `${LID}@lid`, id: messageId(), fromMe: false },
      message: { conversation: 'hi' },
      pushName: 'Maria',
    });
    const mapped = inbound(mapMessage(message, true, ctx));
    expect(mapped.sender).toEqual({ address: `${LID}@lid`, lid: LID, pushName: 'Maria' });
    expect(mapped.sender.pn).toBeUndefined();
  });

  it('records both for a LID-addressed chat with remoteJidAlt', () => {
    const message = wireMessage({
      key: { remoteJid: `${LID}@lid`, remoteJidAlt: `${PN}@s.whatsapp.net`, id: messageId(), fromMe: false },
      message: { conversation: 'hi' },
    });
    expect(inbound(mapMessage(message, true, ctx)).sender).toEqual({
      address: `${LID}@lid`,
      lid: LID,
      pn: PN,
    });
  });

  it('takes a group message sender from participant and participantAlt (device suffix dropped)', () => {
    const message = wireMessage({
      key: {
        remoteJid: '120363025246125486@g.us',
        participant: `${LID}:3@lid`,
        participantAlt: `${PN}:3@s.whatsapp.net`,
        id: messageId(),
        fromMe: false,
      },
      message: { conversation: 'hello group' },
      pushName: 'Maria',
    });
    const mapped = inbound(mapMessage(message, true, ctx));
    expect(mapped.chat).toEqual({ address: '120363025246125486@g.us', kind: 'group' });
    expect(mapped.sender).toEqual({ address: `${LID}@lid`, lid: LID, pn: PN, pushName: 'Maria' });
  });

  it('maps lid-mapping.update to an identity link', () => {
    expect(mapLidMapping({ pn: `${PN}@s.whatsapp.net`, lid: `${LID}@lid` }, ctx)).toEqual({
      event: 'identity',
      payload: { sessionId: 'session-1', pn: PN, lid: LID },
    });
    expect(unsupported(mapLidMapping({ pn: `${PN}@s.whatsapp.net`, lid: '' }, ctx)).reason).toBe('malformed');
  });

  it('maps presence (composing is typing) with last seen', () => {
    const events = mapPresence(
      {
        id: `${LID}@lid`,
        presences: {
          [`${LID}@lid`]: { lastKnownPresence: 'composing' },
          [`${PN}@s.whatsapp.net`]: { lastKnownPresence: 'unavailable', lastSeen: T },
        },
      },
      ctx,
    );
    expect(events.map((e) => e.payload)).toEqual([
      {
        sessionId: 'session-1',
        chat: `${LID}@lid`,
        contact: { address: `${LID}@lid`, lid: LID },
        presence: 'typing',
      },
      {
        sessionId: 'session-1',
        chat: `${LID}@lid`,
        contact: { address: `${PN}@s.whatsapp.net`, pn: PN },
        presence: 'unavailable',
        lastSeen: new Date(T * 1000),
      },
    ]);
  });
});

describe('polls', () => {
  it('maps a poll (v1 multi-choice, v3 single-choice) to poll content, and a vote to poll_vote naming the poll', () => {
    const multi = fromPeer({
      pollCreationMessage: {
        name: 'Lunch?',
        options: [{ optionName: 'pizza' }, { optionName: 'sushi' }],
        selectableOptionsCount: 0,
      },
    });
    expect(contentOf(multi)).toEqual({
      type: 'poll',
      name: 'Lunch?',
      options: ['pizza', 'sushi'],
      selectableCount: 0,
    });
    const single = fromPeer({
      pollCreationMessageV3: {
        name: 'When?',
        options: [{ optionName: '9' }, { optionName: '10' }],
        selectableOptionsCount: 1,
      },
    });
    expect(contentOf(single)).toMatchObject({ type: 'poll', selectableCount: 1 });
    const vote = fromPeer({
      pollUpdateMessage: {
        pollCreationMessageKey: { remoteJid: `${PN}@s.whatsapp.net`, id: 'POLL1', fromMe: true },
        vote: { encPayload: Buffer.from('x'), encIv: Buffer.from('y') },
      },
    });
    // The adapter decrypts the options (polls.ts); the mapping names the poll.
    expect(contentOf(vote)).toEqual({
      type: 'poll_vote',
      pollMessageId: 'POLL1',
      selectedOptions: [],
    });
  });
});

describe('interactive replies', () => {
  it("maps a reply button, a template's quick reply, a list row and native-flow choices to interactive_reply", () => {
    expect(
      contentOf(
        fromPeer({
          buttonsResponseMessage: {
            selectedButtonId: 'yes',
            selectedDisplayText: 'Yes, please',
            contextInfo: { stanzaId: 'ASKED-1', participant: '5511900000000@s.whatsapp.net' },
          },
        }),
      ),
    ).toEqual({ type: 'interactive_reply', kind: 'button', id: 'yes', title: 'Yes, please' });
    expect(
      contentOf(
        fromPeer({ templateButtonReplyMessage: { selectedId: 'track', selectedDisplayText: 'Track it' } }),
      ),
    ).toEqual({ type: 'interactive_reply', kind: 'button', id: 'track', title: 'Track it' });
    expect(
      contentOf(
        fromPeer({
          listResponseMessage: {
            title: 'Express',
            description: 'Tomorrow before noon',
            listType: proto.Message.ListResponseMessage.ListType.SINGLE_SELECT,
            singleSelectReply: { selectedRowId: 'ship-express' },
          },
        }),
      ),
    ).toEqual({
      type: 'interactive_reply',
      kind: 'list',
      id: 'ship-express',
      title: 'Express',
      description: 'Tomorrow before noon',
    });
    expect(
      contentOf(
        fromPeer({
          interactiveResponseMessage: {
            body: { text: 'Talk to sales' },
            nativeFlowResponseMessage: {
              name: 'quick_reply',
              paramsJson: JSON.stringify({ id: 'sales', display_text: 'Talk to sales' }),
              version: 1,
            },
          },
        }),
      ),
    ).toEqual({ type: 'interactive_reply', kind: 'button', id: 'sales', title: 'Talk to sales' });
    expect(
      contentOf(
        fromPeer({
          interactiveResponseMessage: {
            body: { text: 'Berlin' },
            nativeFlowResponseMessage: { name: 'single_select', paramsJson: '{"id":"city-ber"}', version: 1 },
          },
        }),
      ),
    ).toEqual({ type: 'interactive_reply', kind: 'list', id: 'city-ber', title: 'Berlin' });
  });

  it('keeps the reply to the interactive message it answers', () => {
    const mapped = inbound(
      mapMessage(
        fromPeer({
          buttonsResponseMessage: {
            selectedButtonId: 'no',
            selectedDisplayText: 'No',
            contextInfo: { stanzaId: 'ASKED-2', participant: '5511900000000@s.whatsapp.net' },
          },
        }),
        true,
        ctx,
      ),
    );
    expect(mapped.replyTo?.providerMessageId).toBe('ASKED-2');
  });

  it('reports a reply without the choice it made as malformed, naming the field', () => {
    const cases: [Record<string, unknown>, string][] = [
      [
        { buttonsResponseMessage: { selectedDisplayText: 'Yes' } },
        'buttonsResponseMessage without selectedButtonId',
      ],
      [
        { listResponseMessage: { title: 'Express' } },
        'listResponseMessage without singleSelectReply.selectedRowId',
      ],
      [
        {
          interactiveResponseMessage: {
            nativeFlowResponseMessage: { name: 'quick_reply', paramsJson: '{oops' },
          },
        },
        'interactiveResponseMessage whose paramsJson is not JSON',
      ],
      [
        {
          interactiveResponseMessage: {
            nativeFlowResponseMessage: { name: 'quick_reply', paramsJson: '{}' },
          },
        },
        'interactiveResponseMessage without an id in paramsJson',
      ],
    ];
    for (const [message, detail] of cases)
      expect(unsupported(mapMessage(fromPeer(message), true, ctx))).toMatchObject({
        reason: 'malformed',
        detail,
      });
  });
});

describe('unsupported events are reported, never dropped or thrown', () => {
  it('reports content it does not map, with the type', () => {
    const event = fromPeer({ eventMessage: { name: 'Lunch on Friday' } });
    expect(unsupported(mapMessage(event, true, ctx))).toEqual({
      sessionId: 'session-1',
      source: 'messages.upsert',
      reason: 'unknown-content',
      detail: 'eventMessage',
      providerMessageId: event.key.id,
      chat: `${PN}@s.whatsapp.net`,
      at: NOW,
    });
  });

  it('reports protocol plumbing, undecryptable messages, stubs and malformed keys', () => {
    const history = fromPeer({
      protocolMessage: { type: proto.Message.ProtocolMessage.Type.HISTORY_SYNC_NOTIFICATION },
    });
    expect(unsupported(mapMessage(history, true, ctx))).toMatchObject({
      reason: 'protocol-message',
      detail: 'HISTORY_SYNC_NOTIFICATION',
    });

    const skdm = fromPeer({
      senderKeyDistributionMessage: {
        groupId: '1@g.us',
        axolotlSenderKeyDistributionMessage: randomBytes(8),
      },
    });
    expect(unsupported(mapMessage(skdm, true, ctx))).toMatchObject({
      reason: 'protocol-message',
      detail: 'senderKeyDistributionMessage',
    });

    const cipher = wireMessage({
      key: { remoteJid: `${PN}@s.whatsapp.net`, id: messageId() },
      stubType: proto.WebMessageInfo.StubType.CIPHERTEXT,
      stubParameters: ['No session found to decrypt message'],
    });
    expect(unsupported(mapMessage(cipher, true, ctx))).toMatchObject({ reason: 'undecryptable' });

    const added = wireMessage({
      key: { remoteJid: '120363025246125486@g.us', participant: `${PN}@s.whatsapp.net`, id: messageId() },
      stubType: proto.WebMessageInfo.StubType.GROUP_PARTICIPANT_ADD,
    });
    expect(unsupported(mapMessage(added, true, ctx))).toMatchObject({
      reason: 'system-notification',
      detail: 'GROUP_PARTICIPANT_ADD',
    });

    const noId = { key: { remoteJid: `${PN}@s.whatsapp.net` }, message: { conversation: 'x' } } as WAMessage;
    expect(unsupported(mapMessage(noId, true, ctx))).toMatchObject({ reason: 'malformed' });

    const groupWithoutParticipant = wireMessage({
      key: { remoteJid: '120363025246125486@g.us', id: messageId() },
      message: { conversation: 'x' },
    });
    expect(unsupported(mapMessage(groupWithoutParticipant, true, ctx))).toMatchObject({
      reason: 'malformed',
    });
  });

  it('turns an exception inside mapping into a mapping-error event', () => {
    const broken = fromPeer({ conversation: 'x' });
    Object.defineProperty(broken, 'message', {
      get() {
        throw new TypeError('boom inside a getter');
      },
    });
    expect(unsupported(mapMessage(broken, true, ctx))).toMatchObject({
      reason: 'mapping-error',
      detail: 'TypeError: boom inside a getter',
      providerMessageId: broken.key.id,
    });
  });
});
