import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InboundMessage, MessageContent, OutboundMediaFile } from '../channel.ts';
import { ChannelEventLog } from '../testing.ts';
import { CLOUD_API_MEDIA_LIMITS, CloudApiChannel } from './adapter.ts';
import { cloudApiMediaFetcher, uploadCloudApiMedia } from './media.ts';
import {
  type EmulatorProcess,
  type LooseJson,
  SignedWebhookReceiver,
  startEmulatorProcess,
} from './testing.ts';

const TOKEN = 'media-token';
const SECRET = 'media-secret';
const PHONE_NUMBER_ID = '107000000000888';
const SESSION = 'cloud-media-session';
let emulator: EmulatorProcess;
let receiver: SignedWebhookReceiver;
let n = 0;
/** A stored file as the worker hands it to a channel: opened on demand, read in 64 KiB chunks. */
function fileOf(bytes: Buffer): OutboundMediaFile {
  return {
    open: async () =>
      (async function* () {
        for (let at = 0; at < bytes.length; at += 64 * 1024) yield bytes.subarray(at, at + 64 * 1024);
      })(),
  };
}
const peer = () => `55117777${String(++n).padStart(5, '0')}`;

beforeAll(async () => {
  receiver = new SignedWebhookReceiver(SECRET);
  await receiver.start();
  emulator = await startEmulatorProcess({
    token: TOKEN,
    appSecret: SECRET,
    phoneNumberId: PHONE_NUMBER_ID,
    displayPhoneNumber: '15558880000',
    webhookUrl: receiver.url,
  });
});
afterAll(async () => {
  await emulator?.stop();
  await receiver?.stop();
});

/** A customer sends `bytes` through the emulator; answers the MediaRef the webhook maps to. */
async function customerMedia(bytes: Buffer, mimeType: string) {
  const c = new CloudApiChannel({
    sessionId: SESSION,
    phoneNumberId: PHONE_NUMBER_ID,
    accessToken: TOKEN,
    baseUrl: emulator.url,
    epoch: 1n,
    readFence: async () => 1n,
  });
  const log = new ChannelEventLog(c);
  const before = receiver.accepted.length;
  await emulator.control('POST', '/_emulator/customer/messages', {
    from: peer(),
    type: 'image',
    media: { mimeType, dataBase64: bytes.toString('base64') },
  });
  for (const payload of receiver.accepted.slice(before)) c.handleWebhook(payload);
  const [message] = log.of('message') as InboundMessage[];
  return (message!.content as Extract<MessageContent, { media: unknown }>).media;
}

async function read(iterable: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of iterable) chunks.push(chunk);
  return Buffer.concat(chunks);
}

describe('cloudApiMediaFetcher against the emulator', () => {
  const tokens = new Map([[SESSION, TOKEN]]);
  const fetchMedia = () =>
    cloudApiMediaFetcher({
      baseUrl: emulator.url,
      accessTokenFor: async (sessionId) => tokens.get(sessionId) ?? 'not-the-token',
    });

  it("looks the media id up and downloads the file with the session's token", async () => {
    const bytes = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), randomBytes(100_000)]);
    const media = await customerMedia(bytes, 'image/png');
    expect(media.download.provider).toBe('cloud-api');
    const got = await read(
      await fetchMedia()(media.download, AbortSignal.timeout(10_000), { sessionId: SESSION }),
    );
    expect(got.equals(bytes)).toBe(true);
    expect(media.sha256).toBe(createHash('sha256').update(got).digest('hex'));
  });

  it('maps a refused token to LOGGED_OUT and an unknown media id to an unrecoverable error', async () => {
    const media = await customerMedia(Buffer.from('GIF89a...'), 'image/gif');
    await expect(
      fetchMedia()(media.download, AbortSignal.timeout(10_000), { sessionId: 'another-session' }),
    ).rejects.toMatchObject({ code: 'LOGGED_OUT', unrecoverable: true, providerCode: 190 });
    await expect(
      fetchMedia()({ provider: 'cloud-api', data: '999999999' }, AbortSignal.timeout(10_000), {
        sessionId: SESSION,
      }),
    ).rejects.toMatchObject({ code: 'INVALID_CONTENT', unrecoverable: true, providerCode: 100 });
    await expect(
      fetchMedia()({ provider: 'cloud-api', data: '../phone' }, AbortSignal.timeout(10_000), {
        sessionId: SESSION,
      }),
    ).rejects.toMatchObject({ code: 'MEDIA_DOWNLOAD_FAILED', unrecoverable: true });
    await expect(
      fetchMedia()(media.download, AbortSignal.abort(), { sessionId: SESSION }),
    ).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('fails a transport error as retryable', async () => {
    const unreachable = cloudApiMediaFetcher({
      baseUrl: 'http://127.0.0.1:9',
      accessTokenFor: async () => TOKEN,
    });
    await expect(
      unreachable({ provider: 'cloud-api', data: '123' }, AbortSignal.timeout(10_000), {
        sessionId: SESSION,
      }),
    ).rejects.toMatchObject({ code: 'MEDIA_DOWNLOAD_FAILED', unrecoverable: false });
  });
});

