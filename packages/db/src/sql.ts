// Tenant-bound SQL in one round trip: a pg pool of its own in pipeline mode, beside Prisma's.
//
// Prisma runs a tenant statement as BEGIN, set_config, the statement and COMMIT, each awaited
// (four round trips, each through its query interpreter). Here the same four are written to the
// connection back to back (pg's pipeline mode) and answered together: one round trip. The tenant
// is bound exactly as withTenant() binds it, by set_config(..., is_local => true) inside an
// explicit transaction, so the setting ends with it and row-level security applies to the
// statement unchanged. A statement that fails aborts the transaction and the COMMIT behind it
// answers ROLLBACK: nothing of it is kept.
import pg from 'pg';
import { assertUuid, dbBusyErrorOf } from './errors.ts';
// The client's type from the generated module (client.ts, which makes the pool, imports this file).
import type { PrismaClient as Db } from './generated/prisma/client.ts';

/** A statement with `$n` placeholders and its values. A `Prisma.sql` template is one (its `text` and `values`). */
export interface SqlQuery {
  readonly text: string;
  readonly values: readonly unknown[];
}

/** What the SQL pool is built from: createDb's options (the same database, role and limits). */
export interface SqlPoolOptions {
  databaseUrl: string;
  maxConnections?: number;
  statementTimeoutMs?: number;
  poolTimeoutMs?: number;
  applicationName?: string;
  onPoolError?: (error: Error) => void;
}

/** The pipelined pg pool of one Db: made on first use, ended with the Db ($disconnect). */
export class SqlPool {
  private pool: pg.Pool | undefined;
  private readonly options: SqlPoolOptions;

  constructor(options: SqlPoolOptions) {
    this.options = options;
  }

  /** A connection of the pool (made on first use). */
  async connect(): Promise<pg.PoolClient> {
    if (this.pool === undefined) {
      const { options } = this;
      this.pool = new pg.Pool({
        connectionString: options.databaseUrl,
        // pg's pipeline mode: a query is written without waiting for the answer to the one before.
        pipeline: true,
        // Idle connections do not keep a process alive, and go after 10 s.
        allowExitOnIdle: true,
        ...(options.maxConnections === undefined ? {} : { max: options.maxConnections }),
        ...(options.applicationName === undefined ? {} : { application_name: options.applicationName }),
        ...(options.statementTimeoutMs === undefined
          ? {}
          : { statement_timeout: options.statementTimeoutMs }),
        ...(options.poolTimeoutMs === undefined ? {} : { connectionTimeoutMillis: options.poolTimeoutMs }),
      } as pg.PoolConfig);
      // An idle connection that fails (the server ended it) is replaced; without a listener the
      // pool's 'error' event would end the process.
      this.pool.on('error', (error) => this.onConnectionError(error));
    }
    return await this.pool.connect();
  }

  /** Told when a connection fails, idle or checked out (createDb's onPoolError). */
  onConnectionError(error: Error): void {
    this.options.onPoolError?.(error);
  }

  /** Ends the pool's connections (a later query makes a new pool). */
  async end(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    await pool?.end();
  }
}

const pools = new WeakMap<object, SqlPool>();

/**
 * Gives `db` its SQL pool (createDb() does), ended by `db.$disconnect()` before Prisma's own.
 */
export function attachSqlPool(db: Db, options: SqlPoolOptions): void {
  const pool = new SqlPool(options);
  pools.set(db, pool);
  const disconnect = db.$disconnect.bind(db);
  db.$disconnect = async () => {
    await pool.end();
    await disconnect();
  };
}

function poolOf(db: Db): SqlPool {
  const pool = pools.get(db);
  if (pool === undefined) throw new Error('this Db has no SQL pool: make it with createDb()');
  return pool;
}

// The statements that open the transaction and bind the tenant: one simple-protocol message.
// The tenant id is spliced in only after assertUuid() accepted it (hex digits and dashes).
const beginFor = (tenantId: string) =>
  `BEGIN; SELECT set_config('switchboard.tenant_id', '${tenantId}', true)`;

/**
 * A transaction of one tenant on one connection, its statements pipelined: the BEGIN and the
 * tenant's setting ride with the first statement, the COMMIT with the last ({@link commitWith}).
 */
export class TenantSqlTx {
  private readonly client: pg.PoolClient;
  private readonly begin: Promise<unknown>;
  private finished = false;

