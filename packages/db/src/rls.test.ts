// Row-level security, checked table by table from the catalog: a table added without
// tenant_id, without forced RLS, without a policy or without seed rows fails here.
import { randomUUID } from 'node:crypto';
import { createTestDatabase } from '@switchboard/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SeededTenant, seedTenant } from './test-fixtures.ts';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let owner: pg.Client;
let app: pg.Client;
let a: SeededTenant;
let b: SeededTenant;
let tables: string[];

beforeAll(async () => {
  database = await createTestDatabase({ label: 'rls' });
  owner = new pg.Client({ connectionString: database.ownerUrl });
  app = new pg.Client({ connectionString: database.appUrl });
  await Promise.all([owner.connect(), app.connect()]);
  a = await seedTenant(owner, 'tenant-a');
  b = await seedTenant(owner, 'tenant-b');
  const { rows } = await owner.query<{ name: string }>(
    `SELECT relname AS name FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p') ORDER BY 1`,
  );
  tables = rows.map((r) => r.name);
});

afterAll(async () => {
  await Promise.allSettled([owner?.end(), app?.end()]);
  await database?.drop();
});

// The column that says which tenant a row belongs to.
const tenantColumn = (table: string) => (table === 'tenants' ? 'id' : 'tenant_id');

/** Runs fn as the application role in a transaction with the tenant set (or not), then rolls back. */
async function asApp<T>(tenantId: string | null, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  await app.query('BEGIN');
  try {
    if (tenantId !== null)
      await app.query(`SELECT set_config('switchboard.tenant_id', $1, true)`, [tenantId]);
    return await fn(app);
  } finally {
    await app.query('ROLLBACK');
  }
}

async function errorOf(promise: Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { code?: string; message: string };
  }
  throw new Error('expected the statement to fail');
}

describe('the catalog', () => {
  it('finds every table of the schema, not just a hand-written list', () => {
    expect(tables.length).toBeGreaterThanOrEqual(19);
    expect(tables).toContain('audit_log');
  });

  it('gives every table a tenant column, forced RLS and a policy on the tenant setting', async () => {
    const { rows } = await owner.query<{
      name: string;
      rls: boolean;
      forced: boolean;
      tenant_column: boolean;
      policies: string[];
    }>(
      `SELECT c.relname AS name, c.relrowsecurity AS rls, c.relforcerowsecurity AS forced,
              EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id'
                        AND a.atttypid = 'uuid'::regtype AND a.attnotnull) AS tenant_column,
              ARRAY(SELECT coalesce(pg_get_expr(p.polqual, p.polrelid), '') || ' / ' || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '')
                      FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
         FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') ORDER BY 1`,
    );
    for (const row of rows) {
      expect({ table: row.name, rls: row.rls, forced: row.forced }).toEqual({
        table: row.name,
        rls: true,
        forced: true,
      });
      if (row.name !== 'tenants')
        expect({ table: row.name, tenant_id: row.tenant_column }).toEqual({
          table: row.name,
          tenant_id: true,
        });
      expect(row.policies, row.name).toHaveLength(1);
      expect(row.policies[0], row.name).toContain(
        `${tenantColumn(row.name)} = (NULLIF(current_setting('switchboard.tenant_id'`,
      );
      // Both USING and WITH CHECK.
      expect(row.policies[0]!.split('switchboard.tenant_id'), row.name).toHaveLength(3);
    }
  });

  it('has seed rows for both tenants in every table', async () => {
    for (const table of tables) {
      const { rows } = await owner.query<{ tenant: string }>(
        `SELECT DISTINCT ${tenantColumn(table)}::text AS tenant FROM ${owner.escapeIdentifier(table)}`,
      );
      // The owner is subject to forced RLS as well: with no tenant set it sees nothing.
      expect(rows, `${table} as owner without a tenant`).toEqual([]);
      for (const tenant of [a, b]) {
        const seen = await ownerCount(table, tenant.tenantId);
        expect(
          seen,
          `${table} has no seed rows for ${tenant.slug}: add them in test-fixtures.ts`,
        ).toBeGreaterThan(0);
      }
    }
  });
});

