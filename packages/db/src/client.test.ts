import { randomUUID } from 'node:crypto';
import { createTestDatabase } from '@switchboard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db, type TenantTx, tenantQuery, verifyRuntimeRole, withTenant } from './client.ts';
import { DbBusyError, DbInputError } from './errors.ts';
import { Prisma } from './generated/prisma/client.ts';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let db: Db;

interface Seeded {
  tenantId: string;
  sessionId: string;
  contactId: string;
  conversationId: string;
}

// Everything is created through Prisma as the application role, the way the API and
// workers will: the tenant row itself included (the app may create its own).
async function seed(slug: string): Promise<Seeded> {
  const tenantId = randomUUID();
  return withTenant(db, tenantId, async (tx) => {
    await tx.tenant.create({ data: { id: tenantId, slug, displayName: slug } });
    const session = await tx.session.create({ data: { tenantId, name: 'support', channel: 'cloud_api' } });
    const contact = await tx.contact.create({
      data: {
        tenantId,
        pushName: `${slug} contact`,
        identities: { create: { kind: 'pn', value: '351910000000' } },
      },
    });
    const conversation = await tx.conversation.create({
      data: { tenantId, sessionId: session.id, contactId: contact.id },
    });
    for (const body of ['one', 'two', 'three']) {
      await tx.message.create({
        data: {
          tenantId,
          sessionId: session.id,
          conversationId: conversation.id,
          direction: 'inbound',
          status: 'delivered',
          type: 'text',
          body: `${slug} ${body}`,
          providerMessageId: `${slug}-${body}`,
        },
      });
    }
    return { tenantId, sessionId: session.id, contactId: contact.id, conversationId: conversation.id };
  });
}

let a: Seeded;
let b: Seeded;

beforeAll(async () => {
  database = await createTestDatabase({ label: 'client' });
  // One connection, so every query below reuses the connection the previous one used:
  // a tenant setting that outlived its transaction would show.
  db = createDb({ databaseUrl: database.appUrl, maxConnections: 1, applicationName: 'switchboard-db-test' });
  a = await seed('acme');
  b = await seed('globex');
});

afterAll(async () => {
  await db?.$disconnect();
  await database?.drop();
});

describe('withTenant', () => {
  it("returns only the tenant's rows, through relations too", async () => {
    const seen = await withTenant(db, a.tenantId, (tx) =>
      tx.conversation.findMany({
        include: { contact: { include: { identities: true } }, messages: true, session: true },
      }),
    );
    expect(seen).toHaveLength(1);
    expect(seen[0]!.id).toBe(a.conversationId);
    expect(seen[0]!.messages.map((m) => m.body).sort()).toEqual(['acme one', 'acme three', 'acme two']);
    expect(seen[0]!.contact.identities).toHaveLength(1);
    expect(seen[0]!.session.channel).toBe('cloud_api');

    const counts = await withTenant(db, b.tenantId, async (tx) => ({
      tenants: await tx.tenant.findMany({ select: { slug: true } }),
      messages: await tx.message.count(),
      byA: await tx.message.count({ where: { tenantId: a.tenantId } }),
    }));
    expect(counts).toEqual({ tenants: [{ slug: 'globex' }], messages: 3, byA: 0 });
  });

  it('pages conversation history newest first on (created_at, id)', async () => {
    const page = (cursor?: { createdAt: Date; id: string }) =>
      withTenant(db, a.tenantId, (tx) =>
        tx.message.findMany({
          where: {
            conversationId: a.conversationId,
            ...(cursor
              ? {
                  OR: [
                    { createdAt: { lt: cursor.createdAt } },
                    { createdAt: cursor.createdAt, id: { lt: cursor.id } },
                  ],
                }
              : {}),
          },
          orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
          take: 2,
        }),
      );
    const first = await page();
    const second = await page(first.at(-1));
    expect([...first, ...second].map((m) => m.body)).toHaveLength(3);
    expect(new Set([...first, ...second].map((m) => m.id)).size).toBe(3);
  });

  it('sees nothing outside withTenant, and leaves no tenant on the pooled connection', async () => {
    await withTenant(db, a.tenantId, (tx) => tx.message.count());
    expect(await db.message.count()).toBe(0);
    const [setting] = await db.$queryRaw<{ tenant: string | null }[]>`
      SELECT current_setting('switchboard.tenant_id', true) AS tenant`;
    expect(setting?.tenant ?? '').toBe('');
  });

  it("refuses to write a row for another tenant, or to point at another tenant's row", async () => {
    await expect(
      withTenant(db, a.tenantId, (tx) =>
        tx.contact.create({ data: { tenantId: b.tenantId, pushName: 'intruder' } }),
      ),
    ).rejects.toThrow(/row-level security/);
    await expect(
      withTenant(db, a.tenantId, (tx) =>
        tx.conversation.create({
          data: { tenantId: a.tenantId, sessionId: b.sessionId, contactId: a.contactId },
        }),
      ),
    ).rejects.toThrow(/Foreign key constraint/i);
    // B's rows are invisible to A, so an update through A touches nothing.
    const updated = await withTenant(db, a.tenantId, (tx) =>
      tx.conversation.updateMany({ where: { id: b.conversationId }, data: { unreadCount: 99 } }),
    );
    expect(updated.count).toBe(0);
  });

  it('rolls back everything when the callback throws', async () => {
    const failing = withTenant(db, a.tenantId, async (tx: TenantTx) => {
      await tx.quickReply.create({
        data: { tenantId: a.tenantId, shortcut: '/bye', title: 'Bye', body: 'Bye!' },
      });
      throw new Error('boom');
    });
    await expect(failing).rejects.toThrow('boom');
    expect(await withTenant(db, a.tenantId, (tx) => tx.quickReply.count())).toBe(0);
  });

  it('increments the fencing epoch as a BigInt', async () => {
    const epochs = [];
    for (let i = 0; i < 2; i++) {
      const session = await withTenant(db, a.tenantId, (tx) =>
        tx.session.update({
          where: { id: a.sessionId },
          data: { epoch: { increment: 1 } },
          select: { epoch: true },
        }),
      );
      epochs.push(session.epoch);
    }
    expect(epochs).toEqual([1n, 2n]);
  });

  it('rejects a tenant id that is not a uuid, naming the value, without running the callback', async () => {
    let ran = false;
    const attempt = withTenant(db, 'acme', async () => {
      ran = true;
    });
    await expect(attempt).rejects.toBeInstanceOf(DbInputError);
    await expect(attempt).rejects.toThrow('tenantId must be a uuid, got "acme"');
    await expect(withTenant(db, '', async () => 1)).rejects.toThrow('got ""');
    expect(ran).toBe(false);
  });
});

