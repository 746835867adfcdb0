import { withTenant } from '@switchboard/db';
import { describe, expect, it } from 'vitest';
import { app, bearer, db, JPEG, mediaStorage, seeded, setupApi, tokenFor } from '../testing/api-fixture.ts';

setupApi();

describe('contacts', () => {
  it('updates, exports and erases a contact with an audit entry that keeps no content', async () => {
    const admin = await tokenFor('a', 'admin');
    const h = bearer(admin);
    const tenantId = seeded.a.tenantId;
    // A contact of its own, so erasing it leaves the other tests' seed alone.
    const { contactId, conversationId, messageId } = await withTenant(db, tenantId, async (tx) => {
      const contact = await tx.contact.create({ data: { tenantId, pushName: 'Erase Me' } });
      await tx.contactIdentity.create({
        data: { tenantId, contactId: contact.id, kind: 'pn', value: '31600000001' },
      });
      const conversation = await tx.conversation.create({
        data: { tenantId, sessionId: seeded.a.sessionId, contactId: contact.id },
      });
      const message = await tx.message.create({
        data: {
          tenantId,
          sessionId: seeded.a.sessionId,
          conversationId: conversation.id,
          direction: 'inbound',
          status: 'delivered',
          type: 'text',
          body: 'private words',
        },
      });
      await tx.message.create({
        data: {
          tenantId,
          sessionId: seeded.a.sessionId,
          conversationId: conversation.id,
          direction: 'inbound',
          status: 'delivered',
          type: 'image',
          mediaStorageKey: `tenants/${tenantId}/inbound/${conversation.id}`,
          mediaMimeType: 'image/jpeg',
        },
      });
      return { contactId: contact.id, conversationId: conversation.id, messageId: message.id };
    });
    const mediaKey = `tenants/${tenantId}/inbound/${conversationId}`;
    await mediaStorage.put(mediaKey, JPEG, 'image/jpeg');
    const patched = await app.inject({
      method: 'PATCH',
      url: `/v1/contacts/${contactId}`,
      headers: h,
      payload: { displayName: 'Erasable Person' },
    });
    expect(patched.json().displayName).toBe('Erasable Person');
    // Notes are kept beside the name; a patch of one leaves the other as it is.
    const noted = await app.inject({
      method: 'PATCH',
      url: `/v1/contacts/${contactId}`,
      headers: h,
      payload: { notes: 'Prefers WhatsApp after 18:00.' },
    });
    expect(noted.json()).toMatchObject({
      displayName: 'Erasable Person',
      notes: 'Prefers WhatsApp after 18:00.',
    });
    const empty = await app.inject({
      method: 'PATCH',
      url: `/v1/contacts/${contactId}`,
      headers: h,
      payload: {},
    });
    expect(empty.statusCode).toBe(400);
    const long = await app.inject({
      method: 'PATCH',
      url: `/v1/contacts/${contactId}`,
      headers: h,
      payload: { notes: 'x'.repeat(10_001) },
    });
    expect(long.json().error.message).toContain('body.notes');
    const found = await app.inject({ method: 'GET', url: '/v1/contacts?search=erasable', headers: h });
    expect(found.json().items.map((c: { id: string }) => c.id)).toEqual([contactId]);
    const exported = await app.inject({ method: 'GET', url: `/v1/contacts/${contactId}/export`, headers: h });
    expect(exported.json().contact.identities).toEqual([{ kind: 'pn', value: '31600000001' }]);
    expect(exported.json().conversations.map((c: { id: string }) => c.id)).toEqual([conversationId]);
    expect(exported.json().messages).toContainEqual(
      expect.objectContaining({ id: messageId, body: 'private words' }),
    );
    expect(
      (await app.inject({ method: 'DELETE', url: `/v1/contacts/${contactId}`, headers: h })).statusCode,
    ).toBe(204);
    expect(
      (await app.inject({ method: 'GET', url: `/v1/contacts/${contactId}`, headers: h })).statusCode,
    ).toBe(404);
    const left = await withTenant(db, tenantId, async (tx) => ({
      messages: await tx.message.count({ where: { id: messageId } }),
      identities: await tx.contactIdentity.count({ where: { contactId } }),
    }));
    expect(left).toEqual({ messages: 0, identities: 0 });
    expect(await mediaStorage.get(mediaKey), 'the media file is erased too').toBeUndefined();
    const log = await app.inject({ method: 'GET', url: '/v1/audit-log?action=contact.erased', headers: h });
    expect(log.json().items[0]).toMatchObject({
      targetId: contactId,
      metadata: { conversations: 1, messages: 2, mediaFiles: 1 },
    });
    expect(log.body).not.toContain('private words');
    expect(log.body).not.toContain('31600000001');
  });
});

describe('contact pages', () => {
  it('keeps the next contact when the page before ended on one that stopped matching the search', async () => {
    const h = bearer(await tokenFor('a', 'viewer'));
    const tag = `Pager${Date.now()}`;
    // Three contacts within one millisecond, as an inbound batch writes them.
    const ids = await withTenant(db, seeded.a.tenantId, async (tx) => {
      const out: string[] = [];
      for (let i = 0; i < 3; i++) {
        const [row] = await tx.$queryRaw<{ id: string }[]>`
          INSERT INTO contacts (tenant_id, push_name, created_at)
          VALUES (${seeded.a.tenantId}::uuid, ${`${tag} ${i}`},
                  '2021-03-04T05:06:07.123003Z'::timestamptz - ${i} * interval '1 microsecond')
          RETURNING id`;
        out.push(row!.id);
      }
      return out;
    });
    const list = (cursor?: string) =>
      app.inject({
        method: 'GET',
        url: `/v1/contacts?search=${tag}&limit=1${cursor ? `&cursor=${cursor}` : ''}`,
        headers: h,
      });
    const first = await list();
    expect(first.json().items.map((c: { id: string }) => c.id)).toEqual([ids[0]]);
    // The page's last contact is renamed out of the search before the next page is read.
    await withTenant(db, seeded.a.tenantId, (tx) =>
      tx.contact.update({ where: { id: ids[0]! }, data: { pushName: 'Renamed' } }),
    );
    const second = await list(first.json().nextCursor);
    expect(second.json().items.map((c: { id: string }) => c.id)).toEqual([ids[1]]);
    const third = await list(second.json().nextCursor);
    expect(third.json().items.map((c: { id: string }) => c.id)).toEqual([ids[2]]);
    expect(third.json().nextCursor).toBeNull();
  });
});