async function ownerCount(table: string, tenantId: string): Promise<number> {
  await owner.query('BEGIN');
  try {
    await owner.query(`SELECT set_config('switchboard.tenant_id', $1, true)`, [tenantId]);
    const { rows } = await owner.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${owner.escapeIdentifier(table)}`,
    );
    return rows[0]!.n;
  } finally {
    await owner.query('ROLLBACK');
  }
}

describe('the application role', () => {
  it('is not superuser, cannot bypass RLS, owns nothing and is not a member of the owner', async () => {
    const { rows } = await owner.query(
      `SELECT r.rolsuper, r.rolbypassrls,
              pg_has_role(r.rolname, current_user, 'MEMBER') AS member_of_owner,
              (SELECT count(*)::int FROM pg_class c WHERE c.relowner = r.oid) AS owned,
              (SELECT count(*)::int FROM pg_database d WHERE d.datdba = r.oid) AS owned_databases
         FROM pg_roles r WHERE r.rolname = $1`,
      [database.appRole],
    );
    expect(rows).toEqual([
      { rolsuper: false, rolbypassrls: false, member_of_owner: false, owned: 0, owned_databases: 0 },
    ]);
  });

  it('has DML on the tables and nothing on the migration bookkeeping', async () => {
    const { rows } = await owner.query<{ table: string; privileges: string }>(
      `SELECT c.relname AS table,
              concat_ws(',', CASE WHEN has_table_privilege($1, c.oid, 'SELECT') THEN 'SELECT' END,
                             CASE WHEN has_table_privilege($1, c.oid, 'INSERT') THEN 'INSERT' END,
                             CASE WHEN has_table_privilege($1, c.oid, 'UPDATE') THEN 'UPDATE' END,
                             CASE WHEN has_table_privilege($1, c.oid, 'DELETE') THEN 'DELETE' END,
                             CASE WHEN has_table_privilege($1, c.oid, 'TRUNCATE') THEN 'TRUNCATE' END,
                             CASE WHEN has_table_privilege($1, c.oid, 'REFERENCES') THEN 'REFERENCES' END,
                             CASE WHEN has_table_privilege($1, c.oid, 'TRIGGER') THEN 'TRIGGER' END) AS privileges
         FROM pg_class c WHERE c.relnamespace IN ('public'::regnamespace, 'switchboard'::regnamespace) AND c.relkind = 'r'`,
      [database.appRole],
    );
    const byTable = Object.fromEntries(rows.map((r) => [r.table, r.privileges]));
    expect(byTable.tenants).toBe('SELECT,INSERT,UPDATE');
    expect(byTable.audit_log).toBe('SELECT,INSERT');
    expect(byTable.pgmigrations).toBe('');
    for (const table of tables.filter((t) => t !== 'tenants' && t !== 'audit_log')) {
      expect(byTable[table], table).toBe('SELECT,INSERT,UPDATE,DELETE');
    }
  });
});

describe('as the application role', () => {
  it('sees no row of any table while no tenant is set', async () => {
    for (const table of tables) {
      const n = await asApp(null, async (c) => {
        const { rows } = await c.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM ${c.escapeIdentifier(table)}`,
        );
        return rows[0]!.n;
      });
      expect(n, table).toBe(0);
    }
  });

  it('sees no row while the tenant setting is empty (no cast error either)', async () => {
    const n = await asApp('', async (c) => {
      const { rows } = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM messages');
      return rows[0]!.n;
    });
    expect(n).toBe(0);
  });

  it('with tenant A set, sees its own rows and never one of tenant B', async () => {
    for (const table of tables) {
      const counts = await asApp(a.tenantId, async (c) => {
        const column = c.escapeIdentifier(tenantColumn(table));
        const { rows } = await c.query<{ own: number; other: number }>(
          `SELECT count(*) FILTER (WHERE ${column} = $1)::int AS own, count(*) FILTER (WHERE ${column} <> $1)::int AS other
             FROM ${c.escapeIdentifier(table)}`,
          [a.tenantId],
        );
        return rows[0]!;
      });
      expect({ table, ...counts }).toEqual({ table, own: counts.own, other: 0 });
      expect(counts.own, table).toBeGreaterThan(0);
    }
  });

  it("with tenant A set, cannot insert a row carrying tenant B's id into any table", async () => {
    for (const table of tables) {
      const column = tenantColumn(table);
      // One of B's rows, read by the owner as B, with a fresh id so only the tenant is wrong.
      await owner.query('BEGIN');
      await owner.query(`SELECT set_config('switchboard.tenant_id', $1, true)`, [b.tenantId]);
      const { rows } = await owner.query<{ row: Record<string, unknown> }>(
        `SELECT to_jsonb(t) AS row FROM ${owner.escapeIdentifier(table)} t LIMIT 1`,
      );
      await owner.query('ROLLBACK');
      const row: Record<string, unknown> = {
        ...rows[0]!.row,
        ...(column === 'id' ? {} : { id: randomUUID() }),
      };
      expect(row[column], table).toBe(b.tenantId);

      const error = await asApp(a.tenantId, (c) =>
        errorOf(
          c.query(
            `INSERT INTO ${c.escapeIdentifier(table)} SELECT * FROM jsonb_populate_record(NULL::${c.escapeIdentifier(table)}, $1)`,
            [row],
          ),
        ),
      );
      expect({ table, code: error.code }).toEqual({ table, code: '42501' });
      expect(error.message, table).toMatch(/row-level security/);
    }
  });

  it("with tenant A set, cannot move its rows to tenant B, nor touch B's rows", async () => {
    for (const table of tables.filter((t) => t !== 'tenants' && t !== 'audit_log')) {
      const moved = await asApp(a.tenantId, (c) =>
        errorOf(c.query(`UPDATE ${c.escapeIdentifier(table)} SET tenant_id = $1`, [b.tenantId])),
      );
      expect({ table, code: moved.code }).toEqual({ table, code: '42501' });
      const touched = await asApp(a.tenantId, async (c) => {
        const updated = await c.query(
          `UPDATE ${c.escapeIdentifier(table)} SET tenant_id = tenant_id WHERE tenant_id = $1`,
          [b.tenantId],
        );
        const deleted = await c.query(`DELETE FROM ${c.escapeIdentifier(table)} WHERE tenant_id = $1`, [
          b.tenantId,
        ]);
        return [updated.rowCount, deleted.rowCount];
      });
      expect({ table, touched }).toEqual({ table, touched: [0, 0] });
    }
  });

  it('sees exactly its own tenant row and cannot delete it', async () => {
    const rows = await asApp(a.tenantId, async (c) => (await c.query('SELECT id FROM tenants')).rows);
    expect(rows).toEqual([{ id: a.tenantId }]);
    const error = await asApp(a.tenantId, (c) => errorOf(c.query('DELETE FROM tenants')));
    expect(error.code).toBe('42501');
  });

  it("cannot point a row at another tenant's row (composite foreign keys)", async () => {
    const error = await asApp(a.tenantId, (c) =>
      errorOf(
        c.query(`INSERT INTO conversations (tenant_id, session_id, contact_id) VALUES ($1, $2, $3)`, [
          a.tenantId,
          b.sessionId,
          a.contactId,
        ]),
      ),
    );
    expect(error.code).toBe('23503'); // foreign_key_violation
  });
});