describe('tenantQuery', () => {
  it("sees only the tenant's rows in its one statement, and leaves no tenant on the pooled connection", async () => {
    const count = (tenantId: string) =>
      tenantQuery<{ n: number; other: number }>(
        db,
        tenantId,
        Prisma.sql`SELECT count(*)::int AS n, count(*) FILTER (WHERE tenant_id <> ${tenantId}::uuid)::int AS other FROM messages`,
      );
    const [ofA] = await count(a.tenantId);
    const [ofB] = await count(b.tenantId);
    expect(ofA!.other).toBe(0);
    expect(ofB!.other).toBe(0);
    expect(ofA!.n).toBe(await withTenant(db, a.tenantId, (tx) => tx.message.count()));
    expect(ofA!.n + ofB!.n).toBeGreaterThan(0);
    expect(await db.message.count()).toBe(0);
  });

  it('rejects a tenant id that is not a uuid, naming the value, without running the statement', async () => {
    await expect(tenantQuery(db, 'acme', Prisma.sql`SELECT 1`)).rejects.toThrow(DbInputError);
    await expect(tenantQuery(db, 'acme', Prisma.sql`SELECT 1`)).rejects.toThrow('got "acme"');
  });
});

describe('verifyRuntimeRole', () => {
  it('accepts the application role', async () => {
    await expect(verifyRuntimeRole(db)).resolves.toBeUndefined();
  });

  it('refuses the owner (it could switch RLS off) and a superuser (RLS does not apply to it)', async () => {
    for (const databaseUrl of [database.ownerUrl, database.adminUrl]) {
      const wrong = createDb({ databaseUrl, maxConnections: 1 });
      try {
        await expect(verifyRuntimeRole(wrong)).rejects.toThrow(
          /databaseUrl must be a role without SUPERUSER or BYPASSRLS/,
        );
      } finally {
        await wrong.$disconnect();
      }
    }
  });
});

describe('pool limits', () => {
  it('cancels a statement past statementTimeoutMs and fails it with DbBusyError, in both kinds of transaction', async () => {
    const limited = createDb({ databaseUrl: database.appUrl, maxConnections: 1, statementTimeoutMs: 200 });
    try {
      for (const run of [
        () => tenantQuery(limited, a.tenantId, Prisma.sql`SELECT pg_sleep(30)`),
        () => withTenant(limited, a.tenantId, (tx) => tx.$queryRaw`SELECT pg_sleep(30)`),
      ]) {
        const error = await run().catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(DbBusyError);
        expect(error).toMatchObject({ code: 'database_busy', status: 503, reason: 'statement_timeout' });
      }
      // The connection is usable afterwards, and a quick statement is not affected.
      const rows = await tenantQuery<{ n: number }>(
        limited,
        a.tenantId,
        Prisma.sql`SELECT count(*)::int AS n FROM messages`,
      );
      expect(rows).toEqual([{ n: 3 }]);
    } finally {
      await limited.$disconnect();
    }
  });

  it('fails with DbBusyError after poolTimeoutMs while every connection is held, and serves again once one is free', async () => {
    const limited = createDb({ databaseUrl: database.appUrl, maxConnections: 1, poolTimeoutMs: 200 });
    try {
      let release!: () => void;
      let holding!: () => void;
      const held = new Promise<void>((resolve) => {
        holding = resolve;
      });
      // The pool's one connection, held by a transaction until the test releases it.
      const holder = withTenant(limited, a.tenantId, async (tx) => {
        await tx.$queryRaw`SELECT 1`;
        holding();
        await new Promise<void>((resolve) => {
          release = resolve;
        });
      });
      await held;
      for (const run of [
        () => tenantQuery(limited, a.tenantId, Prisma.sql`SELECT 1`),
        () => withTenant(limited, a.tenantId, (tx) => tx.$queryRaw`SELECT 1`),
      ]) {
        const error = await run().catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(DbBusyError);
        expect((error as DbBusyError).reason).toMatch(/^(pool|transaction)_timeout$/);
      }
      release();
      await holder;
      expect(await tenantQuery(limited, a.tenantId, Prisma.sql`SELECT 1 AS one`)).toEqual([{ one: 1 }]);
    } finally {
      await limited.$disconnect();
    }
  });
});
