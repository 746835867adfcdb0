import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import pg from 'pg';
import { assertRoleName, DbInputError } from './errors.ts';

/** Options for provisionTenantDatabase(). */
export interface ProvisionTenantDatabaseOptions {
  /** Database to create (lower-case identifier; cluster-unique). */
  database: string;
  /** Role that owns the database and runs migrations (created LOGIN NOSUPERUSER NOBYPASSRLS). */
  ownerRole: string;
  /** Role the application connects as (created LOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT, owns nothing). */
  appRole: string;
  /** Login passwords of the two roles; an existing role gets its password reset to this. */
  passwords: { owner: string; app: string };
}

/** Connection strings for a provisioned database, on the admin URL's host and port. */
export interface TenantDatabaseUrls {
  /** As the owner: for migrations. */
  ownerUrl: string;
  /** As the application role: for the API and workers. */
  appUrl: string;
}

/**
 * Creates the owner and application roles and the database (each only if missing), and
 * closes the database to everyone else: CONNECT and TEMPORARY are revoked from PUBLIC
 * and schema public belongs to the owner with nothing granted to PUBLIC. Grants on
 * tables come later, from the migrations. adminUrl needs CREATEROLE and CREATEDB (or
 * superuser) on the cluster; it is what the operator holds for the platform Postgres.
 */
export async function provisionTenantDatabase(
  adminUrl: string,
  options: ProvisionTenantDatabaseOptions,
): Promise<TenantDatabaseUrls> {
  const { database, ownerRole, appRole, passwords } = options;
  assertRoleName('database', database);
  assertRoleName('ownerRole', ownerRole);
  assertRoleName('appRole', appRole);
  if (ownerRole === appRole) throw new DbInputError('appRole', 'a role other than ownerRole', appRole);
  for (const [name, value] of Object.entries(passwords)) {
    if (typeof value !== 'string' || value.length === 0) {
      throw new DbInputError(`passwords.${name}`, 'a non-empty string', typeof value);
    }
  }

  const admin = new pg.Client({ connectionString: adminUrl, application_name: 'switchboard-provision' });
  await admin.connect();
  try {
    await ensureRole(admin, ownerRole, passwords.owner, 'LOGIN NOCREATEDB NOCREATEROLE');
    // NOINHERIT as well: even if someone later grants it a role, it does not silently
    // pick up that role's privileges.
    await ensureRole(admin, appRole, passwords.app, 'LOGIN NOCREATEDB NOCREATEROLE NOINHERIT');

    await assumeRoles(admin, [ownerRole, appRole]);

    const db = admin.escapeIdentifier(database);
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (exists.rowCount === 0) {
      await admin
        .query(`CREATE DATABASE ${db} OWNER ${admin.escapeIdentifier(ownerRole)} ENCODING 'UTF8'`)
        .catch((error: { code?: string }) => {
          // 42P04 duplicate_database: a concurrent run created it first.
          if (error.code !== '42P04') throw error;
        });
    }
    await admin.query(`REVOKE CONNECT, TEMPORARY ON DATABASE ${db} FROM PUBLIC`);
    await admin.query(`GRANT CONNECT ON DATABASE ${db} TO ${admin.escapeIdentifier(appRole)}`);
  } finally {
    await admin.end();
  }

  const urls = {
    ownerUrl: withCredentials(adminUrl, database, ownerRole, passwords.owner),
    appUrl: withCredentials(adminUrl, database, appRole, passwords.app),
  };

  // Inside the new database, schema public must belong to the owner (it does on Postgres
  // 15+, through pg_database_owner; before that only a superuser can hand it over) and
  // PUBLIC keeps no privilege on it. The owner does the revoking, so on current versions
  // an admin with CREATEROLE and CREATEDB is enough.
  const owner = new pg.Client({ connectionString: urls.ownerUrl, application_name: 'switchboard-provision' });
  await owner.connect();
  try {
    const { rows } = await owner.query<{ owner: string }>(
      `SELECT pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname = 'public'`,
    );
    const schemaOwner = rows[0]?.owner;
    if (schemaOwner !== 'pg_database_owner' && schemaOwner !== ownerRole) {
      const inDb = new pg.Client({ connectionString: withDatabase(adminUrl, database) });
      await inDb.connect();
      try {
        await inDb.query(`ALTER SCHEMA public OWNER TO ${inDb.escapeIdentifier(ownerRole)}`);
      } finally {
        await inDb.end();
      }
    }
    await owner.query('REVOKE ALL ON SCHEMA public FROM PUBLIC');
  } finally {
    await owner.end();
  }

  return urls;
}

