import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import pg from 'pg';
import { assertRoleName, DbInputError } from './errors.ts';

/** The SQL migrations shipped with this package, applied in file-name order. */
export const migrationsDir = fileURLToPath(new URL('../migrations', import.meta.url));

// node-pg-migrate's bookkeeping table lives beside the migration helpers in schema
// "switchboard", so schema "public" holds tenant data and nothing else.
const migrationsSchema = 'switchboard';
const migrationsTable = 'pgmigrations';

/** Options for migrate(). */
export interface MigrateOptions {
  /** Connection string of the database owner, who runs the migrations and owns what they create. */
  databaseUrl: string;
  /** Apply pending migrations, or roll back applied ones. */
  direction: 'up' | 'down';
  /** How many migrations to run: up defaults to all pending, down to the last one; Infinity means all. */
  count?: number;
  /**
   * The application's runtime role, granted DML on the tables. It must exist and be
   * NOSUPERUSER NOBYPASSRLS and not the owner (the migration refuses otherwise). When
   * omitted nothing is granted, so pass it on every run that creates tables.
   */
  appRole?: string;
  /** Receives node-pg-migrate's progress lines; silent when omitted. */
  log?: (message: string) => void;
}

/** Applies or rolls back migrations; returns the names of the migrations it ran, in order. */
export async function migrate(options: MigrateOptions): Promise<string[]> {
  const { databaseUrl, direction, count, appRole, log = () => {} } = options;
  if (direction !== 'up' && direction !== 'down')
    throw new DbInputError('direction', '"up" or "down"', direction);
  if (
    count !== undefined &&
    !(count === Number.POSITIVE_INFINITY || (Number.isInteger(count) && count > 0))
  ) {
    throw new DbInputError('count', 'a positive integer or Infinity', String(count));
  }
  if (appRole !== undefined) assertRoleName('appRole', appRole);

  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'switchboard-migrate' });
  await client.connect();
  try {
    // Session-level (not transaction-local): node-pg-migrate runs its own transactions on
    // this connection, and the migrations read the setting through switchboard.app_role().
    await client.query(`SELECT set_config('switchboard.app_role', $1, false)`, [appRole ?? '']);
    const ran = await runner({
      dbClient: client,
      dir: migrationsDir,
      direction,
      ...(count === undefined ? {} : { count }),
      schema: 'public',
      migrationsSchema,
      migrationsTable,
      createMigrationsSchema: true,
      checkOrder: true,
      // All pending migrations commit together or not at all, so a failed run leaves the
      // database at the version it had (no CREATE INDEX CONCURRENTLY in migrations, then).
      singleTransaction: true,
      // A Postgres advisory lock (scoped to this database) serialises concurrent runs, e.g.
      // two migration Jobs: the second waits, then finds nothing left to do.
      noLock: false,
      advisoryLockMode: 'wait',
      logger: { debug: () => {}, info: log, warn: log, error: log },
    });
    return ran.map((migration) => migration.name);
  } finally {
    await client.end();
  }
}
