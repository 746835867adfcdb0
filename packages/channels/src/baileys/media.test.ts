import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { redisNamespace, redisOptions } from '@switchboard/testing';
import { encryptedStream, type proto } from '@whiskeysockets/baileys';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChannelMediaFetcher, InboundMessage, MessageContent } from '../channel.ts';
import { encodeMediaDownload, mapUpsert } from './mapping.ts';
import { baileysMediaFetcher } from './media.ts';
import { createStandInChannel } from './testing/harness.ts';
import { messageId, wireMessage } from './testing/messages.ts';

/**
 * WhatsApp's media server played by a local HTTP server: files are real ciphertext made by
 * Baileys' own encryptedStream (AES-256-CBC with keys expanded from the media key, then the MAC),
 * exactly what an inbound message's url points at.
 */
const files = new Map<string, Buffer>();
const requests: { path: string; closed: Promise<void> }[] = [];
let server: Server;
let base = '';
// WhatsApp's media host is played by the local server: the messages name mmg.whatsapp.net as
// real ones do, and the fetcher reaches it at `base`.
const WA = 'https://mmg.whatsapp.net';
const fetchMedia: ChannelMediaFetcher = (download, signal, ctx) =>
  baileysMediaFetcher({ origin: base })(download, signal, ctx);
const context = { sessionId: 'media-test' };

function handle(req: IncomingMessage, res: ServerResponse) {
  const path = req.url ?? '';
  requests.push({ path, closed: new Promise((resolve) => res.once('close', () => resolve())) });
  if (path.startsWith('/redirect/')) {
    // A media host that answers with a redirect to an internal address.
    res.writeHead(302, { location: `${canaryUrl}/from-redirect` }).end();
    return;
  }
  if (path.startsWith('/status/')) {
    res.writeHead(Number(path.slice('/status/'.length))).end();
    return;
  }
  const file = files.get(path.replace(/^\/stall/, ''));
  if (!file) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': file.length });
  if (path.startsWith('/stall')) {
    // Half the file, then nothing: only an abort ends this download.
    res.write(file.subarray(0, Math.floor(file.length / 2)));
    return;
  }
  res.end(file);
}

/** An internal service no media download may ever reach: it counts every connection, TLS or not. */
let canary: Server;
let canaryUrl = '';
let canaryHost = '';
const canaryConnections: string[] = [];