  constructor(client: pg.PoolClient, tenantId: string) {
    this.client = client;
    this.begin = client.query(beginFor(tenantId));
    // Awaited through every statement; this only keeps an early failure from being unhandled.
    this.begin.catch(() => {});
  }

  /** Runs one statement in the transaction and returns its rows. */
  async query<T>(query: SqlQuery): Promise<T[]> {
    if (this.finished) throw new Error('the tenant transaction has ended');
    const statement = this.client.query({ text: query.text, values: [...query.values] });
    const [, result] = await Promise.all([this.begin, statement]);
    return result.rows as T[];
  }

  /**
   * Runs the transaction's last statement and its COMMIT in one round trip; the rows once the
   * COMMIT succeeded. A failing statement leaves nothing of the transaction (its COMMIT answers
   * ROLLBACK) and throws its error. The COMMIT is on the wire while the statement runs: a client
   * that dies then (kill -9) still commits it, as if it had died just after its COMMIT. Where a
   * crash during the last statement must leave nothing, use query() and let the COMMIT follow.
   */
  async commitWith<T>(query: SqlQuery): Promise<T[]> {
    if (this.finished) throw new Error('the tenant transaction has ended');
    this.finished = true;
    const statement = this.client.query({ text: query.text, values: [...query.values] });
    const commit = this.client.query('COMMIT');
    const [begun, result, committed] = await Promise.allSettled([this.begin, statement, commit]);
    if (begun.status === 'rejected') throw begun.reason;
    if (result.status === 'rejected') throw result.reason;
    if (committed.status === 'rejected') throw committed.reason;
    if (committed.value.command !== 'COMMIT')
      throw new Error(`the tenant transaction did not commit (${committed.value.command})`);
    return result.value.rows as T[];
  }

  /** COMMIT, unless commitWith() ended the transaction already. */
  async commit(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    const [, committed] = await Promise.all([this.begin, this.client.query('COMMIT')]);
    if (committed.command !== 'COMMIT')
      throw new Error(`the tenant transaction did not commit (${committed.command})`);
  }

  /** ROLLBACK after a failure (a connection that cannot is not reused). */
  async rollback(): Promise<void> {
    this.finished = true;
    await this.client.query('ROLLBACK');
  }
}

/**
 * Runs `fn` in one transaction of tenantId on a connection of db's SQL pool, its statements pipelined
 * (see {@link TenantSqlTx}); fn ends the transaction with `tx.commitWith(last)`, or it is
 * committed after fn returns. On an error it rolls back and throws: DbInputError when tenantId is
 * not a uuid, DbBusyError for a statement timeout or the pool's acquire timeout.
 */
export async function withTenantSql<T>(
  db: Db,
  tenantId: string,
  fn: (tx: TenantSqlTx) => Promise<T>,
): Promise<T> {
  assertUuid('tenantId', tenantId);
  const pool = poolOf(db);
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw dbBusyErrorOf(error) ?? error;
  }
  // A checked-out connection that fails (the server went away) emits 'error': without a listener
  // that would end the process. Its queries fail with the error, which is thrown below.
  const onError = (error: Error) => pool.onConnectionError(error);
  client.on('error', onError);
  const tx = new TenantSqlTx(client, tenantId);
  try {
    const out = await fn(tx);
    await tx.commit();
    release(client, onError);
    return out;
  } catch (error) {
    await tx.rollback().catch(() => {});
    release(client, onError);
    throw dbBusyErrorOf(error) ?? error;
  }
}

/**
 * Runs the one statement `query` with only tenantId's rows visible, in one round trip: BEGIN, the
 * tenant's setting, the statement and COMMIT written together. Throws as withTenantSql() does.
 */
export async function tenantSql<T>(db: Db, tenantId: string, query: SqlQuery): Promise<T[]> {
  return await withTenantSql(db, tenantId, (tx) => tx.commitWith<T>(query));
}

// A connection goes back to the pool only outside a transaction (ReadyForQuery said idle); one
// left in a transaction or broken is closed instead.
function release(client: pg.PoolClient, onError: (error: Error) => void): void {
  client.removeListener('error', onError);
  const status = (
    client as pg.PoolClient & { getTransactionStatus?: () => string | null }
  ).getTransactionStatus?.();
  client.release(status === 'I' ? undefined : new Error(`connection left in transaction state ${status}`));
}
