import { describe, expect, it } from 'vitest';
import { parseCloudApiWebhook } from './webhook.ts';

const PN_A = '106540352242922';
const PN_B = '106540352242923';
const sessions = { [PN_A]: 'session-a', [PN_B]: 'session-b' };
const meta = (id: string, display = '15550001111') => ({
  display_phone_number: display,
  phone_number_id: id,
});
const now = new Date('2026-12-01T00:00:00Z');
const sha = Buffer.alloc(32, 7);

function value(phoneNumberId: string, rest: Record<string, unknown>) {
  return { messaging_product: 'whatsapp', metadata: meta(phoneNumberId), ...rest };
}
function payload(...entries: { id: string; changes: { field: string; value: unknown }[] }[]) {
  return { object: 'whatsapp_business_account', entry: entries };
}
const msg = (id: string, type: string, body: Record<string, unknown>, from = '5511911110001') => ({
  from,
  id,
  timestamp: '1764547200',
  type,
  ...body,
});

describe('parseCloudApiWebhook', () => {
  it('maps a batch of entries and changes with messages and statuses together, in order', () => {
    const parsed = parseCloudApiWebhook(
      payload(
        {
          id: 'WABA1',
          changes: [
            {
              field: 'messages',
              value: value(PN_A, {
                contacts: [{ profile: { name: 'Ana' }, wa_id: '5511911110001' }],
                messages: [
                  msg('wamid.T1', 'text', {
                    text: { body: 'oi' },
                    context: { from: '15550001111', id: 'wamid.OUT0' },
                  }),
                ],
                statuses: [
                  {
                    id: 'wamid.OUT1',
                    status: 'delivered',
                    timestamp: '1764547201',
                    recipient_id: '5511911110002',
                  },
                  {
                    id: 'wamid.OUT2',
                    status: 'failed',
                    timestamp: '1764547202',
                    recipient_id: '5511911110003',
                    errors: [
                      {
                        code: 131047,
                        title: 'Re-engagement message',
                        error_data: { details: 'more than 24 hours' },
                      },
                    ],
                  },
                ],
              }),
            },
          ],
        },
        {
          id: 'WABA1',
          changes: [
            {
              field: 'messages',
              value: value(PN_B, {
                statuses: [
                  {
                    id: 'wamid.OUT3',
                    status: 'read',
                    timestamp: '1764547203',
                    recipient_id: '5511911110004',
                  },
                ],
              }),
            },
            {
              field: 'messages',
              value: value('999', { messages: [msg('wamid.X', 'text', { text: { body: 'lost' } })] }),
            },
          ],
        },
      ),
      { sessionsByPhoneNumberId: sessions, now },
    );
    expect(parsed.unrouted).toEqual(['999']);
    expect(parsed.events.map((e) => [e.event, e.payload.sessionId])).toEqual([
      ['message', 'session-a'],
      ['receipt', 'session-a'],
      ['receipt', 'session-a'],
      ['receipt', 'session-b'],
    ]);
    expect(parsed.events[0]?.payload).toEqual({
      sessionId: 'session-a',
      providerMessageId: 'wamid.T1',
      chat: {
        address: '5511911110001',
        kind: 'direct',
        contact: { address: '5511911110001', pn: '5511911110001', pushName: 'Ana' },
      },
      sender: { address: '5511911110001', pn: '5511911110001', pushName: 'Ana' },
      fromMe: false,
      timestamp: new Date(1764547200 * 1000),
      live: true,
      content: { type: 'text', text: 'oi' },
      replyTo: { providerMessageId: 'wamid.OUT0', author: '15550001111' },
    });
    expect(parsed.events[1]?.payload).toEqual({
      sessionId: 'session-a',
      providerMessageId: 'wamid.OUT1',
      chat: '5511911110002',
      status: 'delivered',
      fromMe: true,
      recipient: { address: '5511911110002', pn: '5511911110002' },
      at: new Date(1764547201 * 1000),
    });
    expect(parsed.events[2]?.payload).toMatchObject({
      status: 'failed',
      failure: { code: 131047, title: 'Re-engagement message', detail: 'more than 24 hours' },
    });
  });

  it('maps media as MediaRefs with the media id, and location, contacts, reactions, buttons, list replies', () => {
    const messages = [
      msg('m1', 'image', {
        image: { id: '111', mime_type: 'image/jpeg', sha256: sha.toString('base64'), caption: 'foto' },
      }),
      msg('m2', 'document', { document: { id: '222', mime_type: 'application/pdf', filename: 'nf.pdf' } }),
      msg('m3', 'audio', { audio: { id: '333', mime_type: 'audio/ogg; codecs=opus', voice: true } }),
      msg('m4', 'video', { video: { id: '444', mime_type: 'video/mp4' } }),
      msg('m5', 'sticker', { sticker: { id: '555', mime_type: 'image/webp', animated: true } }),
      msg('m6', 'location', {
        location: { latitude: -23.5, longitude: -46.6, name: 'Loja', address: 'Rua A' },
      }),
      msg('m7', 'contacts', {
        contacts: [
          {
            name: { formatted_name: 'Bruno' },
            phones: [{ phone: '+55 11 90000-0000', wa_id: '5511900000000', type: 'CELL' }],
          },
        ],
      }),
      msg('m8', 'reaction', { reaction: { message_id: 'wamid.OUT', emoji: '❤️' } }),
      msg('m9', 'reaction', { reaction: { message_id: 'wamid.OUT' } }),
      msg('m10', 'button', { button: { text: 'Confirmar', payload: 'yes' } }),
      msg('m11', 'interactive', {
        interactive: { type: 'list_reply', list_reply: { id: 'opt2', title: 'Entrega' } },
      }),
      msg('m12', 'interactive', {
        interactive: { type: 'button_reply', button_reply: { id: 'b1', title: 'Sim' } },
      }),
    ];
    const { events } = parseCloudApiWebhook(
      payload({ id: 'W', changes: [{ field: 'messages', value: value(PN_A, { messages }) }] }),
      {
        sessionsByPhoneNumberId: new Map([[PN_A, 'session-a']]),
      },
    );
    const contents = events.map((e) => (e.event === 'message' ? e.payload.content : e));
    expect(contents).toEqual([
      {
        type: 'image',
        caption: 'foto',
        media: {
          mimetype: 'image/jpeg',
          sha256: sha.toString('hex'),
          download: { provider: 'cloud-api', data: '111' },
        },
      },
      {
        type: 'document',
        media: {
          mimetype: 'application/pdf',
          fileName: 'nf.pdf',
          download: { provider: 'cloud-api', data: '222' },
        },
      },
      {
        type: 'audio',
        voiceNote: true,
        media: { mimetype: 'audio/ogg; codecs=opus', download: { provider: 'cloud-api', data: '333' } },
      },
      { type: 'video', media: { mimetype: 'video/mp4', download: { provider: 'cloud-api', data: '444' } } },
      {
        type: 'sticker',
        animated: true,
        media: { mimetype: 'image/webp', download: { provider: 'cloud-api', data: '555' } },
      },
      { type: 'location', latitude: -23.5, longitude: -46.6, name: 'Loja', address: 'Rua A' },
      {
        type: 'contact',
        contacts: [
          {
            displayName: 'Bruno',
            vcard: expect.stringContaining('TEL;type=CELL;waid=5511900000000:+55 11 90000-0000'),
          },
        ],
      },
      { type: 'reaction', targetId: 'wamid.OUT', emoji: '❤️' },
      { type: 'reaction', targetId: 'wamid.OUT', emoji: null },
      // Answers to buttons and lists are structured: which button, which row (interactive.ts).
      { type: 'interactive_reply', kind: 'button', id: 'yes', title: 'Confirmar' },
      { type: 'interactive_reply', kind: 'list', id: 'opt2', title: 'Entrega' },
      { type: 'interactive_reply', kind: 'button', id: 'b1', title: 'Sim' },
    ]);
  });

  it('reports bad shapes and unmapped items as unsupported, keeping the rest of the batch', () => {
    const messages = [
      msg('bad-1', 'text', { text: { nobody: 'x' } }),
      { id: 'bad-2', type: 'text' },
      msg('u-1', 'unsupported', { errors: [{ code: 131051 }] }),
      msg('u-2', 'order', { order: {} }),
      msg('s-1', 'system', { system: { body: 'changed number' } }),
      msg('ok', 'text', { text: { body: 'still here' } }),
    ];
    const { events } = parseCloudApiWebhook(
      payload({
        id: 'W',
        changes: [
          {
            field: 'messages',
            value: value(PN_A, {
              messages,
              statuses: [{ id: 'x', status: 'deleted', timestamp: '1', recipient_id: '1' }, { id: 'y' }],
            }),
          },
          { field: 'account_update', value: value(PN_A, {}) },
          { field: 'messages', value: { metadata: {} } },
        ],
      }),
      { sessionsByPhoneNumberId: sessions, now },
    );
    const summary = events.map((e) =>
      e.event === 'unsupported'
        ? [e.payload.reason, e.payload.providerMessageId ?? '-']
        : [e.event, e.payload.providerMessageId],
    );
    expect(summary).toEqual([
      ['malformed', 'bad-1'],
      ['malformed', 'bad-2'],
      ['unknown-content', 'u-1'],
      ['unknown-content', 'u-2'],
      ['system-notification', 's-1'],
      ['message', 'ok'],
      ['unknown-update', 'x'],
      ['malformed', '-'],
      ['unknown-update', '-'],
      ['malformed', '-'],
    ]);
    const unsupported = events.filter((e) => e.event === 'unsupported');
    expect(unsupported.every((e) => e.payload.source === 'cloud-api.webhook' && e.payload.at === now)).toBe(
      true,
    );
    expect(unsupported[0]?.payload.detail).toContain('text.body');
    expect(unsupported[7]?.payload).toMatchObject({
      sessionId: 'session-a',
      detail: expect.stringContaining('account_update'),
    });
  });

  it('reports a payload that is not a WhatsApp envelope as one malformed event', () => {
    for (const bad of [null, 'x', { object: 'page', entry: [] }, { object: 'whatsapp_business_account' }]) {
      const { events } = parseCloudApiWebhook(bad, { sessionsByPhoneNumberId: sessions, now });
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        event: 'unsupported',
        payload: { reason: 'malformed', detail: expect.stringContaining('envelope') },
      });
    }
  });
});
