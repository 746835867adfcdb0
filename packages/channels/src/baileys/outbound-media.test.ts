// A stored file sent through Baileys: the mapping hands Baileys a stream that opens the file only
// when read, and Baileys' own encryptedStream (what sendMessage runs before its upload) reads it
// chunk by chunk into its temp file; a file gone from storage fails as INVALID_CONTENT.
import { createHash, randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { encryptedStream } from '@whiskeysockets/baileys';
import { describe, expect, it } from 'vitest';
import type { OutboundMediaFile } from '../channel.ts';
import { toBaileysContent } from './outbound.ts';

const JID = '5511999990000@s.whatsapp.net';

/** A stored file as the worker hands it over, counting its opens and the chunks read. */
function fileOf(bytes: Buffer | undefined) {
  const seen = { opens: 0, chunks: 0 };
  const file: OutboundMediaFile = {
    open: async () => {
      seen.opens += 1;
      if (!bytes) return undefined;
      return (async function* () {
        for (let at = 0; at < bytes.length; at += 64 * 1024) {
          seen.chunks += 1;
          yield bytes.subarray(at, at + 64 * 1024);
        }
      })();
    },
  };
  return { file, seen };
}

describe('Baileys sends a stored file as a stream', () => {
  it('opens the file only when Baileys reads it, and Baileys encrypts the same bytes', async () => {
    const pdf = Buffer.concat([Buffer.from('%PDF-1.7 '), randomBytes(2 * 1024 * 1024)]);
    const { file, seen } = fileOf(pdf);
    const content = toBaileysContent(
      { type: 'media', kind: 'document', file, mimetype: 'application/pdf', fileName: 'report.pdf' },
      JID,
    ) as { document: { stream: Readable }; mimetype: string; fileName: string };
    expect(content).toMatchObject({ mimetype: 'application/pdf', fileName: 'report.pdf' });
    expect(seen.opens).toBe(0);
    const encrypted = await encryptedStream(content.document, 'document');
    try {
      expect(seen.opens).toBe(1);
      expect(seen.chunks).toBe(Math.ceil(pdf.length / (64 * 1024)));
      expect(encrypted.fileLength).toBe(pdf.length);
      expect(encrypted.fileSha256.equals(createHash('sha256').update(pdf).digest())).toBe(true);
    } finally {
      await rm(encrypted.encFilePath, { force: true });
    }
  });

  it('a file gone from storage, or empty, fails the send as INVALID_CONTENT', async () => {
    for (const [bytes, reason] of [
      [undefined, /no longer stored/],
      [Buffer.alloc(0), /without bytes/],
    ] as const) {
      const content = toBaileysContent(
        { type: 'media', kind: 'image', file: fileOf(bytes).file, mimetype: 'image/jpeg' },
        JID,
      ) as { image: { stream: Readable } };
      await expect(encryptedStream(content.image, 'image')).rejects.toMatchObject({
        code: 'INVALID_CONTENT',
        unrecoverable: true,
        message: expect.stringMatching(reason),
      });
    }
    expect(() =>
      toBaileysContent(
        { type: 'media', kind: 'image', file: fileOf(Buffer.from('x')).file, data: Buffer.from('x') },
        JID,
      ),
    ).toThrow(/exactly one of data, file, url or providerMediaId/);
  });
});