beforeAll(async () => {
  canary = createServer((_req, res) => res.writeHead(200).end('internal'));
  canary.on('connection', (socket) => canaryConnections.push(String(socket.remotePort)));
  await new Promise<void>((resolve) => canary.listen(0, '127.0.0.1', resolve));
  canaryHost = `127.0.0.1:${(canary.address() as AddressInfo).port}`;
  canaryUrl = `http://${canaryHost}`;
  server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  canary.closeAllConnections();
  await new Promise<void>((resolve) => canary.close(() => resolve()));
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** Encrypts `plaintext` as Baileys does for an upload; serves the ciphertext at a path. */
async function upload(plaintext: Buffer, mediaType: 'image' | 'document' | 'audio') {
  const encrypted = await encryptedStream(plaintext, mediaType);
  const ciphertext = await readFile(encrypted.encFilePath);
  await rm(encrypted.encFilePath, { force: true });
  const path = `/v/t62.7118-24/${randomBytes(8).toString('hex')}.enc`;
  files.set(path, ciphertext);
  return { ...encrypted, ciphertext, path };
}

/** An inbound message pointing at `path`, mapped by the adapter's own mapping to its MediaRef. */
function inboundMedia(
  contentType: 'imageMessage' | 'documentMessage' | 'audioMessage',
  media: Record<string, unknown>,
): Extract<MessageContent, { media: unknown }> {
  const message = wireMessage({
    key: { remoteJid: '5511977770000@s.whatsapp.net', id: messageId(), fromMe: false },
    message: { [contentType]: media },
  });
  const [event] = mapUpsert(
    { messages: [message], type: 'notify' },
    { sessionId: 's', now: () => new Date() },
  );
  expect(event?.event).toBe('message');
  return (event!.payload as InboundMessage).content as Extract<MessageContent, { media: unknown }>;
}

async function read(iterable: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of iterable) chunks.push(chunk);
  return Buffer.concat(chunks);
}

describe('inbound media locations (SSRF)', () => {
  /** Media whose url/directPath the sender chose, aimed at the internal canary service. */
  function hostile(): { name: string; url?: string; directPath?: string }[] {
    return [
      { name: 'bare http url', url: `${canaryUrl}/x` },
      { name: 'https url on an internal host', url: `https://${canaryHost}/x` },
      { name: 'credentials trick in the url', url: `https://mmg.whatsapp.net@${canaryHost}/x` },
      { name: 'lookalike media host', url: 'https://mmg.whatsapp.net.evil.test/x' },
      { name: 'directPath as userinfo', directPath: `@${canaryHost}/x` },
      { name: 'directPath as userinfo, with a WhatsApp url', url: `${WA}/x`, directPath: `@${canaryHost}/x` },
      { name: 'protocol-relative directPath', directPath: `//${canaryHost}/x` },
      { name: 'backslash directPath', directPath: `/\\${canaryHost}/x` },
      { name: 'directPath with a scheme', directPath: `http://${canaryHost}/x` },
      {
        name: 'good directPath on a url naming an internal host',
        url: `https://${canaryHost}/`,
        directPath: '/x',
      },
    ];
  }

  it('never reaches an internal address: the mapping refuses, and so does the fetcher', async () => {
    const key = { remoteJid: '5511977770000@s.whatsapp.net', fromMe: false };
    const mediaKey = randomBytes(32);
    const fileSha256 = randomBytes(32);
    // The production fetcher (no origin override): it would go wherever the message says.
    const production = baileysMediaFetcher();
    const before = canaryConnections.length;
    for (const payload of hostile()) {
      const { name: _name, ...where } = payload;
      const [event] = mapUpsert(
        {
          messages: [
            wireMessage({
              key: { ...key, id: messageId() },
              message: { imageMessage: { ...where, mediaKey, fileSha256 } },
            }),
          ],
          type: 'notify',
        },
        { sessionId: 's', now: () => new Date() },
      );
      expect(event, payload.name).toMatchObject({ event: 'unsupported', payload: { reason: 'malformed' } });
      // A reference made without the mapping (or stored before it checked) is refused at download.
      const data = encodeMediaDownload({ ...key, id: messageId() }, 'imageMessage', {
        ...where,
        mediaKey,
        fileSha256,
      });
      for (const fetcher of [production, fetchMedia])
        await expect(
          (async () =>
            read(await fetcher({ provider: 'baileys', data }, AbortSignal.timeout(10_000), context)))(),
          payload.name,
        ).rejects.toMatchObject({
          code: 'MEDIA_DOWNLOAD_FAILED',
          unrecoverable: true,
          message: expect.stringMatching(/media location is refused/),
        });
    }
    expect(canaryConnections.length).toBe(before);
  });

  it('does not follow a redirect from the media host', async () => {
    const file = await upload(Buffer.from('hello'), 'image');
    const before = canaryConnections.length;
    const download = inboundMedia('imageMessage', {
      url: `${WA}/redirect${file.path}`,
      mediaKey: file.mediaKey,
      fileSha256: file.fileSha256,
    }).media.download;
    await expect(fetchMedia(download, AbortSignal.timeout(10_000), context)).rejects.toMatchObject({
      code: 'MEDIA_DOWNLOAD_FAILED',
      unrecoverable: true,
      message: expect.stringMatching(/redirect \(HTTP 302\)/),
    });
    expect(requests.at(-1)?.path).toBe(`/redirect${file.path}`);
    expect(canaryConnections.length).toBe(before);
  });

  it('accepts the locations real messages carry', async () => {
    const file = await upload(Buffer.from('a real one'), 'image');
    const query = '?ccb=11-4&oh=01_Q5Aa&oe=68C2&_nc_sid=5e03e0';
    files.set(`${file.path}${query}`, file.ciphertext);
    for (const where of [
      { url: `${WA}${file.path}${query}`, directPath: `${file.path}${query}` },
      { directPath: `${file.path}${query}` },
      { url: `https://mmg-fallback.whatsapp.net${file.path}${query}` },
    ]) {
      const download = inboundMedia('imageMessage', {
        ...where,
        mediaKey: file.mediaKey,
        fileSha256: file.fileSha256,
      }).media.download;
      expect((await read(await fetchMedia(download, AbortSignal.timeout(10_000), context))).toString()).toBe(
        'a real one',
      );
    }
  });
});

describe('baileysMediaFetcher', () => {
  it('downloads and decrypts real WhatsApp media to the plaintext the sender encrypted', async () => {
    const plaintext = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(200_000)]);
    const file = await upload(plaintext, 'image');
    const content = inboundMedia('imageMessage', {
      url: `${WA}${file.path}`,
      mimetype: 'image/jpeg',
      mediaKey: file.mediaKey,
      fileSha256: file.fileSha256,
      fileEncSha256: file.fileEncSha256,
      fileLength: file.fileLength,
    });
    expect(content.media.sha256).toBe(file.fileSha256.toString('hex'));
    const chunks: Uint8Array[] = [];
    for await (const chunk of await fetchMedia(content.media.download, AbortSignal.timeout(10_000), context))
      chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(1); // streamed, not buffered whole
    expect(Buffer.concat(chunks).equals(plaintext)).toBe(true);
    // The ciphertext really is encrypted: the plaintext is nowhere in what was served.
    expect(file.ciphertext.includes(plaintext.subarray(0, 64))).toBe(false);
  });

  it('decrypts with the key of the media type (a document is not an image)', async () => {
    const plaintext = Buffer.from('%PDF-1.7 a small document\n');
    const file = await upload(plaintext, 'document');
    const media = {
      url: `${WA}${file.path}`,
      mimetype: 'application/pdf',
      mediaKey: file.mediaKey,
      fileSha256: file.fileSha256,
      fileName: 'invoice.pdf',
    };
    const document = inboundMedia('documentMessage', media);
    expect(document.media.fileName).toBe('invoice.pdf');
    expect(
      (await read(await fetchMedia(document.media.download, AbortSignal.timeout(10_000), context))).equals(
        plaintext,
      ),
    ).toBe(true);
    // The same file announced as an image derives other keys: it cannot come out as the sender's file.
    const asImage = inboundMedia('imageMessage', media);
    await expect(
      read(await fetchMedia(asImage.media.download, AbortSignal.timeout(10_000), context)),
    ).rejects.toMatchObject({
      code: 'MEDIA_DOWNLOAD_FAILED',
      unrecoverable: true,
    });
  });

  it('fails for good when the file was tampered with, in the middle or in the last block', async () => {
    const plaintext = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), randomBytes(50_000)]);
    const file = await upload(plaintext, 'image');
    const ref = (url: string) =>
      inboundMedia('imageMessage', {
        url,
        mimetype: 'image/jpeg',
        mediaKey: file.mediaKey,
        fileSha256: file.fileSha256,
      }).media.download;
    const middle = Buffer.from(file.ciphertext);
    middle[20_000] = middle[20_000]! ^ 0x01;
    files.set(`${file.path}.middle`, middle);
    await expect(
      read(await fetchMedia(ref(`${WA}${file.path}.middle`), AbortSignal.timeout(10_000), context)),
    ).rejects.toMatchObject({
      code: 'MEDIA_DOWNLOAD_FAILED',
      unrecoverable: true,
      message: expect.stringMatching(/does not match the message's fileSha256/),
    });
    const last = Buffer.from(file.ciphertext);
    // The last AES block sits before the 10-byte MAC; flipping it breaks the padding.
    last[last.length - 12] = last[last.length - 12]! ^ 0xff;
    files.set(`${file.path}.last`, last);
    await expect(
      read(await fetchMedia(ref(`${WA}${file.path}.last`), AbortSignal.timeout(10_000), context)),
    ).rejects.toMatchObject({
      code: 'MEDIA_DOWNLOAD_FAILED',
      unrecoverable: true,
    });
    // The untouched file still downloads: the failures above are the tampering.
    expect(
      (await read(await fetchMedia(ref(`${WA}${file.path}`), AbortSignal.timeout(10_000), context))).equals(
        plaintext,
      ),
    ).toBe(true);
  });

  it('maps HTTP failures: expired media (404/410) for good, a server error for a retry', async () => {
    const file = await upload(Buffer.from('hello'), 'image');
    const ref = (url: string) =>
      inboundMedia('imageMessage', { url, mediaKey: file.mediaKey, fileSha256: file.fileSha256 }).media
        .download;
    for (const status of [404, 410])
      await expect(
        fetchMedia(ref(`${WA}/status/${status}`), AbortSignal.timeout(10_000), context),
      ).rejects.toMatchObject({
        code: 'MEDIA_DOWNLOAD_FAILED',
        unrecoverable: true,
        message: expect.stringMatching(new RegExp(`no longer has the file \\(HTTP ${status}\\)`)),
      });
    await expect(
      fetchMedia(ref(`${WA}/status/503`), AbortSignal.timeout(10_000), context),
    ).rejects.toMatchObject({
      code: 'MEDIA_DOWNLOAD_FAILED',
      unrecoverable: false,
    });
  });

  it('stops the transfer when the signal aborts: the iteration rejects and the connection closes', async () => {
    const file = await upload(randomBytes(400_000), 'image');
    const download = inboundMedia('imageMessage', {
      url: `${WA}/stall${file.path}`,
      mediaKey: file.mediaKey,
      fileSha256: file.fileSha256,
    }).media.download;
    const controller = new AbortController();
    const before = requests.length;
    const iterable = await fetchMedia(download, controller.signal, context);
    const reading = (async () => {
      let received = 0;
      for await (const chunk of iterable) {
        received += chunk.byteLength;
        // Abort once part of the file has arrived (the server then sends nothing more).
        if (received > 0 && !controller.signal.aborted) controller.abort();
      }
    })();
    await expect(reading).rejects.toMatchObject({ name: 'AbortError' });
    const request = requests[before]!;
    expect(request.path).toBe(`/stall${file.path}`);
    // The server sees its response closed: the socket did not stay open after the abort.
    await expect(
      Promise.race([
        request.closed.then(() => 'closed'),
        new Promise((resolve) => setTimeout(() => resolve('still open'), 5_000)),
      ]),
    ).resolves.toBe('closed');
    // An already aborted signal fails before any request.
    const count = requests.length;
    await expect(fetchMedia(download, AbortSignal.abort(), context)).rejects.toMatchObject({
      name: 'AbortError',
    });
    expect(requests.length).toBe(count);
  });

  it('refuses references it cannot use, without a request', async () => {
    const count = requests.length;
    const signal = AbortSignal.timeout(10_000);
    const cases: [string, RegExp][] = [
      ['not json', /malformed/],
      [JSON.stringify({ v: 2, key: {}, message: '' }), /malformed/],
      [
        encodeMediaDownload({ remoteJid: 'x@s.whatsapp.net', id: 'A', fromMe: false }, 'imageMessage', {
          url: `${WA}/x`,
          mediaKey: randomBytes(32),
        } satisfies proto.Message.IImageMessage),
        /declares no fileSha256/,
      ],
      [
        encodeMediaDownload({ remoteJid: 'x@s.whatsapp.net', id: 'B', fromMe: false }, 'imageMessage', {
          fileSha256: randomBytes(32),
        } satisfies proto.Message.IImageMessage),
        /no media key or no URL/,
      ],
    ];
    for (const [data, reason] of cases)
      await expect(fetchMedia({ provider: 'baileys', data }, signal, context)).rejects.toMatchObject({
        code: 'MEDIA_DOWNLOAD_FAILED',
        unrecoverable: true,
        message: expect.stringMatching(reason),
      });
    await expect(fetchMedia({ provider: 'cloud-api', data: '123' }, signal, context)).rejects.toMatchObject({
      unrecoverable: true,
    });
    expect(requests.length).toBe(count);
  });
});

