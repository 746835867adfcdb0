import { createHash, randomBytes, randomUUID } from 'node:crypto';
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
    expect(row.mediaStorageKey).toBe(`tenants/${tenantId}/outbound/${message.id}`);
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

    const textOnly = await app.inject({
      method: 'GET',
      url: `/v1/messages/${seeded.a.messageId}/media`,
      headers: h,
    });
    expect(textOnly.statusCode).toBe(404);
    expect(textOnly.json().error.message).toContain('no stored media');
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
