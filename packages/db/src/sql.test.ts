// tenantSql() and withTenantSql(): one round trip per unit of work, with row-level security as
// withTenant() gives it (the tenant bound inside the transaction, nothing carried over).
import { randomUUID } from 'node:crypto';
import { createTestDatabase } from '@switchboard/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from './client.ts';
import { DbBusyError, DbInputError } from './errors.ts';
import { Prisma } from './generated/prisma/client.ts';
import { tenantSql, withTenantSql } from './sql.ts';
import { type SeededTenant, seedTenant } from './test-fixtures.ts';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let owner: pg.Client;
let db: Db;
let a: SeededTenant;
let b: SeededTenant;

beforeAll(async () => {
  database = await createTestDatabase({ label: 'sql' });
  owner = new pg.Client({ connectionString: database.ownerUrl });
  await owner.connect();
  a = await seedTenant(owner, 'tenant-a');
  b = await seedTenant(owner, 'tenant-b');
  // One connection: a tenant setting that outlived its transaction would show in the next one.
  db = createDb({ databaseUrl: database.appUrl, maxConnections: 1, statementTimeoutMs: 1_000 });
});

afterAll(async () => {
  await db?.$disconnect();
  await owner?.end();
  await database?.drop();
});

const tenantIdsOf = (rows: { tenant_id: string }[]) => [...new Set(rows.map((r) => r.tenant_id))];

