// Applies or rolls back the database migrations. `make db-migrate` / `make db-rollback`
// and the operator's migration Job run this file:
//
//   node packages/db/src/cli.ts up [count]          apply pending migrations (all by default)
//   node packages/db/src/cli.ts down [count|all]    roll back (the last one by default)
//
// Exits 0 when done, 1 on a bad argument or environment variable, 2 when a migration fails.
import { z } from 'zod';
import { migrate } from './migrate.ts';

const envSchema = z.object({
  // Connection string of the database owner, who runs migrations: postgres://owner:pw@host:5432/db
  DATABASE_URL: z
    .string({ error: 'is not set' })
    .regex(/^postgres(ql)?:\/\//, { error: 'must be a postgres:// or postgresql:// connection string' }),
  // The application's runtime role (NOSUPERUSER NOBYPASSRLS, not the owner), granted DML on the tables.
  DATABASE_APP_ROLE: z.string({ error: 'is not set' }).regex(/^[a-z_][a-z0-9_]{0,62}$/, {
    error: 'must be a lower-case Postgres role name ([a-z_][a-z0-9_]*)',
  }),
});

const usage = 'usage: node packages/db/src/cli.ts up [count] | down [count|all]';

function fail(message: string): never {
  console.error(message);
  process.exit(1);
}

function readEnv(): z.infer<typeof envSchema> {
  const parsed = envSchema.safeParse(process.env);
  if (!parsed.success) {
    // Name the variable and what is wrong with it; never echo the value (it holds a password).
    fail(parsed.error.issues.map((issue) => `${issue.path.join('.')} ${issue.message}`).join('\n'));
  }
  return parsed.data;
}

function readArgs(argv: string[]): { direction: 'up' | 'down'; count: number | undefined } {
  const [direction, countArg, ...rest] = argv;
  if ((direction !== 'up' && direction !== 'down') || rest.length > 0) fail(usage);
  if (countArg === undefined) return { direction, count: undefined };
  if (countArg === 'all') return { direction, count: Number.POSITIVE_INFINITY };
  if (!/^[1-9][0-9]*$/.test(countArg))
    fail(`count must be a positive integer or "all", got "${countArg}"\n${usage}`);
  return { direction, count: Number(countArg) };
}

const { direction, count } = readArgs(process.argv.slice(2));
const env = readEnv();
try {
  const ran = await migrate({
    databaseUrl: env.DATABASE_URL,
    direction,
    appRole: env.DATABASE_APP_ROLE,
    ...(count === undefined ? {} : { count }),
    log: (message) => process.stdout.write(`${message}\n`),
  });
  process.stdout.write(
    ran.length === 0 ? 'nothing to migrate\n' : `migrated ${direction}: ${ran.join(', ')}\n`,
  );
} catch (error) {
  console.error(`migration ${direction} failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(2);
}
