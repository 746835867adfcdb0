import { readdir } from 'node:fs/promises';
import { createTestDatabase } from '@switchboard/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DbInputError } from './errors.ts';
import { migrate, migrationsDir } from './migrate.ts';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let owner: pg.Client;
let all: string[];

beforeAll(async () => {
  // The fixture hands over a database already migrated up.
  database = await createTestDatabase({ label: 'migrate' });
  owner = new pg.Client({ connectionString: database.ownerUrl });
  await owner.connect();
  all = (await readdir(migrationsDir)).filter((f) => f.endsWith('.sql')).map((f) => f.replace(/\.sql$/, ''));
  all.sort();
});

afterAll(async () => {
  await owner?.end();
  await database?.drop();
});

const up = (extra: { count?: number; appRole?: string } = {}) =>
  migrate({ databaseUrl: database.ownerUrl, direction: 'up', appRole: database.appRole, ...extra });
const down = (count?: number) =>
  migrate({
    databaseUrl: database.ownerUrl,
    direction: 'down',
    appRole: database.appRole,
    ...(count ? { count } : {}),
  });

/** What the migrations may leave behind in the database, by kind. */
async function leftovers(): Promise<Record<string, string[]>> {
  const query = async (sql: string, params: unknown[] = []) =>
    (await owner.query<{ name: string }>(sql, params)).rows.map((r) => r.name).sort();
  return {
    relations: await query(
      `SELECT n.nspname || '.' || c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('public', 'switchboard') AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'i', 'I')`,
    ),
    types: await query(
      `SELECT t.typname AS name FROM pg_type t WHERE t.typnamespace IN ('public'::regnamespace, 'switchboard'::regnamespace)
          AND t.typtype IN ('e', 'c', 'd') AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.reltype = t.oid)`,
    ),
    functions: await query(
      `SELECT p.proname AS name FROM pg_proc p WHERE p.pronamespace IN ('public'::regnamespace, 'switchboard'::regnamespace)`,
    ),
    policies: await query('SELECT polname AS name FROM pg_policy'),
    appPrivilegesOnPublic: await query(
      `SELECT p AS name FROM unnest(ARRAY['USAGE', 'CREATE']) p WHERE has_schema_privilege($1, 'public', p)`,
      [database.appRole],
    ),
  };
}

async function applied(): Promise<string[]> {
  const { rows } = await owner.query<{ name: string }>(
    'SELECT name FROM switchboard.pgmigrations ORDER BY id',
  );
  return rows.map((r) => r.name);
}

describe('migrate', () => {
  it('ships migrations in order, each with an up and a down section', async () => {
    expect(all.length).toBeGreaterThanOrEqual(3);
    expect(await applied()).toEqual(all);
  });

  it('does nothing when everything is applied (safe to re-run)', async () => {
    expect(await up()).toEqual([]);
    expect(await applied()).toEqual(all);
  });

  it('rolls back to zero leaving nothing behind but the bookkeeping table, then applies again', async () => {
    expect(await down(Number.POSITIVE_INFINITY)).toEqual([...all].reverse());
    expect(await leftovers()).toEqual({
      relations: [
        'switchboard.pgmigrations',
        'switchboard.pgmigrations_id_seq',
        'switchboard.pgmigrations_pkey',
      ],
      types: [],
      functions: [],
      policies: [],
      appPrivilegesOnPublic: [],
    });
    expect(await applied()).toEqual([]);

    expect(await up()).toEqual(all);
    expect(await applied()).toEqual(all);
    expect((await leftovers()).policies?.length).toBeGreaterThanOrEqual(19);
  });

  it('rolls back one migration by default and re-applies it', async () => {
    const last = all.at(-1)!;
    expect(await down()).toEqual([last]);
    expect(await applied()).toEqual(all.slice(0, -1));
    expect(await up({ count: 1 })).toEqual([last]);
  });

  it('lets two concurrent runs through one at a time (advisory lock): each migration applies once', async () => {
    await down(Number.POSITIVE_INFINITY);
    const runs = await Promise.all([up(), up()]);
    expect(runs.flat().sort()).toEqual(all);
    expect(await applied()).toEqual(all);
  });

  it('refuses an application role that could get around row-level security, and changes nothing', async () => {
    await down(Number.POSITIVE_INFINITY);
    const ownerRole = new URL(database.ownerUrl).username;
    await expect(up({ appRole: ownerRole })).rejects.toThrow(/must not be, or inherit, the owner/);
    await expect(up({ appRole: 'no_such_role_here' })).rejects.toThrow(/does not exist/);
    // All pending migrations run in one transaction: the failure left nothing half-done.
    expect(await applied()).toEqual([]);
    expect((await leftovers()).relations).toEqual([
      'switchboard.pgmigrations',
      'switchboard.pgmigrations_id_seq',
      'switchboard.pgmigrations_pkey',
    ]);
    expect(await up()).toEqual(all);
  });

  it('rejects a malformed count or role name before connecting', async () => {
    await expect(up({ count: 0 })).rejects.toBeInstanceOf(DbInputError);
    await expect(up({ appRole: 'app; DROP TABLE x' })).rejects.toThrow(/appRole must be/);
  });
});
