import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { adminDatabaseUrl } from '@switchboard/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { DbInputError } from './errors.ts';
import { migrate, migrationsDir } from './migrate.ts';
import { dropTenantDatabase, provisionTenantDatabase, scramSha256Verifier } from './provision.ts';

// Roles are cluster-wide: every name here carries this file's random suffix, and
// afterAll drops them all.
const suffix = randomBytes(4).toString('hex');
const name = (what: string) => `sbt_prov_${what}_${suffix}`;
const superuserUrl = () => adminDatabaseUrl();

// The operator's platform admin is not a superuser: CREATEROLE and CREATEDB only.
const platformAdmin = name('admin');
const stranger = name('stranger');
const options = {
  database: name('db'),
  ownerRole: name('owner'),
  appRole: name('app'),
  passwords: { owner: randomBytes(12).toString('hex'), app: randomBytes(12).toString('hex') },
};
let adminUrl: string;
let appUrl: string;
const rolePassword = randomBytes(12).toString('hex');

async function asSuperuser<T>(fn: (client: pg.Client) => Promise<T>, database?: string): Promise<T> {
  const client = new pg.Client({ connectionString: database ? adminDatabaseUrl(database) : superuserUrl() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  await asSuperuser(async (c) => {
    await c.query(`CREATE ROLE ${platformAdmin} LOGIN CREATEROLE CREATEDB PASSWORD '${rolePassword}'`);
    await c.query(`CREATE ROLE ${stranger} LOGIN PASSWORD '${rolePassword}'`);
  });
  const url = new URL(superuserUrl());
  url.username = platformAdmin;
  url.password = rolePassword;
  adminUrl = url.toString();
});

afterAll(async () => {
  await dropTenantDatabase(superuserUrl(), {
    database: options.database,
    roles: [options.appRole, options.ownerRole, platformAdmin, stranger, name('bypass')],
  });
});

describe('provisionTenantDatabase', () => {
  it('creates the roles and a database closed to everyone else, with a CREATEROLE admin', async () => {
    const urls = await provisionTenantDatabase(adminUrl, options);
    appUrl = urls.appUrl;
    expect(new URL(urls.appUrl).username).toBe(options.appRole);
    expect(new URL(urls.ownerUrl).pathname).toBe(`/${options.database}`);

    const roles = await asSuperuser(async (c) => {
      const { rows } = await c.query(
        `SELECT rolname, rolsuper, rolbypassrls, rolinherit, rolcreatedb, rolcreaterole, rolcanlogin
           FROM pg_roles WHERE rolname = ANY($1) ORDER BY rolname`,
        [[options.appRole, options.ownerRole]],
      );
      return rows;
    });
    const attributes = {
      rolsuper: false,
      rolbypassrls: false,
      rolcreatedb: false,
      rolcreaterole: false,
      rolcanlogin: true,
    };
    expect(roles).toEqual([
      { rolname: options.appRole, ...attributes, rolinherit: false },
      { rolname: options.ownerRole, ...attributes, rolinherit: true },
    ]);

    const acl = await asSuperuser(async (c) => {
      const { rows } = await c.query<{ owner: string; publicSchemaAcl: string }>(
        `SELECT pg_get_userbyid(d.datdba) AS owner,
                (SELECT coalesce(nspacl::text, '') FROM pg_namespace WHERE nspname = 'public') AS "publicSchemaAcl"
           FROM pg_database d WHERE d.datname = current_database()`,
      );
      return rows[0]!;
    }, options.database);
    expect(acl.owner).toBe(options.ownerRole);
    // No "=U/..." entry: PUBLIC has no privilege on schema public.
    expect(acl.publicSchemaAcl).not.toMatch(/(^|[{,])=/);

    // The application role may connect; any other role may not.
    const app = new pg.Client({ connectionString: urls.appUrl });
    await app.connect();
    await app.end();
    const strangerUrl = new URL(urls.appUrl);
    strangerUrl.username = stranger;
    strangerUrl.password = rolePassword;
    const refused = new pg.Client({ connectionString: strangerUrl.toString() });
    await expect(refused.connect()).rejects.toThrow(/permission denied for database/);
  });

  it('is safe to run again, and the owner can migrate with the app role', async () => {
    const again = await provisionTenantDatabase(adminUrl, options);
    expect(
      await migrate({ databaseUrl: again.ownerUrl, direction: 'up', appRole: options.appRole }),
    ).toHaveLength(readdirSync(migrationsDir).filter((f) => f.endsWith('.sql')).length);
  });

  it('refuses an existing role that can bypass row-level security', async () => {
    const bypass = name('bypass');
    await asSuperuser((c) => c.query(`CREATE ROLE ${bypass} LOGIN BYPASSRLS`));
    await expect(provisionTenantDatabase(superuserUrl(), { ...options, appRole: bypass })).rejects.toThrow(
      `role must be an existing role without SUPERUSER or BYPASSRLS, got "${bypass}"`,
    );
  });

  it('never sends a role password to the server, only its SCRAM verifier, and the roles log in with it', async () => {
    const statements: string[] = [];
    const query = pg.Client.prototype.query;
    // Records every statement text the provisioning sends, then lets it run for real.
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string })?.text;
      if (text) statements.push(text);
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof query;
    const fresh = {
      database: name('scram_db'),
      ownerRole: name('scram_owner'),
      appRole: name('scram_app'),
      passwords: { owner: randomBytes(12).toString('hex'), app: randomBytes(12).toString('hex') },
    };
    onTestFinished(() =>
      dropTenantDatabase(superuserUrl(), {
        database: fresh.database,
        roles: [fresh.appRole, fresh.ownerRole],
      }),
    );
    let urls: Awaited<ReturnType<typeof provisionTenantDatabase>>;
    try {
      urls = await provisionTenantDatabase(adminUrl, fresh);
    } finally {
      pg.Client.prototype.query = query;
    }
    const roleStatements = statements.filter((text) => /\b(CREATE|ALTER) ROLE\b/.test(text));
    expect(roleStatements.length).toBeGreaterThanOrEqual(2);
    for (const text of statements) {
      expect(text).not.toContain(fresh.passwords.owner);
      expect(text).not.toContain(fresh.passwords.app);
    }
    expect(roleStatements.every((text) => text.includes("'SCRAM-SHA-256$4096:"))).toBe(true);
    for (const url of [urls.appUrl, urls.ownerUrl]) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      expect((await client.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one).toBe(1);
      await client.end();
    }
    // A wrong password is refused: the verifier is of this password, not a blank one.
    const wrong = new URL(urls.appUrl);
    wrong.password = 'not-the-password';
    const client = new pg.Client({ connectionString: wrong.toString() });
    await expect(client.connect()).rejects.toThrow(/password authentication failed/);
  });

  it('computes the verifier of RFC 7677 for a given salt', () => {
    // RFC 7677 section 3: user "user", password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==, 4096 rounds
    // give ServerSignature-making keys whose StoredKey/ServerKey are these.
    const verifier = scramSha256Verifier('pencil', Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'));
    expect(verifier).toBe(
      'SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=',
    );
  });

  it('rejects names that are not plain lower-case identifiers', async () => {
    for (const bad of [
      { database: 'Tenant' },
      { ownerRole: 'x"; DROP ROLE y; --' },
      { appRole: options.ownerRole },
    ]) {
      await expect(provisionTenantDatabase(adminUrl, { ...options, ...bad })).rejects.toBeInstanceOf(
        DbInputError,
      );
    }
  });
});

describe('dropTenantDatabase', () => {
  it('drops the database (with open connections) and its roles, and is a no-op the second time', async () => {
    // A service still connected as the application role.
    const holder = new pg.Client({ connectionString: appUrl });
    await holder.connect();
    holder.on('error', () => {}); // terminated by DROP DATABASE ... WITH (FORCE)
    const drop = { database: options.database, roles: [options.appRole, options.ownerRole] };
    await dropTenantDatabase(adminUrl, drop);
    await dropTenantDatabase(adminUrl, drop);
    const left = await asSuperuser(async (c) => {
      const { rows } = await c.query(
        `SELECT (SELECT count(*)::int FROM pg_database WHERE datname = $1) AS databases,
                (SELECT count(*)::int FROM pg_roles WHERE rolname = ANY($2)) AS roles`,
        [options.database, drop.roles],
      );
      return rows[0];
    });
    expect(left).toEqual({ databases: 0, roles: 0 });
    await holder.end().catch(() => {});
  });
});
