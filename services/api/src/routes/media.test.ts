import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { withTenant } from '@switchboard/db';
import { QUEUE_NAMES } from '@switchboard/messaging/producer';
import { describe, expect, it } from 'vitest';
import {
  app,
  bearer,
  db,
  EXE,
  form,
  JPEG,
  MEDIA_MAX_BYTES,
  mediaDir,
  mediaStorage,
  PDF,
  seeded,
  setupApi,
  suffix,
  tenantQueue,
  tokenFor,
} from '../testing/api-fixture.ts';

setupApi();

describe('media', () => {
  it('uploads, checks type and content, stores under the tenant, enqueues, and serves the file back', async () => {
    const h = bearer(await tokenFor('a', 'agent'));
    const { conversationId, sessionId, tenantId } = seeded.a;
    const upload = (
      fields: Record<string, string>,
      file?: Parameters<typeof form>[1],
      key: string = randomUUID(),
    ) => {
      const body = form(fields, file);
      return app.inject({
        method: 'POST',
        url: '/v1/messages/media',
        headers: { ...h, ...body.headers, 'idempotency-key': key },
        payload: body.payload,
      });
    };
    const key = `media-${suffix}`;
    const photo = { name: 'photo.jpg', type: 'image/jpeg', data: JPEG };
    const sent = await upload({ conversationId, caption: 'look' }, photo, key);
    expect(sent.statusCode, sent.body).toBe(201);
    const message = sent.json();
    expect(message).toMatchObject({
      type: 'image',
      body: 'look',
      status: 'queued',
      sessionId,
      media: {
        mimeType: 'image/jpeg',
        sizeBytes: JPEG.length,
        sha256: createHash('sha256').update(JPEG).digest('hex'),
        fileName: 'photo.jpg',
      },
    });
    const row = await withTenant(db, tenantId, (tx) =>
      tx.message.findUniqueOrThrow({ where: { id: message.id } }),
    );
    // Written before the row, under a key of its own (the row's id did not exist yet).
    expect(row.mediaStorageKey).toMatch(new RegExp(`^tenants/${tenantId}/outbound/[0-9a-f-]{36}$`));
    expect(Buffer.from((await mediaStorage.get(row.mediaStorageKey!))!)).toEqual(JPEG);
    const queue = tenantQueue(QUEUE_NAMES.outbound(sessionId));
    try {
      expect(await queue.getJob(`send-${message.id}`)).toBeDefined();
    } finally {
      await queue.close();
    }
    const replay = await upload({ conversationId, caption: 'look' }, photo, key);
    expect(replay.statusCode).toBe(200);
    expect(replay.json().id).toBe(message.id);
    const otherFile = await upload(
      { conversationId, caption: 'look' },
      { ...photo, data: Buffer.concat([JPEG, Buffer.from('x')]) },
      key,
    );
    expect(otherFile.json().error.code).toBe('idempotency_key_mismatch');

    const download = await app.inject({ method: 'GET', url: `/v1/messages/${message.id}/media`, headers: h });
    expect(download.statusCode).toBe(200);
    expect(download.rawPayload).toEqual(JPEG);
    expect(download.headers['content-type']).toBe('image/jpeg');
    expect(download.headers['x-content-type-options']).toBe('nosniff');
    expect(download.headers['content-disposition']).toMatch(/^inline; filename="photo.jpg"/);

    const pdf = await upload({ conversationId }, { name: 'invoice.pdf', type: 'application/pdf', data: PDF });
    expect(pdf.statusCode).toBe(201);
    expect(pdf.json().type).toBe('document');
    const pdfDownload = await app.inject({
      method: 'GET',
      url: `/v1/messages/${pdf.json().id}/media`,
      headers: h,
    });
    expect(pdfDownload.headers['content-disposition']).toMatch(/^attachment; filename="invoice.pdf"/);
    expect(pdfDownload.headers['content-type']).toBe('application/pdf');

    const renamed = await upload({ conversationId }, { name: 'cute-cat.jpg', type: 'image/jpeg', data: EXE });
    expect(renamed.statusCode).toBe(422);
    expect(renamed.json().error).toMatchObject({ code: 'media_type_mismatch' });
    expect(renamed.json().error.message).toContain('not image/jpeg');
    const exe = await upload(
      { conversationId },
      { name: 'setup.exe', type: 'application/x-msdownload', data: EXE },
    );
    expect(exe.statusCode).toBe(415);
    expect(exe.json().error.message).toContain('application/x-msdownload is not accepted');
    const huge = await upload(
      { conversationId },
      { name: 'big.jpg', type: 'image/jpeg', data: Buffer.concat([JPEG, randomBytes(MEDIA_MAX_BYTES)]) },
    );
    expect(huge.statusCode).toBe(413);
    expect(huge.json().error.code).toBe('payload_too_large');
    const noConversation = await upload({}, photo);
    expect(noConversation.statusCode).toBe(400);
    expect(noConversation.json().error.issues[0].path).toBe('body.conversationId');
    const noFile = await upload({ conversationId });
    expect(noFile.statusCode).toBe(400);
    expect(noFile.json().error.issues[0].path).toBe('body.file');
    const json = await app.inject({
      method: 'POST',
      url: '/v1/messages/media',
      headers: { ...h, 'idempotency-key': randomUUID() },
      payload: { conversationId },
    });
    expect(json.statusCode).toBe(415);
    const foreign = await upload({ conversationId: seeded.b.conversationId }, photo);
    expect(foreign.statusCode).toBe(404);
    const viewer = await app.inject({
      method: 'POST',
      url: '/v1/messages/media',
      headers: {
        ...bearer(await tokenFor('a', 'viewer')),
        ...form({ conversationId }, photo).headers,
        'idempotency-key': randomUUID(),
      },
      payload: form({ conversationId }, photo).payload,
    });
    expect(viewer.statusCode).toBe(403);

    // Every refused or replayed upload above removed its object: what is stored is what rows name.
    expect(await storedUploads(tenantId)).toEqual(await namedUploads(tenantId));

    const textOnly = await app.inject({
      method: 'GET',
      url: `/v1/messages/${seeded.a.messageId}/media`,
      headers: h,
    });
    expect(textOnly.statusCode).toBe(404);
    expect(textOnly.json().error.message).toContain('no stored media');
  });
});