describe('the audit log', () => {
  it('refuses UPDATE and DELETE from the application (no privilege)', async () => {
    for (const sql of ["UPDATE audit_log SET action = 'x'", 'DELETE FROM audit_log']) {
      const error = await asApp(a.tenantId, (c) => errorOf(c.query(sql)));
      expect({ sql, code: error.code }).toEqual({ sql, code: '42501' });
    }
  });

  it('refuses UPDATE, DELETE and TRUNCATE from the owner too (trigger)', async () => {
    for (const sql of ["UPDATE audit_log SET action = 'x'", 'DELETE FROM audit_log', 'TRUNCATE audit_log']) {
      await owner.query('BEGIN');
      await owner.query(`SELECT set_config('switchboard.tenant_id', $1, true)`, [a.tenantId]);
      const error = await errorOf(owner.query(sql));
      await owner.query('ROLLBACK');
      expect({ sql, message: error.message }).toEqual({ sql, message: expect.stringMatching(/append-only/) });
    }
  });

  it('accepts inserts from the application', async () => {
    const inserted = await asApp(a.tenantId, async (c) => {
      const result = await c.query(
        `INSERT INTO audit_log (tenant_id, actor_type, action) VALUES ($1, 'system', 'test')`,
        [a.tenantId],
      );
      return result.rowCount;
    });
    expect(inserted).toBe(1);
  });
});
