import { randomBytes, randomUUID } from 'node:crypto';
import { createDb, Prisma, tenantQuery, withTenant } from '@switchboard/db';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../app.ts';
import {
  app,
  bearer,
  database,
  db,
  eventually,
  redis,
  SCRYPT,
  seeded,
  setupApi,
  slugA,
  suffix,
  tokenFor,
} from '../testing/api-fixture.ts';

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

describe('conversation search through its index', () => {
  const search = async (tenant: 'a' | 'b', text: string) => {
    const res = await app.inject({
      method: 'GET',
      url: `/v1/conversations?search=${encodeURIComponent(text)}`,
      headers: bearer(await tokenFor(tenant, 'viewer')),
    });
    expect(res.statusCode, res.body).toBe(200);
    return res.json().items.map((c: { id: string }) => c.id) as string[];
  };

  it('finds message text, names and identities case-insensitively, follows edits and deletes, and never crosses tenants', async () => {
    const tag = `idx${suffix}`;
    // The same texts in both tenants: each tenant finds only its own conversation.
    const made: Record<'a' | 'b', { conversationId: string; messageId: string; contactId: string }> =
      {} as never;
    for (const tenant of ['a', 'b'] as const) {
      const { tenantId, sessionId } = seeded[tenant];
      made[tenant] = await withTenant(db, tenantId, async (tx) => {
        const contact = await tx.contact.create({
          data: {
            tenantId,
            displayName: `Zoë ${tag} Display`,
            pushName: `push ${tag}`,
            identities: { create: { kind: 'pn', value: `49${tag}77` } },
          },
        });
        const conversation = await tx.conversation.create({
          data: { tenantId, sessionId, contactId: contact.id },
        });
        const message = await tx.message.create({
          data: {
            tenantId,
            sessionId,
            conversationId: conversation.id,
            direction: 'inbound',
            status: 'delivered',
            type: 'text',
            body: `Where is my ORDER ${tag}-A1?`,
          },
        });
        return { conversationId: conversation.id, messageId: message.id, contactId: contact.id };
      });
    }
    const { tenantId } = seeded.a;
    const a = made.a.conversationId;
    expect(await search('a', `order ${tag}-a1`)).toEqual([a]);
    expect(await search('a', `zoë ${tag} DISPLAY`)).toEqual([a]);
    expect(await search('a', `PUSH ${tag}`)).toEqual([a]);
    expect(await search('a', `+49${tag}7`)).toEqual([a]);
    expect(await search('b', `order ${tag}-a1`)).toEqual([made.b.conversationId]);
    expect(await search('a', `order ${tag}-b2`)).toEqual([]);

    // An edited message is found by its new text only, a renamed contact by its new name, a
    // deleted message and identity no more.
    await withTenant(db, tenantId, async (tx) => {
      await tx.message.update({ where: { id: made.a.messageId }, data: { body: `refund ${tag}` } });
      await tx.contact.update({ where: { id: made.a.contactId }, data: { displayName: `Renamed ${tag}` } });
    });
    expect(await search('a', `order ${tag}`)).toEqual([]);
    expect(await search('a', `refund ${tag}`)).toEqual([a]);
    expect(await search('a', `zoë ${tag}`)).toEqual([]);
    expect(await search('a', `renamed ${tag}`)).toEqual([a]);
    await withTenant(db, tenantId, async (tx) => {
      await tx.message.delete({ where: { id: made.a.messageId } });
      await tx.contactIdentity.deleteMany({ where: { contactId: made.a.contactId } });
    });
    expect(await search('a', `refund ${tag}`)).toEqual([]);
    expect(await search('a', `49${tag}`)).toEqual([]);
    expect(await search('b', `49${tag}`)).toEqual([made.b.conversationId]);

    // The function itself, as the application role: the bound tenant's ids only, none unbound.
    const ids = (tenant: string) =>
      tenantQuery<{ id: string }>(
        db,
        tenant,
        Prisma.sql`SELECT search_conversation_ids(${`%${tag}%`}, ${`%${tag}%`}) AS id`,
      );
    expect((await ids(seeded.b.tenantId)).map((r) => r.id)).toEqual([made.b.conversationId]);
    expect(await db.$queryRaw`SELECT search_conversation_ids(${`%${tag}%`}, ${`%${tag}%`}) AS id`).toEqual(
      [],
    );
  });

  it("looks the text up in the trigram index: the function's statement is planned with it", async () => {
    const owner = new pg.Client({ connectionString: database.ownerUrl });
    await owner.connect();
    try {
      await owner.query('BEGIN');
      await owner.query(`SELECT set_config('switchboard.tenant_id', $1, true)`, [seeded.a.tenantId]);
      // Entries of 50,000 messages of another tenant, so the planner weighs the index against a
      // table of some size (on a handful of rows any plan is as cheap).
      await owner.query(
        `INSERT INTO switchboard.search_entries (tenant_id, kind, source_id, conversation_id, text)
         SELECT $1, 'message', gen_random_uuid(), gen_random_uuid(), 'message number ' || n
           FROM generate_series(1, 50000) AS n`,
        [randomUUID()],
      );
      await owner.query('ANALYZE switchboard.search_entries');
      // The function as the API calls it (SECURITY DEFINER: it runs as the owner whoever calls
      // it), then the index scans this transaction made: the trigram index served it.
      const scans = async () =>
        (
          await owner.query<{ n: number }>(
            `SELECT pg_stat_get_xact_numscans('switchboard.search_entries_tenant_id_text_idx'::regclass)::int AS n`,
          )
        ).rows[0]!.n;
      expect(await scans()).toBe(0);
      await owner.query(`SELECT search_conversation_ids('%refund%', '%refund%')`);
      expect(await scans()).toBeGreaterThan(0);
    } finally {
      await owner.query('ROLLBACK');
      await owner.end();
    }
  });
});