describe('tenantSql', () => {
  it("reads only the bound tenant's rows, and nothing of another tenant's by id", async () => {
    const rows = await tenantSql<{ tenant_id: string }>(
      db,
      a.tenantId,
      Prisma.sql`SELECT tenant_id::text FROM messages UNION ALL SELECT tenant_id::text FROM contacts`,
    );
    expect(rows.length).toBeGreaterThan(0);
    expect(tenantIdsOf(rows)).toEqual([a.tenantId]);
    const other = await tenantSql(
      db,
      a.tenantId,
      Prisma.sql`SELECT id FROM tenants WHERE id = ${b.tenantId}::uuid`,
    );
    expect(other).toEqual([]);
    const [bound] = await tenantSql<{ t: string }>(
      db,
      b.tenantId,
      Prisma.sql`SELECT current_setting('switchboard.tenant_id') AS t`,
    );
    expect(bound?.t).toBe(b.tenantId);
  });

  it('sees no row of another tenant in any table of the schema (walked from the catalog)', async () => {
    const { rows: tables } = await owner.query<{ name: string }>(
      `SELECT relname AS name FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p') ORDER BY 1`,
    );
    expect(tables.length).toBeGreaterThanOrEqual(19);
    for (const { name } of tables) {
      const column = name === 'tenants' ? 'id' : 'tenant_id';
      const [counts] = await tenantSql<{ own: number; others: number }>(db, a.tenantId, {
        text: `SELECT count(*) FILTER (WHERE ${column} = $1::uuid)::int AS own,
                      count(*) FILTER (WHERE ${column} <> $1::uuid)::int AS others
                 FROM "${name}"`,
        values: [a.tenantId],
      });
      expect({ table: name, others: counts?.others, hasOwn: (counts?.own ?? 0) > 0 }).toEqual({
        table: name,
        others: 0,
        hasOwn: true,
      });
    }
  });

  it('cannot write a row of another tenant', async () => {
    const error = await tenantSql(
      db,
      a.tenantId,
      Prisma.sql`INSERT INTO contacts (tenant_id, push_name) VALUES (${b.tenantId}::uuid, 'intruder')`,
    ).catch((e: unknown) => e as { code?: string });
    expect(error).toMatchObject({ code: '42501' });
    // Nor change one it cannot see: the UPDATE matches nothing.
    const updated = await tenantSql(
      db,
      a.tenantId,
      Prisma.sql`UPDATE contacts SET push_name = 'changed' WHERE tenant_id = ${b.tenantId}::uuid RETURNING id`,
    );
    expect(updated).toEqual([]);
  });

  it('binds the tenant of each unit on a reused connection, and only inside its transaction', async () => {
    // The pool has one connection: both units run on the same backend.
    const [first] = await tenantSql<{ pid: number; t: string }>(
      db,
      a.tenantId,
      Prisma.sql`SELECT pg_backend_pid() AS pid, current_setting('switchboard.tenant_id') AS t`,
    );
    const [second] = await tenantSql<{ pid: number; t: string; n: number }>(
      db,
      b.tenantId,
      Prisma.sql`SELECT pg_backend_pid() AS pid, current_setting('switchboard.tenant_id') AS t,
                        (SELECT count(*)::int FROM messages WHERE tenant_id = ${a.tenantId}::uuid) AS n`,
    );
    expect(second).toEqual({ pid: first?.pid, t: b.tenantId, n: 0 });
    expect(first?.t).toBe(a.tenantId);
  });

  it('keeps nothing of a statement that fails, and the connection serves the next one', async () => {
    const name = `rolled back ${randomUUID()}`;
    const error = await withTenantSql(db, a.tenantId, async (tx) => {
      await tx.query(
        Prisma.sql`INSERT INTO contacts (tenant_id, push_name) VALUES (${a.tenantId}::uuid, ${name})`,
      );
      return await tx.commitWith(Prisma.sql`SELECT 1 / 0`);
    }).catch((e: unknown) => e as { code?: string });
    expect(error).toMatchObject({ code: '22012' });
    const [count] = await tenantSql<{ n: number }>(
      db,
      a.tenantId,
      Prisma.sql`SELECT count(*)::int AS n FROM contacts WHERE push_name = ${name}`,
    );
    expect(count?.n).toBe(0);
  });

  it('rolls back when the callback throws', async () => {
    const name = `thrown ${randomUUID()}`;
    await expect(
      withTenantSql(db, a.tenantId, async (tx) => {
        await tx.query(
          Prisma.sql`INSERT INTO contacts (tenant_id, push_name) VALUES (${a.tenantId}::uuid, ${name})`,
        );
        throw new Error('no');
      }),
    ).rejects.toThrow('no');
    const [count] = await tenantSql<{ n: number }>(
      db,
      a.tenantId,
      Prisma.sql`SELECT count(*)::int AS n FROM contacts WHERE push_name = ${name}`,
    );
    expect(count?.n).toBe(0);
  });

  it('commits what a transaction wrote when the callback returns', async () => {
    const name = `kept ${randomUUID()}`;
    await withTenantSql(db, a.tenantId, async (tx) => {
      await tx.query(
        Prisma.sql`INSERT INTO contacts (tenant_id, push_name) VALUES (${a.tenantId}::uuid, ${name})`,
      );
    });
    const [count] = await tenantSql<{ n: number }>(
      db,
      a.tenantId,
      Prisma.sql`SELECT count(*)::int AS n FROM contacts WHERE push_name = ${name}`,
    );
    expect(count?.n).toBe(1);
  });

  it('fails a unit whose connection the server ends, and the next unit gets a new connection', async () => {
    const error = await withTenantSql(db, a.tenantId, async (tx) => {
      await tx.query(Prisma.sql`SELECT pg_terminate_backend(pg_backend_pid())`);
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    const [one] = await tenantSql<{ one: number }>(db, a.tenantId, Prisma.sql`SELECT 1 AS one`);
    expect(one?.one).toBe(1);
  });

  it('refuses a tenant id that is not a uuid before anything reaches the database', async () => {
    await expect(tenantSql(db, "x'); SELECT 1; --", Prisma.sql`SELECT 1`)).rejects.toBeInstanceOf(
      DbInputError,
    );
  });

  it('answers DbBusyError when a statement outlives the statement timeout', async () => {
    const error = await tenantSql(db, a.tenantId, Prisma.sql`SELECT pg_sleep(5)`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DbBusyError);
    expect((error as DbBusyError).reason).toBe('statement_timeout');
    const [one] = await tenantSql<{ one: number }>(db, a.tenantId, Prisma.sql`SELECT 1 AS one`);
    expect(one?.one).toBe(1);
  });
});
