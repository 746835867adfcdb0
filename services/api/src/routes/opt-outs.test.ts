// Campaign opt-outs and opt-ins through the API on real Postgres: a contact's keyword replies
// decide by their order (STOP out, START back in, STOP out again), a change through the API
// (PUT opts out, DELETE opts back in: admins only) is newer than every earlier reply and an
// earlier reply never undoes it; the tenant's own opt-in keywords count; every API change is
// audited; another tenant's contact is a 404.
import { withTenant } from '@switchboard/db';
import { optedOut } from '@switchboard/messaging/producer';
import { describe, expect, it } from 'vitest';
import {
  app,
  auditCount,
  bearer,
  cloudConversation,
  db,
  seeded,
  setupApi,
  tokenFor,
} from '../testing/api-fixture.ts';

setupApi();

/** A new contact with a conversation; `says` stores its inbound text replies in order, one transaction (and `now()`) each. */
async function customer(name: string) {
  const { tenantId } = seeded.a;
  const { sessionId, conversationId } = await cloudConversation(name);
  const { contactId } = await withTenant(db, tenantId, (tx) =>
    tx.conversation.findUniqueOrThrow({ where: { id: conversationId } }),
  );
  const says = async (...texts: string[]) => {
    for (const body of texts)
      await withTenant(db, tenantId, (tx) =>
        tx.message.create({
          data: {
            tenantId,
            sessionId,
            conversationId,
            direction: 'inbound',
            status: 'delivered',
            type: 'text',
            body,
          },
        }),
      );
  };
  return { contactId, says };
}

const state = async (
  contactId: string,
  method: 'GET' | 'PUT' | 'DELETE' = 'GET',
  role: 'admin' | 'agent' = 'admin',
) =>
  await app.inject({
    method,
    url: `/v1/contacts/${contactId}/opt-out`,
    headers: bearer(await tokenFor('a', role)),
  });

describe('campaign opt-outs', () => {
  it('follows the order of the keyword replies: out, back in, out again', async () => {
    const { contactId, says } = await customer('opt-order');
    expect((await state(contactId)).json()).toMatchObject({ optedOut: false, keyword: null });
    await says('hello', ' Stop ');
    expect((await state(contactId)).json()).toMatchObject({ optedOut: true, keyword: 'STOP' });
    await says('start');
    expect((await state(contactId)).json()).toMatchObject({ optedOut: false, optedInBy: 'START' });
    await says('UNSUBSCRIBE');
    const again = (await state(contactId)).json();
    expect(again).toMatchObject({ optedOut: true, keyword: 'UNSUBSCRIBE', optedInAt: null, optedInBy: null });
    // What the campaign runner reads says the same.
    const out = await withTenant(db, seeded.a.tenantId, (tx) => optedOut(tx, seeded.a.tenantId, [contactId]));
    expect(out.has(contactId)).toBe(true);
  });

  it('takes a change through the API as the newest: an earlier reply never undoes it', async () => {
    const { contactId, says } = await customer('opt-api');
    await says('STOP');
    // An agent may opt a contact out, not back in: that consent is the admins' to record.
    expect((await state(contactId, 'DELETE', 'agent')).statusCode).toBe(403);
    const back = await state(contactId, 'DELETE');
    expect(back.statusCode, back.body).toBe(200);
    expect(back.json()).toMatchObject({ optedOut: false, keyword: 'STOP', optedInBy: 'api' });
    // The STOP before the opt-in is applied again at every read, and changes nothing.
    expect((await state(contactId)).json()).toMatchObject({ optedOut: false });
    const out = await state(contactId, 'PUT', 'agent');
    expect(out.json()).toMatchObject({ optedOut: true, keyword: 'api', optedInAt: null });
    await says('START');
    expect((await state(contactId)).json()).toMatchObject({ optedOut: false, optedInBy: 'START' });
    expect(await auditCount('contact.opted_in', contactId)).toBe(1);
    expect(await auditCount('contact.opted_out', contactId)).toBe(1);
    // Repeating a change changes nothing and audits nothing more.
    await state(contactId, 'DELETE');
    expect(await auditCount('contact.opted_in', contactId)).toBe(1);
  });

  it("uses the tenant's own opt-in keywords", async () => {
    const admin = bearer(await tokenFor('a', 'admin'));
    const put = await app.inject({
      method: 'PUT',
      url: '/v1/settings/opt-in-keywords',
      headers: admin,
      payload: { keywords: [' resume ', 'RESUME', 'yes please'] },
    });
    expect(put.statusCode, put.body).toBe(200);
    expect(put.json()).toEqual({ keywords: ['RESUME', 'YES PLEASE'] });
    const bad = await app.inject({
      method: 'PUT',
      url: '/v1/settings/opt-in-keywords',
      headers: admin,
      payload: { keywords: [''] },
    });
    expect(bad.statusCode).toBe(400);
    // A word cannot both opt out and opt back in.
    const overlap = await app.inject({
      method: 'PUT',
      url: '/v1/settings/opt-in-keywords',
      headers: admin,
      payload: { keywords: ['stop', 'RESUME'] },
    });
    expect([overlap.statusCode, overlap.json().error.issues[0].path]).toEqual([400, 'body.keywords']);
    const overlapOut = await app.inject({
      method: 'PUT',
      url: '/v1/settings/opt-out-keywords',
      headers: admin,
      payload: { keywords: ['STOP', 'Yes Please'] },
    });
    expect(overlapOut.statusCode).toBe(400);
    try {
      const { contactId, says } = await customer('opt-keywords');
      await says('STOP', 'start');
      expect((await state(contactId)).json()).toMatchObject({ optedOut: true });
      await says('Yes please');
      expect((await state(contactId)).json()).toMatchObject({ optedOut: false, optedInBy: 'YES PLEASE' });
      expect(await auditCount('settings.opt_in_keywords_updated', seeded.a.tenantId)).toBeGreaterThanOrEqual(
        1,
      );
    } finally {
      await app.inject({
        method: 'PUT',
        url: '/v1/settings/opt-in-keywords',
        headers: admin,
        payload: { keywords: ['START', 'UNSTOP'] },
      });
    }
  });

  it("answers 404 for another tenant's contact", async () => {
    expect((await state(seeded.b.contactId)).statusCode).toBe(404);
    expect((await state(seeded.b.contactId, 'PUT')).statusCode).toBe(404);
  });
});
