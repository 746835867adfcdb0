import { PrismaPg } from '@prisma/adapter-pg';
import { assertUuid, DbInputError, dbBusyErrorOf } from './errors.ts';
import { type Prisma, PrismaClient } from './generated/prisma/client.ts';
import { attachSqlPool } from './sql.ts';

/** The Prisma client for Switchboard's database. */
export type Db = PrismaClient;

/** The transaction client withTenant() hands to its callback: every query in it is scoped to one tenant. */
export type TenantTx = Prisma.TransactionClient;

/** Options for createDb(). */
export interface CreateDbOptions {
  /** Connection string of the application role (never the owner: row-level security is what isolates tenants). */
  databaseUrl: string;
  /** Pool size; pg's default (10) when omitted. */
  maxConnections?: number;
  /**
   * Longest a statement may run, in ms: Postgres' statement_timeout, set for every connection of
   * the pool when it connects (no round trip per query). A statement past it is cancelled by the
   * server and fails with DbBusyError (reason statement_timeout); time waiting for a lock counts.
   * No limit when omitted.
   */
  statementTimeoutMs?: number;
  /**
   * Longest wait for a pooled connection, in ms (pg-pool's connectionTimeoutMillis, which also
   * bounds opening a new one). Past it the query fails with DbBusyError (reason pool_timeout)
   * instead of queueing without end behind slow statements. No limit when omitted.
   */
  poolTimeoutMs?: number;
  /** Shown in pg_stat_activity, e.g. "switchboard-api". */
  applicationName?: string;
  /** Called when an idle pooled connection fails (the pool replaces it). */
  onPoolError?: (error: Error) => void;
}

/**
 * Creates a Prisma client over a pg pool (@prisma/adapter-pg). Query it through withTenant(). The
 * client also gets a second pool of the same settings, in pg's pipeline mode, for tenantSql() and
 * withTenantSql() (sql.ts): opened on first use, ended by `$disconnect()`.
 */
export function createDb(options: CreateDbOptions): Db {
  const adapter = new PrismaPg(
    {
      connectionString: options.databaseUrl,
      ...(options.maxConnections === undefined ? {} : { max: options.maxConnections }),
      ...(options.applicationName === undefined ? {} : { application_name: options.applicationName }),
      ...(options.statementTimeoutMs === undefined ? {} : { statement_timeout: options.statementTimeoutMs }),
      ...(options.poolTimeoutMs === undefined ? {} : { connectionTimeoutMillis: options.poolTimeoutMs }),
    },
    options.onPoolError === undefined ? {} : { onPoolError: options.onPoolError },
  );
  const db = new PrismaClient({ adapter });
  attachSqlPool(db, options);
  return db;
}

/** Options for withTenant(), passed on to Prisma's interactive transaction. */
export interface WithTenantOptions {
  /** Longest wait for a pooled connection, in ms (Prisma's default 2000). */
  maxWait?: number;
  /** Longest the transaction may run, in ms (Prisma's default 5000). */
  timeout?: number;
  /** Isolation level; Postgres' default (read committed) when omitted. */
  isolationLevel?: Prisma.TransactionIsolationLevel;
}

/**
 * Runs fn in a transaction in which only tenantId's rows exist: the tenant is set with
 * set_config(..., is_local => true), so it ends with the transaction and a pooled
 * connection never carries it into someone else's query. Throws DbInputError when
 * tenantId is not a uuid, DbBusyError when a statement or the wait for a connection ran out of
 * time (createDb's statementTimeoutMs and poolTimeoutMs, `options`' maxWait and timeout).
 */
export async function withTenant<T>(
  db: Db,
  tenantId: string,
  fn: (tx: TenantTx) => Promise<T>,
  options: WithTenantOptions = {},
): Promise<T> {
  assertUuid('tenantId', tenantId);
  try {
    return await db.$transaction(async (tx) => {
      await tx.$queryRaw`SELECT set_config('switchboard.tenant_id', ${tenantId}, true)`;
      return fn(tx);
    }, options);
  } catch (error) {
    throw dbBusyErrorOf(error) ?? error;
  }
}

/**
 * Runs the one raw statement `query` with only tenantId's rows visible, as withTenant() binds the
 * tenant (set_config(..., is_local => true) in the same transaction), but as one batch: BEGIN, the
 * setting, the query, COMMIT, without an interactive transaction's bookkeeping. For the statements
 * every request runs (the API's credential check): about a third of the CPU
 * of withTenant() with a model query (bench/api). Throws DbInputError when tenantId is not a uuid,
 * DbBusyError as withTenant() does.
 */
export async function tenantQuery<T>(db: Db, tenantId: string, query: Prisma.Sql): Promise<T[]> {
  return await tenantStatement(db, tenantId, () => db.$queryRaw<T[]>(query));
}

/**
 * tenantQuery() for any one statement of the client (`$executeRaw` included), made by `statement`
 * only once the tenant id was checked.
 */
export async function tenantStatement<T>(
  db: Db,
  tenantId: string,
  statement: () => Prisma.PrismaPromise<T>,
): Promise<T> {
  assertUuid('tenantId', tenantId);
  try {
    const [, result] = await db.$transaction([
      db.$queryRaw`SELECT set_config('switchboard.tenant_id', ${tenantId}, true)`,
      statement(),
    ]);
    return result;
  } catch (error) {
    throw dbBusyErrorOf(error) ?? error;
  }
}

/**
 * Throws DbInputError unless the client's role is subject to row-level security: not a
 * superuser, without BYPASSRLS, and owning (or inheriting an owner of) no table in schema
 * public, since an owner could switch RLS off. Services call this once at start, so a
 * DATABASE_URL pointing at the wrong role stops them instead of weakening isolation.
 */
export async function verifyRuntimeRole(db: Db): Promise<void> {
  const [role] = await db.$queryRaw<
    { name: string; superuser: boolean; bypassrls: boolean; owner: boolean }[]
  >`
    SELECT r.rolname AS name, r.rolsuper AS superuser, r.rolbypassrls AS bypassrls,
           EXISTS (SELECT 1 FROM pg_class c
                    WHERE c.relnamespace = 'public'::regnamespace AND pg_has_role(r.oid, c.relowner, 'USAGE')) AS owner
      FROM pg_roles r WHERE r.rolname = current_user`;
  if (!role || role.superuser || role.bypassrls || role.owner) {
    throw new DbInputError(
      'databaseUrl',
      'a role without SUPERUSER or BYPASSRLS that owns no table (the application role)',
      role?.name ?? null,
    );
  }
}
