// Labels through the API: create (colour and name validated, names unique), rename/recolour,
// apply and remove on conversations and contacts (one and in bulk, one transaction: an unknown
// id refuses the whole request), the conversation list's `?label=` filter and each row's labels,
// every change audited and recorded as a `label.applied` / `label.removed` webhook delivery, and
// delete removing the label everywhere. Roles: admins manage labels, agents apply them. Real Postgres.
import { withTenant } from '@switchboard/db';
import { describe, expect, it } from 'vitest';
import { app, auditCount, bearer, db, seeded, setupApi, suffix, tokenFor } from '../testing/api-fixture.ts';

setupApi();

async function conversations(count: number): Promise<string[]> {
  const { tenantId, sessionId } = seeded.a;
  return await withTenant(db, tenantId, async (tx) => {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const contact = await tx.contact.create({ data: { tenantId, pushName: `Labelled ${suffix} ${i}` } });
      const c = await tx.conversation.create({ data: { tenantId, sessionId, contactId: contact.id } });
      ids.push(c.id);
    }
    return ids;
  });
}

describe('labels', () => {
  it('creates, validates, renames and recolours; admins only', async () => {
    const admin = bearer(await tokenFor('a', 'admin'));
    const agent = bearer(await tokenFor('a', 'agent'));
    const create = (payload: object, headers = admin) =>
      app.inject({ method: 'POST', url: '/v1/labels', headers, payload });

    const bad = await create({ name: 'VIP', color: 'red' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.issues[0].path).toBe('body.color');
    expect((await create({ name: '   ', color: '#ff0000' })).statusCode).toBe(400);
    expect((await create({ name: 'x'.repeat(51), color: '#ff0000' })).statusCode).toBe(400);
    expect((await create({ name: 'VIP', color: '#FF0000' }, agent)).statusCode).toBe(403);

    const created = await create({ name: '  VIP  ', color: '#FF0000' });
    expect(created.statusCode, created.body).toBe(201);
    const label = created.json();
    expect(label).toMatchObject({ name: 'VIP', color: '#ff0000', conversationCount: 0, contactCount: 0 });
    expect(await auditCount('label.created', label.id)).toBe(1);

    const taken = await create({ name: 'VIP', color: '#00ff00' });
    expect(taken.statusCode).toBe(409);
    expect(taken.json().error.code).toBe('conflict');

    const patched = await app.inject({
      method: 'PATCH',
      url: `/v1/labels/${label.id}`,
      headers: admin,
      payload: { name: 'Gold', color: '#D97706' },
    });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.json()).toMatchObject({ id: label.id, name: 'Gold', color: '#d97706' });
    expect(await auditCount('label.updated', label.id)).toBe(1);

    const list = await app.inject({ method: 'GET', url: '/v1/labels', headers: agent });
    expect(list.statusCode).toBe(200);
    expect(list.json().items.map((l: { name: string }) => l.name)).toContain('Gold');
    expect(list.json().palette.length).toBeGreaterThan(5);

    // Another tenant's label is not found.
    const other = await app.inject({
      method: 'PATCH',
      url: `/v1/labels/${label.id}`,
      headers: bearer(await tokenFor('b', 'admin')),
      payload: { color: '#000000' },
    });
    expect(other.statusCode).toBe(404);
  });

  it('applies in bulk in one transaction, filters the list, removes, audits and announces', async () => {
    const admin = bearer(await tokenFor('a', 'admin'));
    const agent = bearer(await tokenFor('a', 'agent'));
    const { tenantId } = seeded.a;
    await withTenant(db, tenantId, (tx) =>
      tx.webhookSubscription.create({
        data: {
          tenantId,
          url: 'https://a.example/labels',
          events: ['label.applied', 'label.removed'],
          secretRef: 's',
        },
      }),
    );
    const label = (
      await app.inject({
        method: 'POST',
        url: '/v1/labels',
        headers: admin,
        payload: { name: `Bulk ${suffix}`, color: '#2563eb' },
      })
    ).json();
    const ids = await conversations(3);

    // An id that is not the tenant's refuses the whole request: nothing is applied.
    const refused = await app.inject({
      method: 'POST',
      url: `/v1/labels/${label.id}/apply`,
      headers: agent,
      payload: { conversationIds: [...ids, seeded.b.conversationId] },
    });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().error.message).toContain(seeded.b.conversationId);
    const filtered = () =>
      app.inject({ method: 'GET', url: `/v1/conversations?label=${label.id}`, headers: agent });
    expect((await filtered()).json().items).toEqual([]);

    // Neither both target kinds nor none.
    expect(
      (
        await app.inject({
          method: 'POST',
          url: `/v1/labels/${label.id}/apply`,
          headers: agent,
          payload: {},
        })
      ).statusCode,
    ).toBe(400);

    const applied = await app.inject({
      method: 'POST',
      url: `/v1/labels/${label.id}/apply`,
      headers: agent,
      payload: { conversationIds: ids.slice(0, 2) },
    });
    expect(applied.statusCode, applied.body).toBe(200);
    expect(applied.json().changed.sort()).toEqual(ids.slice(0, 2).sort());
    // Applying again changes nothing and announces nothing.
    const again = await app.inject({
      method: 'POST',
      url: `/v1/labels/${label.id}/apply`,
      headers: agent,
      payload: { conversationIds: ids },
    });
    expect(again.json()).toEqual({ changed: [ids[2]], unchanged: expect.arrayContaining(ids.slice(0, 2)) });

    const page = (await filtered()).json();
    expect(page.items.map((c: { id: string }) => c.id).sort()).toEqual([...ids].sort());
    expect(page.items[0].labels).toEqual([{ id: label.id, name: label.name, color: '#2563eb' }]);
    // The unfiltered list carries the labels too; an unlabelled conversation has none.
    const one = await app.inject({
      method: 'GET',
      url: `/v1/conversations/${seeded.a.conversationId}`,
      headers: agent,
    });
    expect(one.json().labels).toEqual([]);
    expect(
      (await app.inject({ method: 'GET', url: '/v1/conversations?label=nope', headers: agent })).statusCode,
    ).toBe(400);

    // One conversation's labels, removed by path.
    const removed = await app.inject({
      method: 'DELETE',
      url: `/v1/conversations/${ids[0]}/labels/${label.id}`,
      headers: agent,
    });
    expect(removed.statusCode, removed.body).toBe(200);
    expect(removed.json()).toEqual({ items: [] });
    expect((await filtered()).json().items).toHaveLength(2);
    expect(await auditCount('label.applied', ids[0]!)).toBe(1);
    expect(await auditCount('label.removed', ids[0]!)).toBe(1);

    // Contacts: apply by path, list, and 404 for another tenant's contact.
    const contact = await app.inject({
      method: 'PUT',
      url: `/v1/contacts/${seeded.a.contactId}/labels/${label.id}`,
      headers: agent,
    });
    expect(contact.statusCode, contact.body).toBe(200);
    expect(contact.json().items.map((l: { id: string }) => l.id)).toEqual([label.id]);
    expect(
      (
        await app.inject({
          method: 'PUT',
          url: `/v1/contacts/${seeded.b.contactId}/labels/${label.id}`,
          headers: agent,
        })
      ).statusCode,
    ).toBe(404);

    // Every change is one delivery of the subscription: 3 applied + 1 removed + 1 contact applied.
    const deliveries = await withTenant(db, tenantId, (tx) =>
      tx.webhookDelivery.findMany({ where: { eventType: { in: ['label.applied', 'label.removed'] } } }),
    );
    const count = (type: string) => deliveries.filter((d) => d.eventType === type).length;
    expect(count('label.applied')).toBe(4);
    expect(count('label.removed')).toBe(1);
    expect(deliveries.find((d) => d.eventType === 'label.removed')?.payload).toMatchObject({
      type: 'label.removed',
      data: { labelId: label.id, targetType: 'conversation', targetId: ids[0] },
    });

    // Deleting the label removes it everywhere, announcing each removal.
    expect(
      (await app.inject({ method: 'DELETE', url: `/v1/labels/${label.id}`, headers: agent })).statusCode,
    ).toBe(403);
    const deleted = await app.inject({ method: 'DELETE', url: `/v1/labels/${label.id}`, headers: admin });
    expect(deleted.statusCode).toBe(204);
    expect(await auditCount('label.deleted', label.id)).toBe(1);
    const left = await withTenant(db, tenantId, async (tx) => ({
      conversations: await tx.conversationLabel.count({ where: { labelId: label.id } }),
      contacts: await tx.contactLabel.count({ where: { labelId: label.id } }),
      removed: await tx.webhookDelivery.count({ where: { eventType: 'label.removed' } }),
    }));
    expect(left).toEqual({ conversations: 0, contacts: 0, removed: 1 + 3 });
    expect((await filtered()).statusCode).toBe(200);
    expect((await filtered()).json().items).toEqual([]);
  });
});
