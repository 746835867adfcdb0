/** An argument handed to @switchboard/db is malformed (a tenant id that is not a uuid, a bad role name). */
export class DbInputError extends Error {
  /** Stable machine-readable code. */
  readonly code = 'db_invalid_input';
  /** HTTP status an API maps this to when the bad value came from a caller. */
  readonly status = 400;
  /** The argument that was wrong, e.g. "tenantId". */
  readonly argument: string;

  constructor(argument: string, expected: string, value: unknown) {
    super(`${argument} must be ${expected}, got ${describe(value)}`);
    this.name = 'DbInputError';
    this.argument = argument;
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// A role name we are willing to splice into SQL (always through format('%I') or
// escapeIdentifier as well): lower-case, so it never needs quoting in psql either.
const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Throws DbInputError unless value is a uuid in canonical text form. */
export function assertUuid(argument: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || !UUID.test(value)) throw new DbInputError(argument, 'a uuid', value);
}

/** Throws DbInputError unless value is a plain lower-case Postgres identifier. */
export function assertRoleName(argument: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || !ROLE_NAME.test(value)) {
    throw new DbInputError(
      argument,
      'a lower-case Postgres identifier ([a-z_][a-z0-9_]*, at most 63)',
      value,
    );
  }
}

// Quotes the value so an empty string or whitespace is visible, and cuts it short:
// the message goes to logs, and a caller may have passed something long by mistake.
function describe(value: unknown): string {
  if (typeof value !== 'string') return value === null ? 'null' : typeof value;
  const shown = value.length > 64 ? `${value.slice(0, 64)}…` : value;
  return JSON.stringify(shown);
}

/** Why the database could not serve a statement in time (DbBusyError.reason). */
export type DbBusyReason = 'statement_timeout' | 'pool_timeout' | 'transaction_timeout';

/**
 * The database could not serve a statement in time: the statement ran past the pool's
 * statement_timeout and Postgres cancelled it, no pooled connection freed up within the pool's
 * acquire timeout, or an interactive transaction outlived its timeout. Nothing the caller sent
 * was wrong, and a retry may succeed: an API answers 503 with Retry-After.
 */
export class DbBusyError extends Error {
  /** Stable machine-readable code. */
  readonly code = 'database_busy';
  /** HTTP status an API maps this to. */
  readonly status = 503;
  /** Seconds a client should wait before retrying. */
  readonly retryAfterSeconds = 1;
  /** What ran out. */
  readonly reason: DbBusyReason;

  constructor(reason: DbBusyReason, options: { cause?: unknown } = {}) {
    super(`the database could not serve the request in time (${reason.replace('_', ' ')})`, options);
    this.name = 'DbBusyError';
    this.reason = reason;
  }
}

// pg-pool's message when connectionTimeoutMillis passes before a client is handed out (the pool
// was full, or a new connection took that long).
const POOL_TIMEOUT_MESSAGE = 'timeout exceeded when trying to connect';
// SQLSTATE query_canceled (statement_timeout) and lock_not_available (lock_timeout).
const CANCELLED_CODES = new Set(['57014', '55P03']);

/**
 * The DbBusyError `error` amounts to, or undefined: a Postgres cancellation (SQLSTATE 57014, as
 * statement_timeout raises it, or 55P03 from lock_timeout) behind a Prisma error or in pg's own
 * error (the SQL pool of sql.ts), pg-pool's
 * acquire timeout, or Prisma's expired interactive transaction (P2028).
 */
export function dbBusyErrorOf(error: unknown): DbBusyError | undefined {
  if (error instanceof DbBusyError) return error;
  if (!(error instanceof Error)) return undefined;
  if (error.message.includes(POOL_TIMEOUT_MESSAGE)) return new DbBusyError('pool_timeout', { cause: error });
  const { code, meta } = error as {
    code?: unknown;
    meta?: { driverAdapterError?: { cause?: { code?: unknown } } };
  };
  // Prisma wraps pg's error; pg's own (the SQL pool of sql.ts) carries the SQLSTATE as its code.
  const sqlState = meta?.driverAdapterError?.cause?.code ?? code;
  if (typeof sqlState === 'string' && CANCELLED_CODES.has(sqlState))
    return new DbBusyError('statement_timeout', { cause: error });
  if (code === 'P2028') return new DbBusyError('transaction_timeout', { cause: error });
  return undefined;
}
