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