describe('a busy database', () => {
  it('answers searches that cannot be served in time with 503 database_busy (422 search_too_broad when too short for the index) while other routes answer 200', async () => {
    const created = await app.inject({
      method: 'POST',
      url: '/v1/api-keys',
      headers: bearer(await tokenFor('a', 'admin')),
      payload: { name: `busy-${suffix}`, scopes: ['read'] },
    });
    expect(created.statusCode, created.body).toBe(201);
    const headers = { 'x-api-key': created.json().key as string };
    // An API of its own with a small pool: 3 connections, one search at a time, 300 ms to wait
    // for a turn, 1.5 s per statement.
    const limited = createDb({
      databaseUrl: database.appUrl,
      maxConnections: 3,
      statementTimeoutMs: 1_500,
      poolTimeoutMs: 300,
    });
    const busyApp = await buildApp({
      db: limited,
      redis,
      tenant: { slug: slugA, displayName: 'Tenant A' },
      jwtSigningKey: randomBytes(32).toString('hex'),
      scrypt: SCRYPT,
      rateLimitPerMinute: 100_000,
      inboxDir: null,
      search: { concurrency: 1, waitMs: 300 },
    });
    // The search index locked by a transaction of the owner: every search waits for it until
    // Postgres cancels the statement, so none finishes in time, whatever the machine's speed.
    const lock = new pg.Client({ connectionString: database.ownerUrl });
    await lock.connect();
    await lock.query('BEGIN');
    await lock.query('LOCK TABLE switchboard.search_entries IN ACCESS EXCLUSIVE MODE');
    const get = (url: string) => busyApp.inject({ method: 'GET', url, headers });
    try {
      const searches = Array.from({ length: 20 }, (_, i) => get(`/v1/conversations?search=busy${i}`));
      await eventually(
        'a search waiting for the lock',
        async () =>
          (
            await lock.query<{ n: number }>(
              `SELECT count(*)::int AS n FROM pg_locks
                WHERE NOT granted AND relation = 'switchboard.search_entries'::regclass`,
            )
          ).rows[0]!.n > 0,
        10_000,
      );
      // A search holds its connection, waiting; the others routes still find one.
      const sessions = await get('/v1/sessions');
      expect(sessions.statusCode, sessions.body).toBe(200);
      const list = await get('/v1/conversations?limit=5');
      expect(list.statusCode, list.body).toBe(200);
      const answers = await Promise.all(searches);
      for (const answer of answers) {
        expect(answer.statusCode, answer.body).toBe(503);
        expect(answer.json().error.code).toBe('database_busy');
        expect(answer.headers['retry-after']).toBe('1');
      }
      const short = await get('/v1/conversations?search=zq');
      expect(short.statusCode, short.body).toBe(422);
      expect(short.json().error.code).toBe('search_too_broad');
    } finally {
      await lock.query('ROLLBACK');
      await lock.end();
    }
    try {
      const after = await get('/v1/conversations?search=busy');
      expect(after.statusCode, after.body).toBe(200);
    } finally {
      await busyApp.close();
      await limited.$disconnect();
    }
  });
});

