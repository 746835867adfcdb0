import { withTenant } from '@switchboard/db';
import { describe, expect, it } from 'vitest';
import { app, bearer, db, seeded, setupApi, suffix, tokenFor } from '../testing/api-fixture.ts';

setupApi();

describe('conversations', () => {
  it('filters, assigns, resolves, reopens, marks read and pages history', async () => {
    const agent = await tokenFor('a', 'agent');
    const { conversationId, users } = seeded.a;
    const h = bearer(agent);
    const unassigned = await app.inject({
      method: 'GET',
      url: '/v1/conversations?assignee=unassigned',
      headers: h,
    });
    expect(unassigned.json().items.map((c: { id: string }) => c.id)).toContain(conversationId);
    await app.inject({
      method: 'POST',
      url: `/v1/conversations/${conversationId}/assign`,
      headers: h,
      payload: { assigneeId: users.agent.id },
    });
    const mine = await app.inject({ method: 'GET', url: '/v1/conversations?assignee=mine', headers: h });
    expect(mine.json().items.map((c: { id: string }) => c.id)).toEqual([conversationId]);
    const foreign = await app.inject({
      method: 'POST',
      url: `/v1/conversations/${conversationId}/assign`,
      headers: h,
      payload: { assigneeId: seeded.b.users.agent.id },
    });
    expect(foreign.statusCode).toBe(400);
    const resolved = await app.inject({
      method: 'POST',
      url: `/v1/conversations/${conversationId}/resolve`,
      headers: h,
    });
    expect(resolved.json().status).toBe('resolved');
    expect(
      (await app.inject({ method: 'GET', url: '/v1/conversations?status=open', headers: h })).json().items,
    ).toEqual([]);
    expect(
      (
        await app.inject({ method: 'POST', url: `/v1/conversations/${conversationId}/reopen`, headers: h })
      ).json().status,
    ).toBe('open');
    expect(
      (
        await app.inject({ method: 'POST', url: `/v1/conversations/${conversationId}/read`, headers: h })
      ).json().unreadCount,
    ).toBe(0);
    const search = await app.inject({ method: 'GET', url: '/v1/conversations?search=4915112', headers: h });
    expect(search.json().items.map((c: { id: string }) => c.id)).toEqual([conversationId]);
    const history = await app.inject({
      method: 'GET',
      url: `/v1/conversations/${conversationId}/messages`,
      headers: h,
    });
    expect(history.json().items.map((m: { id: string }) => m.id)).toEqual([seeded.a.messageId]);
  });
});