describe('BaileysChannel media sends', () => {
  const ns = redisNamespace('channels-media');
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(redisOptions());
  });
  afterAll(async () => {
    redis.disconnect();
    await ns.cleanup();
  });

  it('uploads the bytes encrypted and sends a message that downloads back to them', async () => {
    const t = await createStandInChannel({
      redis,
      keyPrefix: `${ns.prefix}:`,
      paired: { phoneNumber: '5511900000003', lid: '500000000000003' },
    });
    try {
      await t.channel.connect();
      (await t.standIn.socket(1)).open();
      await t.log.waitFor('state', (s) => s.state === 'connected');
      const socket = t.standIn.current;

      const pdf = Buffer.from('%PDF-1.7 the contract\n');
      await t.channel.send({
        to: '5511977770000',
        content: {
          type: 'media',
          kind: 'document',
          data: pdf,
          mimetype: 'application/pdf',
          fileName: 'contract.pdf',
          caption: 'signed',
        },
      });
      const image = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(30_000)]);
      await t.channel.send({
        to: '5511977770000',
        content: { type: 'media', kind: 'image', data: image, mimetype: 'image/jpeg', caption: 'the photo' },
      });
      expect(socket.uploads.map((u) => u.mediaType)).toEqual(['document', 'image']);
      expect(socket.sent).toHaveLength(2);

      const doc = socket.sent[0]!.message.message!.documentMessage!;
      expect(doc).toMatchObject({ mimetype: 'application/pdf', fileName: 'contract.pdf', caption: 'signed' });
      expect(doc.directPath).toBe(socket.uploads[0]!.directPath);
      const img = socket.sent[1]!.message.message!.imageMessage!;
      expect(img).toMatchObject({ mimetype: 'image/jpeg', caption: 'the photo' });

      // What was uploaded is ciphertext that the recipient, holding the sent message, decrypts back.
      for (const [i, [contentType, media, original]] of (
        [
          ['documentMessage', doc, pdf],
          ['imageMessage', img, image],
        ] as const
      ).entries()) {
        const path = `/sent/${i}${socket.uploads[i]!.directPath}`;
        files.set(path, socket.uploads[i]!.encrypted);
        expect(socket.uploads[i]!.encrypted.includes(original.subarray(0, 16))).toBe(false);
        const ref = encodeMediaDownload(socket.sent[i]!.message.key, contentType, {
          ...media,
          directPath: null,
          url: `${WA}${path}`,
        });
        const got = await read(
          await fetchMedia({ provider: 'baileys', data: ref }, AbortSignal.timeout(10_000), context),
        );
        expect(got.equals(original)).toBe(true);
      }
    } finally {
      await t.channel.disconnect();
    }
  });

  it('refuses media it cannot send (a URL, no bytes, a caption on audio) and templates, without uploading', async () => {
    const t = await createStandInChannel({
      redis,
      keyPrefix: `${ns.prefix}:`,
      paired: { phoneNumber: '5511900000004', lid: '500000000000004' },
    });
    try {
      await t.channel.connect();
      (await t.standIn.socket(1)).open();
      await t.log.waitFor('state', (s) => s.state === 'connected');
      const cases = [
        [{ type: 'media', kind: 'image', url: 'http://169.254.169.254/latest' }, /not from a URL/],
        [{ type: 'media', kind: 'image', providerMediaId: '123' }, /not from a URL or a provider media id/],
        [{ type: 'media', kind: 'image', data: new Uint8Array(0) }, /without bytes/],
        [{ type: 'media', kind: 'audio', data: Buffer.from('ogg'), caption: 'no' }, /cannot carry a caption/],
        [{ type: 'media', kind: 'document', data: Buffer.from('x') }, /needs a mimetype/],
        [{ type: 'template', name: 'order_update', language: 'pt_BR' }, /only be sent through the Cloud API/],
      ] as const;
      for (const [content, reason] of cases)
        await expect(t.channel.send({ to: '5511977770000', content })).rejects.toMatchObject({
          code: 'INVALID_CONTENT',
          unrecoverable: true,
          message: expect.stringMatching(reason),
        });
      expect(t.standIn.current.uploads).toHaveLength(0);
      expect(t.standIn.current.sent).toHaveLength(0);
    } finally {
      await t.channel.disconnect();
    }
  });
});