describe('message history pages', () => {
  /** Every message of `conversationId` through pages of one, newest first. */
  const walkMessages = async (conversationId: string) => {
    const h = bearer(await tokenFor('a', 'viewer'));
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let pageNo = 0; pageNo < 6; pageNo++) {
      const res = await app.inject({
        method: 'GET',
        url: `/v1/conversations/${conversationId}/messages?limit=1${cursor ? `&cursor=${cursor}` : ''}`,
        headers: h,
      });
      expect(res.statusCode, res.body).toBe(200);
      const body: { items: { id: string }[]; nextCursor: string | null } = res.json();
      seen.push(...body.items.map((m) => m.id));
      cursor = body.nextCursor;
      if (!cursor) break;
    }
    return seen;
  };

  /** A conversation of its own with messages at `times` (written as given, microseconds kept). */
  const conversationWith = (times: string[]) =>
    withTenant(db, seeded.a.tenantId, async (tx) => {
      const tenantId = seeded.a.tenantId;
      const contact = await tx.contact.create({ data: { tenantId, pushName: `History ${suffix}` } });
      const conversation = await tx.conversation.create({
        data: { tenantId, sessionId: seeded.a.sessionId, contactId: contact.id },
      });
      const ids: string[] = [];
      for (const at of times) {
        const [row] = await tx.$queryRaw<{ id: string }[]>`
          INSERT INTO messages (tenant_id, session_id, conversation_id, direction, status, type, body, created_at)
          VALUES (${tenantId}::uuid, ${seeded.a.sessionId}::uuid, ${conversation.id}::uuid,
                  'inbound', 'delivered', 'text', ${at}, ${at}::timestamptz)
          RETURNING id`;
        ids.push(row!.id);
      }
      return { conversationId: conversation.id, ids };
    });

  it('keeps messages a microsecond apart (one inbound batch) on their own pages', async () => {
    // A batch writes its messages one microsecond apart: a cursor cut to the millisecond would
    // skip every message of the batch after a page's last one.
    const { conversationId, ids } = await conversationWith([
      '2021-03-04T05:06:07.123003Z',
      '2021-03-04T05:06:07.123002Z',
      '2021-03-04T05:06:07.123001Z',
    ]);
    expect(await walkMessages(conversationId)).toEqual(ids);
  });

  it("continues after the cursor's millisecond when the cursor's message was erased between pages", async () => {
    const { conversationId, ids } = await conversationWith([
      '2021-03-04T05:06:07.130000Z',
      '2021-03-04T05:06:07.120000Z',
      '2021-03-04T05:06:07.110000Z',
    ]);
    const h = bearer(await tokenFor('a', 'viewer'));
    const first = await app.inject({
      method: 'GET',
      url: `/v1/conversations/${conversationId}/messages?limit=1`,
      headers: h,
    });
    expect(first.json().items.map((m: { id: string }) => m.id)).toEqual([ids[0]]);
    await withTenant(db, seeded.a.tenantId, (tx) => tx.message.delete({ where: { id: ids[0]! } }));
    const next = await app.inject({
      method: 'GET',
      url: `/v1/conversations/${conversationId}/messages?limit=5&cursor=${first.json().nextCursor}`,
      headers: h,
    });
    expect(next.statusCode).toBe(200);
    expect(next.json().items.map((m: { id: string }) => m.id)).toEqual(ids.slice(1));
  });
});
