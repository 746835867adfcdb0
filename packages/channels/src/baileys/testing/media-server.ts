/**
 * Test-only: WhatsApp's media server played by a local HTTP server on loopback, serving real
 * ciphertext made by Baileys' own `encryptedStream` (AES-256-CBC with keys expanded from the
 * media key, then the 10-byte MAC) from files on disk, so a file of any size is streamed without
 * being held in memory by the test either. `baileysMediaFetcher({ origin })` downloads from it.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { encryptedStream } from '@whiskeysockets/baileys';
import type { InboundMessage } from '../../channel.ts';
import { encodeMediaDownload } from '../mapping.ts';

/** An encrypted media file on disk and what a message about it carries. */
export interface EncryptedMediaFile {
  /** The ciphertext (plus MAC), a temp file: remove it with {@link removeEncryptedMedia}. */
  encFilePath: string;
  mediaKey: Buffer;
  /** SHA-256 of the plaintext. */
  fileSha256: Buffer;
  fileLength: number;
}

/** A JPEG of `bytes`: the signature, then random bytes, generated as a stream (never whole). */
export async function* jpegOf(bytes: number): AsyncGenerator<Uint8Array> {
  yield Buffer.from([0xff, 0xd8, 0xff, 0xe0]);
  for (let left = bytes - 4; left > 0; left -= 1024 * 1024) yield randomBytes(Math.min(left, 1024 * 1024));
}

/** Encrypts `plaintext` (read as a stream) as WhatsApp does for an image upload, into a temp file. */
export async function encryptMediaFile(plaintext: AsyncIterable<Uint8Array>): Promise<EncryptedMediaFile> {
  const encrypted = await encryptedStream(
    { stream: Readable.from(plaintext, { objectMode: false }) },
    'image',
  );
  return {
    encFilePath: encrypted.encFilePath,
    mediaKey: Buffer.from(encrypted.mediaKey),
    fileSha256: Buffer.from(encrypted.fileSha256),
    fileLength: encrypted.fileLength,
  };
}

/** Removes the temp file {@link encryptMediaFile} made. */
export async function removeEncryptedMedia(file: EncryptedMediaFile): Promise<void> {
  await rm(file.encFilePath, { force: true });
}

/** The customer whose image messages {@link customerImageMessage} makes (and `reference` names). */
const CUSTOMER = { address: '5511977770000@s.whatsapp.net', pn: '5511977770000' };

/**
 * A new, live image message from the customer whose file is `file`, downloaded through
 * `reference` (from {@link MediaServer.reference}): what a Baileys session hands the inbound
 * pipeline. Its provider id is `idPrefix` and random hex, so each call stores a new message.
 */
export function customerImageMessage(options: {
  sessionId: string;
  file: EncryptedMediaFile;
  reference: string;
  idPrefix: string;
}): InboundMessage {
  const { address, pn } = CUSTOMER;
  return {
    sessionId: options.sessionId,
    providerMessageId: `${options.idPrefix}${randomBytes(8).toString('hex').toUpperCase()}`,
    chat: { address, kind: 'direct', contact: { address, pn } },
    sender: { address, pn },
    fromMe: false,
    timestamp: new Date(),
    live: true,
    content: {
      type: 'image',
      media: {
        mimetype: 'image/jpeg',
        size: options.file.fileLength,
        sha256: options.file.fileSha256.toString('hex'),
        download: { provider: 'baileys', data: options.reference },
      },
    },
  };
}

/** A running stand-in media server. */
export interface MediaServer {
  /** `http://127.0.0.1:<port>`: give it to `baileysMediaFetcher({ origin })`. */
  origin: string;
  /** Serves the file at a fresh WhatsApp-shaped path; answers the path. */
  serve(filePath: string): string;
  /**
   * The `MediaRef.download.data` of an image message whose file is at `path` on
   * mmg.whatsapp.net, with the file's keys and plaintext hash (what the mapping stores).
   */
  reference(path: string, file: EncryptedMediaFile): string;
  close(): Promise<void>;
}

/** Starts the stand-in on a free loopback port. */
export async function startMediaServer(): Promise<MediaServer> {
  const files = new Map<string, string>();
  const server: Server = createServer((request, response) => {
    const filePath = files.get(request.url ?? '');
    if (!filePath) {
      response.writeHead(404).end();
      return;
    }
    const stream = createReadStream(filePath);
    stream.once('error', () => response.destroy());
    response.writeHead(200, { 'content-type': 'application/octet-stream' });
    stream.pipe(response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    serve(filePath) {
      const path = `/v/t62.7118-24/${randomBytes(8).toString('hex')}.enc`;
      files.set(path, filePath);
      return path;
    },
    reference(path, file) {
      return encodeMediaDownload(
        {
          remoteJid: CUSTOMER.address,
          id: randomBytes(8).toString('hex').toUpperCase(),
          fromMe: false,
        },
        'imageMessage',
        {
          url: `https://mmg.whatsapp.net${path}`,
          directPath: path,
          mimetype: 'image/jpeg',
          mediaKey: file.mediaKey,
          fileSha256: file.fileSha256,
          fileLength: file.fileLength,
        },
      );
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