describe('conversation search pages', () => {
  it('follows the cursor through a search instead of repeating its first page', async () => {
    const h = bearer(await tokenFor('a', 'viewer'));
    const { tenantId, sessionId } = seeded.a;
    const ids = await withTenant(db, tenantId, async (tx) => {
      const out: string[] = [];
      for (let i = 0; i < 3; i++) {
        const contact = await tx.contact.create({ data: { tenantId, pushName: `Pager ${suffix} ${i}` } });
        const c = await tx.conversation.create({
          data: {
            tenantId,
            sessionId,
            contactId: contact.id,
            lastMessageAt: new Date(Date.now() - i * 1000),
          },
        });
        out.push(c.id);
      }
      return out;
    });
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let pageNo = 0; pageNo < 5; pageNo++) {
      const res: { items: { id: string }[]; nextCursor: string | null } = (
        await app.inject({
          method: 'GET',
          url: `/v1/conversations?search=${encodeURIComponent(`Pager ${suffix}`)}&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
          headers: h,
        })
      ).json();
      seen.push(...res.items.map((i) => i.id));
      cursor = res.nextCursor;
      if (!cursor) break;
    }
    expect(seen).toEqual(ids);
  });
});

describe('unassigning found by fuzzing', () => {
  it('assigneeId null unassigns the conversation and keeps it in the tenant', async () => {
    const h = bearer(await tokenFor('a', 'agent'));
    const url = `/v1/conversations/${seeded.a.conversationId}/assign`;
    const assigned = await app.inject({
      method: 'POST',
      url,
      headers: h,
      payload: { assigneeId: seeded.a.users.agent.id },
    });
    expect(assigned.statusCode, assigned.body).toBe(200);
    const unassigned = await app.inject({ method: 'POST', url, headers: h, payload: { assigneeId: null } });
    expect(unassigned.statusCode, unassigned.body).toBe(200);
    expect(unassigned.json().assigneeId).toBeNull();
    const row = await withTenant(db, seeded.a.tenantId, (tx) =>
      tx.conversation.findUnique({ where: { id: seeded.a.conversationId } }),
    );
    expect(row).toMatchObject({ tenantId: seeded.a.tenantId, assigneeId: null });
  });
});

describe('conversation list pages', () => {
  it('keeps conversations a microsecond apart on their own pages, with their contact and newest message', async () => {
    const h = bearer(await tokenFor('a', 'viewer'));
    const { tenantId } = seeded.a;
    const tag = `Micro ${suffix}`;
    // Three conversations within one millisecond, on a session of their own (so the unfiltered
    // list of that session holds exactly them): a cursor at millisecond precision would skip two.
    const { sessionId, ids, messageId } = await withTenant(db, tenantId, async (tx) => {
      const session = await tx.session.create({
        data: { tenantId, name: `micro-${suffix}`, channel: 'baileys' },
      });
      const out: string[] = [];
      for (let i = 0; i < 3; i++) {
        const contact = await tx.contact.create({ data: { tenantId, pushName: `${tag} ${i}` } });
        if (i === 0)
          await tx.contactIdentity.create({
            data: { tenantId, contactId: contact.id, kind: 'pn', value: '4930123456' },
          });
        const [row] = await tx.$queryRaw<{ id: string }[]>`
          INSERT INTO conversations (tenant_id, session_id, contact_id, last_message_at)
          VALUES (${tenantId}::uuid, ${session.id}::uuid, ${contact.id}::uuid,
                  '2020-01-01T00:00:00.123003Z'::timestamptz - ${i} * interval '1 microsecond')
          RETURNING id`;
        out.push(row!.id);
      }
      const older = { tenantId, sessionId: session.id, conversationId: out[0]!, type: 'text' as const };
      await tx.message.create({
        data: {
          ...older,
          direction: 'inbound',
          status: 'delivered',
          body: 'older',
          createdAt: new Date(1_000),
        },
      });
      const newest = await tx.message.create({
        data: {
          ...older,
          direction: 'outbound',
          status: 'read',
          body: 'x'.repeat(300),
          createdAt: new Date(2_000),
        },
      });
      return { sessionId: session.id, ids: out, messageId: newest.id };
    });
    const walk = async (query: string) => {
      const seen: { id: string; contact: unknown; lastMessage: unknown; lastMessageAt: string }[] = [];
      let cursor: string | null = null;
      for (let pageNo = 0; pageNo < 5; pageNo++) {
        const res = await app.inject({
          method: 'GET',
          url: `/v1/conversations?${query}&limit=1${cursor ? `&cursor=${cursor}` : ''}`,
          headers: h,
        });
        expect(res.statusCode, res.body).toBe(200);
        const body: { items: (typeof seen)[number][]; nextCursor: string | null } = res.json();
        seen.push(...body.items);
        cursor = body.nextCursor;
        if (!cursor) break;
      }
      return seen;
    };
    const bySession = await walk(`sessionId=${sessionId}`);
    expect(bySession.map((c) => c.id)).toEqual(ids);
    expect((await walk(`search=${encodeURIComponent(tag)}`)).map((c) => c.id)).toEqual(ids);
    expect(bySession[0]).toMatchObject({
      contact: { name: `${tag} 0`, phoneNumber: '4930123456', lid: null },
      lastMessage: { id: messageId, direction: 'outbound', status: 'read', body: 'x'.repeat(200) },
      lastMessageAt: '2020-01-01T00:00:00.123Z',
    });
    expect(bySession[1]!.lastMessage).toBeNull();
  });

  it('takes the search text literally: % and _ are not wildcards', async () => {
    const h = bearer(await tokenFor('a', 'viewer'));
    const { tenantId, sessionId } = seeded.a;
    const ids = await withTenant(db, tenantId, async (tx) => {
      const out: string[] = [];
      for (const name of [`Literal ${suffix} 100%`, `Literal ${suffix} 1000`, `Literal ${suffix}_x`]) {
        const contact = await tx.contact.create({ data: { tenantId, pushName: name } });
        out.push((await tx.conversation.create({ data: { tenantId, sessionId, contactId: contact.id } })).id);
      }
      return out;
    });
    const search = async (text: string) =>
      (
        await app.inject({
          method: 'GET',
          url: `/v1/conversations?search=${encodeURIComponent(text)}`,
          headers: h,
        })
      )
        .json()
        .items.map((c: { id: string }) => c.id);
    expect(await search(`${suffix} 100%`)).toEqual([ids[0]]);
    expect(await search(`literal ${suffix}_`)).toEqual([ids[2]]);
    expect(await search(`Literal ${suffix}`)).toHaveLength(3);
  });
});

describe('conversation list cursors', () => {
  it('refuses a cursor time Postgres would not take exactly with a 400', async () => {
    const h = bearer(await tokenFor('a', 'viewer'));
    for (const at of ['0000-01-01T00:00:00Z', '2020-01-01T00:00:00.1234567Z', '2020-01-01T00:00:00+01:00']) {
      const cursor = Buffer.from(JSON.stringify({ at, id: seeded.a.conversationId })).toString('base64url');
      const res = await app.inject({ method: 'GET', url: `/v1/conversations?cursor=${cursor}`, headers: h });
      expect(res.statusCode, `${at}: ${res.body}`).toBe(400);
      expect(res.json().error.code).toBe('invalid_cursor');
    }
    const millis = Buffer.from(
      JSON.stringify({ at: '2020-01-01T00:00:00.123Z', id: seeded.a.conversationId }),
    ).toString('base64url');
    const res = await app.inject({ method: 'GET', url: `/v1/conversations?cursor=${millis}`, headers: h });
    expect(res.statusCode, res.body).toBe(200);
  });
});
