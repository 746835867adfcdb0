import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toGraphContent } from '@switchboard/channels';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalMediaStorage } from '../media/storage.ts';
import { contentFromMessage, type OutboundMessageColumns, resolveOutboundContent } from './content.ts';

let root: string;
let storage: LocalMediaStorage;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sb-content-'));
  storage = new LocalMediaStorage(root);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function row(columns: Partial<OutboundMessageColumns>): OutboundMessageColumns {
  return {
    type: 'text',
    body: null,
    reaction: null,
    replyToProviderMessageId: null,
    template: null,
    mediaStorageKey: null,
    mediaMimeType: null,
    mediaFileName: null,
    ...columns,
  };
}

// As the API stores a template send: Meta's own component shapes, currency and date_time included.
const components = [
  { type: 'header', parameters: [{ type: 'image', image: { link: 'https://cdn.example.test/banner.png' } }] },
  {
    type: 'body',
    parameters: [
      { type: 'text', text: 'Ana' },
      { type: 'currency', currency: { fallback_value: 'R$ 10,00', code: 'BRL', amount_1000: 10_000 } },
      { type: 'date_time', date_time: { fallback_value: '2 de dezembro' } },
    ],
  },
  { type: 'button', sub_type: 'url', index: '0', parameters: [{ type: 'text', text: 'order-1234' }] },
];

describe('contentFromMessage', () => {
  it('sends a template row as stored, its components exactly as Graph takes them', () => {
    const content = contentFromMessage(
      row({
        type: 'template',
        body: '[template order_update (pt_BR)]',
        template: { name: 'order_update', language: 'pt_BR', components },
      }),
    );
    expect(content).toEqual({
      type: 'template',
      name: 'order_update',
      language: 'pt_BR',
      graphComponents: components,
    });
    expect(toGraphContent(content!)).toEqual({
      type: 'template',
      template: { name: 'order_update', language: { code: 'pt_BR' }, components },
    });
    expect(
      contentFromMessage(row({ type: 'template', template: { name: 'hello_world', language: 'en_US' } })),
    ).toEqual({
      type: 'template',
      name: 'hello_world',
      language: 'en_US',
    });
  });

  it('answers undefined for a template row without a usable template, and for media (bytes are not in the row)', () => {
    for (const template of [
      null,
      {},
      { name: 'Bad Name', language: 'en' },
      { name: 'x', language: 'en', components: [{ type: 'nope' }] },
    ])
      expect(
        contentFromMessage(row({ type: 'template', template })),
        JSON.stringify(template),
      ).toBeUndefined();
    expect(
      contentFromMessage(row({ type: 'image', mediaStorageKey: 'media/s/m', mediaMimeType: 'image/jpeg' })),
    ).toBeUndefined();
  });

  it('keeps mapping text rows', () => {
    expect(contentFromMessage(row({ type: 'text', body: 'oi' }))).toEqual({ type: 'text', text: 'oi' });
  });
});

describe('resolveOutboundContent', () => {
  it("names a media row's file in storage, opened as a stream: bytes, type, file name and caption", async () => {
    const pdf = Buffer.from('%PDF-1.7 the contract');
    await storage.put('media/s1/doc', pdf, 'application/pdf');
    const content = await resolveOutboundContent(
      row({
        type: 'document',
        body: 'please sign',
        mediaStorageKey: 'media/s1/doc',
        mediaMimeType: 'application/pdf',
        mediaFileName: 'contract.pdf',
      }),
      storage,
    );
    expect(content).toMatchObject({
      type: 'media',
      kind: 'document',
      mimetype: 'application/pdf',
      fileName: 'contract.pdf',
      caption: 'please sign',
    });
    // Nothing is read until the channel opens it; then it streams, chunk by chunk.
    expect(content?.type === 'media' && content.data).toBeFalsy();
    const opened = content?.type === 'media' ? await content.file!.open() : undefined;
    const chunks: Uint8Array[] = [];
    for await (const chunk of opened!) chunks.push(chunk);
    expect(Buffer.concat(chunks).equals(pdf)).toBe(true);
  });

  it('drops the caption of audio and stickers, which carry none', async () => {
    await storage.put('media/s1/voice', Buffer.from('OggS'), 'audio/ogg');
    const content = await resolveOutboundContent(
      row({
        type: 'audio',
        body: 'transcript',
        mediaStorageKey: 'media/s1/voice',
        mediaMimeType: 'audio/ogg',
      }),
      storage,
    );
    expect(content).toMatchObject({ type: 'media', kind: 'audio', mimetype: 'audio/ogg' });
    expect(content && 'caption' in content).toBe(false);
  });

  it('answers undefined when there is no storage, or no key or type; a file not there opens as undefined', async () => {
    const media = row({ type: 'image', mediaStorageKey: 'media/s1/missing', mediaMimeType: 'image/jpeg' });
    const missing = await resolveOutboundContent(media, storage);
    expect(missing?.type === 'media' && (await missing.file!.open())).toBeUndefined();
    expect(await resolveOutboundContent(media, undefined)).toBeUndefined();
    await storage.put('media/s1/img', Buffer.from([0xff, 0xd8, 0xff]), 'image/jpeg');
    expect(
      await resolveOutboundContent(row({ type: 'image', mediaStorageKey: 'media/s1/img' }), storage),
    ).toBeUndefined();
    expect(
      await resolveOutboundContent(row({ type: 'image', mediaMimeType: 'image/jpeg' }), storage),
    ).toBeUndefined();
  });

  it('a storage that fails fails the open (so the send is retried), and other rows go to contentFromMessage', async () => {
    const failing = {
      open: async () => {
        throw new Error('S3 unreachable');
      },
    };
    const video = await resolveOutboundContent(
      row({ type: 'video', mediaStorageKey: 'media/s/v', mediaMimeType: 'video/mp4' }),
      failing,
    );
    await expect(video?.type === 'media' && video.file!.open()).rejects.toThrow(/S3 unreachable/);
    expect(await resolveOutboundContent(row({ type: 'text', body: 'hello' }), failing)).toEqual({
      type: 'text',
      text: 'hello',
    });
    expect(
      await resolveOutboundContent(
        row({ type: 'template', template: { name: 'hello_world', language: 'en_US' } }),
        undefined,
      ),
    ).toEqual({ type: 'template', name: 'hello_world', language: 'en_US' });
  });
});