/** The outbound objects in the store for `tenantId` (no temp files either), sorted. */
async function storedUploads(tenantId: string): Promise<string[]> {
  const names = await readdir(join(mediaDir, 'tenants', tenantId, 'outbound')).catch(() => []);
  return names.map((name) => `tenants/${tenantId}/outbound/${name}`).sort();
}

/** The outbound objects message rows of `tenantId` name, sorted. */
async function namedUploads(tenantId: string): Promise<string[]> {
  const rows = await withTenant(db, tenantId, (tx) =>
    tx.message.findMany({
      where: { mediaStorageKey: { startsWith: 'tenants/' } },
      select: { mediaStorageKey: true },
    }),
  );
  return rows.map((r) => r.mediaStorageKey!).sort();
}

describe('uploads stream into storage, outside the transaction', () => {
  const h = async () => bearer(await tokenFor('a', 'agent'));
  /** Posts `body`, as a stream of `chunkBytes` pieces when given (as a slow network delivers it). */
  const post = async (body: ReturnType<typeof form>, chunkBytes?: number) => {
    const pieces: Buffer[] = [];
    for (let i = 0; chunkBytes && i < body.payload.length; i += chunkBytes)
      pieces.push(body.payload.subarray(i, i + chunkBytes));
    return await app.inject({
      method: 'POST',
      url: '/v1/messages/media',
      headers: { ...(await h()), ...body.headers, 'idempotency-key': randomUUID() },
      payload: chunkBytes ? Readable.from(pieces) : body.payload,
    });
  };

  it('checks text/plain chunk by chunk (UTF-8 across chunk boundaries) and refuses a control byte late in the file', async () => {
    const { conversationId, tenantId } = seeded.a;
    // 3- and 4-byte characters over ~45 KiB, sent in 1,000-byte pieces: some characters arrive split.
    const text = Buffer.from('naïve € 𝄞 line\n'.repeat(2_500));
    expect(text.length).toBeLessThan(MEDIA_MAX_BYTES);
    const ok = await post(
      form({ conversationId }, { name: 'notes.txt', type: 'text/plain', data: text }),
      1_000,
    );
    expect(ok.statusCode, ok.body).toBe(201);
    expect(ok.json().media).toMatchObject({
      sizeBytes: text.length,
      sha256: createHash('sha256').update(text).digest('hex'),
    });
    const download = await app.inject({
      method: 'GET',
      url: `/v1/messages/${ok.json().id}/media`,
      headers: await h(),
    });
    expect(download.rawPayload.equals(text)).toBe(true);
    const binaryTail = Buffer.concat([text.subarray(0, 40_000), Buffer.from([0x00, 0x01])]);
    const refused = await post(
      form({ conversationId }, { name: 'x.txt', type: 'text/plain', data: binaryTail }),
      1_000,
    );
    expect(refused.statusCode).toBe(422);
    expect(refused.json().error.code).toBe('media_type_mismatch');
    expect(await storedUploads(tenantId)).toEqual(await namedUploads(tenantId));
  });

  it('refuses fields sent after the file before reading it, and stores nothing', async () => {
    const { conversationId, tenantId } = seeded.a;
    const boundary = `b${randomUUID()}`;
    const payload = Buffer.concat([
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`,
      ),
      JPEG,
      Buffer.from(
        `\r\n--${boundary}\r\nContent-Disposition: form-data; name="conversationId"\r\n\r\n${conversationId}\r\n--${boundary}--\r\n`,
      ),
    ]);
    const res = await post({
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      payload,
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.issues[0].path).toBe('body.conversationId');
    expect(await storedUploads(tenantId)).toEqual(await namedUploads(tenantId));
  });

  it('removes the object when the row is not written (the transaction fails)', async () => {
    const { conversationId, tenantId } = seeded.a;
    const before = await storedUploads(tenantId);
    // A replyToMessageId that is not a message of this conversation: refused inside the
    // transaction, after the file was stored.
    const res = await post(
      form(
        { conversationId, replyToMessageId: randomUUID() },
        { name: 'p.jpg', type: 'image/jpeg', data: Buffer.concat([JPEG, randomBytes(20_000)]) },
      ),
    );
    expect(res.statusCode).toBe(400);
    expect(res.json().error.issues[0].path).toBe('body.replyToMessageId');
    expect(await storedUploads(tenantId)).toEqual(before);
  });
});

describe('unreadable multipart bodies, found by fuzzing', () => {
  it('multipart/form-data without a boundary or cut short is a 400, never a 500', async () => {
    const h = bearer(await tokenFor('a', 'agent'));
    for (const [contentType, payload] of [
      ['multipart/form-data', ''],
      ['multipart/form-data', '--x\r\ncontent-disposition: form-data; name="a"\r\n\r\nb'],
      [
        'multipart/form-data; boundary=x',
        '--x\r\ncontent-disposition: form-data; name="file"; filename="a.jpg"\r\n',
      ],
    ] as const) {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/messages/media',
        headers: { ...h, 'idempotency-key': randomUUID(), 'content-type': contentType },
        payload,
      });
      expect(res.statusCode, `${contentType}: ${res.body}`).toBe(400);
      expect(res.json().error.code).toBe('validation_failed');
    }
  });
});