describe('CloudApiChannel media sends', () => {
  async function connected(accessToken = TOKEN) {
    const c = new CloudApiChannel({
      sessionId: `send-${++n}`,
      phoneNumberId: PHONE_NUMBER_ID,
      accessToken,
      baseUrl: emulator.url,
      epoch: 1n,
      readFence: async () => 1n,
    });
    await c.connect();
    return c;
  }
  const sentTo = async (to: string): Promise<LooseJson[]> =>
    (await emulator.control('GET', `/_emulator/sent?to=${to}`)).messages;

  it('uploads bytes to /{phone-number-id}/media and sends by the id Meta answers', async () => {
    const c = await connected();
    const to = peer();
    const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(20_000)]);
    await c.send({
      to,
      content: { type: 'media', kind: 'image', data: jpeg, mimetype: 'image/jpeg', caption: 'the photo' },
    });
    const pdf = Buffer.from('%PDF-1.7 invoice');
    await c.send({
      to,
      content: {
        type: 'media',
        kind: 'document',
        data: pdf,
        mimetype: 'application/pdf',
        fileName: 'invoice.pdf',
        caption: 'March',
      },
    });
    // A stored file streams into the upload (multipart written part by part): the same bytes arrive.
    const report = Buffer.concat([Buffer.from('%PDF-1.7 '), randomBytes(3 * 1024 * 1024)]);
    await c.send({
      to,
      content: {
        type: 'media',
        kind: 'document',
        file: fileOf(report),
        mimetype: 'application/pdf',
        fileName: 'report.pdf',
      },
    });
    const [image, document, streamed] = await sentTo(to);
    expect(image.request.image).toEqual({ id: expect.stringMatching(/^\d+$/), caption: 'the photo' });
    expect(document.request.document).toEqual({
      id: expect.stringMatching(/^\d+$/),
      caption: 'March',
      filename: 'invoice.pdf',
    });
    const uploadedImage = await emulator.control('GET', `/_emulator/media/${image.request.image.id}`);
    expect(uploadedImage).toMatchObject({
      mimeType: 'image/jpeg',
      size: jpeg.length,
      uploadedBy: PHONE_NUMBER_ID,
    });
    expect(Buffer.from(uploadedImage.dataBase64, 'base64').equals(jpeg)).toBe(true);
    const uploadedPdf = await emulator.control('GET', `/_emulator/media/${document.request.document.id}`);
    expect(uploadedPdf).toMatchObject({ mimeType: 'application/pdf', fileName: 'invoice.pdf' });
    expect(Buffer.from(uploadedPdf.dataBase64, 'base64').equals(pdf)).toBe(true);
    const uploadedReport = await emulator.control('GET', `/_emulator/media/${streamed.request.document.id}`);
    expect(uploadedReport).toMatchObject({ mimeType: 'application/pdf', fileName: 'report.pdf' });
    expect(Buffer.from(uploadedReport.dataBase64, 'base64').equals(report)).toBe(true);
  });

  it('sends a template with its components in Graph form', async () => {
    const c = await connected();
    const to = peer();
    await c.send({
      to,
      content: {
        type: 'template',
        name: 'order_update',
        language: 'pt_BR',
        components: [{ type: 'body', parameters: [{ type: 'text', text: '#1234' }] }],
      },
    });
    const [sent] = await sentTo(to);
    expect(sent.request).toMatchObject({
      type: 'template',
      template: {
        name: 'order_update',
        language: { code: 'pt_BR' },
        components: [{ type: 'body', parameters: [{ type: 'text', text: '#1234' }] }],
      },
    });
  });

  it('refuses what it cannot upload before uploading, and maps a refused upload', async () => {
    const c = await connected();
    const to = peer();
    const cases = [
      [{ type: 'media', kind: 'image', data: Buffer.from('x') }, /need a mimetype/],
      [
        {
          type: 'media',
          kind: 'image',
          data: Buffer.from('x'),
          mimetype: 'image/png',
          url: 'https://x.test/a',
        },
        /exactly one of data, file, url or providerMediaId/,
      ],
      [
        {
          type: 'media',
          kind: 'sticker',
          data: Buffer.alloc(CLOUD_API_MEDIA_LIMITS.sticker + 1),
          mimetype: 'image/webp',
        },
        /over the Cloud API limit/,
      ],
      [
        { type: 'media', kind: 'audio', data: Buffer.from('ogg'), mimetype: 'audio/ogg', caption: 'no' },
        /caption/,
      ],
      // A stored file is counted as it streams: one byte past the limit refuses the upload.
      [
        {
          type: 'media',
          kind: 'sticker',
          file: fileOf(Buffer.alloc(CLOUD_API_MEDIA_LIMITS.sticker + 1)),
          mimetype: 'image/webp',
        },
        /over the Cloud API limit/,
      ],
      [
        { type: 'media', kind: 'image', file: { open: async () => undefined }, mimetype: 'image/jpeg' },
        /no longer stored/,
      ],
      [
        { type: 'media', kind: 'image', file: fileOf(Buffer.alloc(0)), mimetype: 'image/jpeg' },
        /without bytes/,
      ],
    ] as const;
    for (const [content, reason] of cases)
      await expect(c.send({ to, content })).rejects.toMatchObject({
        code: 'INVALID_CONTENT',
        unrecoverable: true,
        message: expect.stringMatching(reason),
      });
    expect(await sentTo(to)).toHaveLength(0);
    // An upload Graph refuses for the token maps like a send: LOGGED_OUT (the channel checks the
    // token at connect, so the upload itself is called directly here).
    await expect(
      uploadCloudApiMedia({
        base: `${emulator.url}/v23.0`,
        phoneNumberId: PHONE_NUMBER_ID,
        accessToken: 'expired',
        data: Buffer.from('x'),
        mimetype: 'image/png',
        timeoutMs: 10_000,
      }),
    ).rejects.toMatchObject({ code: 'LOGGED_OUT', unrecoverable: true, providerCode: 190 });
  });
});