/** Options for dropTenantDatabase(). */
export interface DropTenantDatabaseOptions {
  /** Database to drop; connections to it are terminated. */
  database: string;
  /** Roles to drop afterwards (each only if it exists). */
  roles: string[];
}

/** Drops a tenant database (terminating its connections) and then its roles; a no-op for what is already gone. */
export async function dropTenantDatabase(
  adminUrl: string,
  options: DropTenantDatabaseOptions,
): Promise<void> {
  assertRoleName('database', options.database);
  for (const role of options.roles) assertRoleName('roles[]', role);
  const admin = new pg.Client({ connectionString: adminUrl, application_name: 'switchboard-provision' });
  await admin.connect();
  try {
    await assumeRoles(admin, options.roles);
    await admin.query(`DROP DATABASE IF EXISTS ${admin.escapeIdentifier(options.database)} WITH (FORCE)`);
    for (const role of options.roles) {
      await admin.query(`DROP ROLE IF EXISTS ${admin.escapeIdentifier(role)}`);
    }
  } finally {
    await admin.end();
  }
}

// Creates the role NOSUPERUSER NOBYPASSRLS with the given attributes, or, when it
// exists (perhaps created concurrently), sets the attributes and password and checks
// that it cannot bypass row-level security: only a superuser may change SUPERUSER or
// BYPASSRLS, so an existing role is verified rather than altered there.
async function ensureRole(
  admin: pg.Client,
  role: string,
  password: string,
  attributes: string,
): Promise<void> {
  const name = admin.escapeIdentifier(role);
  // The server gets the SCRAM verifier, never the password: a statement's text can reach
  // the server's log (log_statement, or an error's STATEMENT line).
  const secret = admin.escapeLiteral(scramSha256Verifier(password));
  try {
    await admin.query(`CREATE ROLE ${name} NOSUPERUSER NOBYPASSRLS ${attributes} PASSWORD ${secret}`);
    return;
  } catch (error) {
    // 42710 duplicate_object: the role exists.
    if ((error as { code?: string }).code !== '42710') throw scrub(error, password);
  }
  await admin.query(`ALTER ROLE ${name} ${attributes} PASSWORD ${secret}`).catch((error: unknown) => {
    throw scrub(error, password);
  });
  const { rows } = await admin.query<{ unsafe: boolean }>(
    'SELECT rolsuper OR rolbypassrls AS unsafe FROM pg_roles WHERE rolname = $1',
    [role],
  );
  if (rows[0]?.unsafe)
    throw new DbInputError('role', 'an existing role without SUPERUSER or BYPASSRLS', role);
}

const SCRAM_ITERATIONS = 4096;

/**
 * The SCRAM-SHA-256 verifier Postgres stores for a password (RFC 5802 / RFC 7677, in the
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` form of pg_authid), which
 * CREATE/ALTER ROLE ... PASSWORD accepts as is. The password is used as UTF-8 without
 * SASLprep, as node-postgres does when it logs in, so the two always agree.
 */
export function scramSha256Verifier(password: string, salt: Buffer = randomBytes(16)): string {
  const salted = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, SCRAM_ITERATIONS, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${SCRAM_ITERATIONS}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

// Postgres 16+ gives a CREATEROLE admin the ADMIN option on the roles it creates, but
// neither SET ROLE (which CREATE DATABASE ... OWNER needs) nor their privileges (which
// DROP DATABASE ... WITH (FORCE) needs to end their connections). The admin grants them
// to itself; it could reset those roles' passwords anyway, so this adds no power.
async function assumeRoles(admin: pg.Client, roles: string[]): Promise<void> {
  const { rows } = await admin.query<{ role: string }>(
    `SELECT r.rolname AS role
       FROM pg_roles r, pg_roles me
      WHERE me.rolname = current_user AND NOT me.rolsuper
        AND current_setting('server_version_num')::int >= 160000
        AND r.rolname = ANY($1)
        AND NOT (pg_has_role(current_user, r.oid, 'SET') AND pg_has_role(current_user, r.oid, 'USAGE'))`,
    [roles],
  );
  for (const { role } of rows) {
    await admin.query(`GRANT ${admin.escapeIdentifier(role)} TO CURRENT_USER WITH INHERIT TRUE, SET TRUE`);
  }
}

// Postgres echoes statement text in some errors; never let a password reach a log.
function scrub(error: unknown, password: string): unknown {
  if (error instanceof Error && error.message.includes(password)) {
    error.message = error.message.split(password).join('***');
  }
  return error;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

function withCredentials(url: string, database: string, user: string, password: string): string {
  const parsed = new URL(withDatabase(url, database));
  parsed.username = encodeURIComponent(user);
  parsed.password = encodeURIComponent(password);
  return parsed.toString();
}
