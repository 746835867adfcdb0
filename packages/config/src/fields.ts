import { z } from 'zod';

/**
 * Field helpers for environment variables. Every input is a string; each helper
 * parses it into the type the service wants and, on failure, says what was expected
 * without quoting the value (a wrong variable may hold a secret).
 *
 * Each helper also records a short human format ("port", "duration") in a private
 * registry, so the markdown docs can say what a variable accepts. zod's registries
 * follow clones, so `.describe()` on a helper keeps it.
 */

/** Per-field facts for docs that zod itself does not keep. */
export interface FieldInfo {
  /** What the variable accepts, for the docs' Format column. */
  format?: string;
  /** The variable holds a secret; docs recommend a `secret://` reference. */
  secret?: boolean;
}

/** Registry behind `fieldInfo`; helpers add to it. */
export const fieldRegistry = z.registry<FieldInfo>();

function annotate<T extends z.ZodType>(schema: T, info: FieldInfo): T {
  fieldRegistry.add(schema, { ...fieldRegistry.get(schema), ...info });
  return schema;
}

/** Log levels pino understands, plus `silent`; the order is most to least severe. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** One of `LOG_LEVELS`. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Options for `url`. */
export interface UrlOptions {
  /** Allowed schemes without `://`, e.g. `['postgres', 'postgresql']`; any scheme when absent. */
  protocols?: readonly string[];
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** An absolute URL, optionally restricted to some schemes; the output is the string as given. */
export function url(options: UrlOptions = {}) {
  const { protocols } = options;
  if (protocols === undefined || protocols.length === 0) {
    return annotate(z.url({ error: 'expected an absolute URL' }), { format: 'URL' });
  }
  const schemes = protocols.map((protocol) => `${protocol}://`);
  return annotate(
    z.url({
      protocol: new RegExp(`^(?:${protocols.map(escapeRegExp).join('|')})$`),
      error: `expected a URL starting with ${schemes.join(' or ')}`,
    }),
    { format: `URL (${schemes.join(', ')})` },
  );
}

/** Options for `integer`. */
export interface IntegerOptions {
  /** Smallest accepted value (inclusive). */
  min?: number;
  /** Largest accepted value (inclusive). */
  max?: number;
}

function rangeText(min: number | undefined, max: number | undefined): string {
  if (min !== undefined && max !== undefined) return ` between ${min} and ${max}`;
  if (min !== undefined) return ` of at least ${min}`;
  if (max !== undefined) return ` of at most ${max}`;
  return '';
}

/** A whole number written in decimal digits (with an optional leading minus). */
export function integer(options: IntegerOptions = {}) {
  const { min, max } = options;
  const message = `expected a whole number${rangeText(min, max)}`;
  // No .int(): zod marks its failure as aborting, which would skip the schema's
  // cross-field checks; the regex already guarantees digits.
  let number = z.number().refine(Number.isSafeInteger, message);
  if (min !== undefined) number = number.min(min, message);
  if (max !== undefined) number = number.max(max, message);
  return annotate(
    z
      .string()
      .trim()
      .regex(/^-?\d+$/, message)
      .transform(Number)
      .pipe(number),
    {
      format: `integer${rangeText(min, max)}`,
    },
  );
}

/** A TCP port, 1 to 65535. */
export function port() {
  const message = 'expected a port number between 1 and 65535';
  return annotate(
    z
      .string()
      .trim()
      .regex(/^\d{1,5}$/, message)
      .transform(Number)
      .pipe(z.number().min(1, message).max(65535, message)),
    { format: 'port' },
  );
}

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A duration such as `250ms`, `30s`, `5m`, `1h`, `1d`, or a bare number of
 * milliseconds; the output is milliseconds. Give defaults in milliseconds
 * (`.default(30_000)`): zod applies defaults after parsing.
 */
export function duration() {
  const message = 'expected a duration such as 500ms, 30s, 5m or 1h (a bare number is milliseconds)';
  return annotate(
    z
      .string()
      .trim()
      .regex(DURATION, message)
      .transform((text) => {
        const [, amount, unit] = DURATION.exec(text)!;
        return Math.round(Number(amount) * UNIT_MS[unit ?? 'ms']!);
      }),
    { format: 'duration (ms, s, m, h, d)' },
  );
}

/** `true`/`false`/`1`/`0` (any case) to a boolean; anything else is an error rather than a guess. */
export function boolean() {
  // Not z.stringbool: its failure is marked aborting, which skips cross-field checks.
  return annotate(
    z
      .string()
      .trim()
      .toLowerCase()
      .pipe(z.enum(['true', 'false', '1', '0'], { error: 'expected true, false, 1 or 0' }))
      .transform((text) => text === 'true' || text === '1'),
    { format: 'boolean (true, false, 1, 0)' },
  );
}

/** A comma-separated list; items are trimmed, empty items dropped, and each is checked by `item`. */
export function list<T extends z.ZodType<unknown, string>>(
  item: T,
): z.ZodPipe<z.ZodPipe<z.ZodString, z.ZodTransform<string[], string>>, z.ZodArray<T>>;
/** A comma-separated list of strings; items are trimmed and empty items dropped. */
export function list(): z.ZodPipe<
  z.ZodPipe<z.ZodString, z.ZodTransform<string[], string>>,
  z.ZodArray<z.ZodString>
>;
export function list(item: z.ZodType<unknown, string> = z.string()) {
  return annotate(
    z
      .string()
      .transform((text) =>
        text
          .split(',')
          .map((part) => part.trim())
          .filter((part) => part !== ''),
      )
      .pipe(z.array(item)),
    { format: 'comma-separated list' },
  );
}

/** A `host:port` pair as parsed by `hostPortList`. */
export interface HostPort {
  /** Hostname or IP address (IPv6 without brackets). */
  host: string;
  /** TCP port. */
  port: number;
}

const HOST_PORT = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/;

/** Comma-separated `host:port` pairs (IPv6 as `[::1]:26379`), e.g. Sentinel or cluster seeds. */
export function hostPortList() {
  const message = 'expected host:port';
  const hostPort = z
    .string()
    .regex(HOST_PORT, message)
    .transform((text): HostPort => {
      const [, ipv6, host, portText] = HOST_PORT.exec(text)!;
      return { host: (ipv6 ?? host)!, port: Number(portText) };
    })
    .refine((pair) => pair.port >= 1 && pair.port <= 65535, 'port must be between 1 and 65535');
  return annotate(list(hostPort), { format: 'comma-separated host:port list' });
}

/** A log level from `LOG_LEVELS`, case-insensitive. */
export function logLevel() {
  return annotate(
    z
      .string()
      .trim()
      .toLowerCase()
      .pipe(z.enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.join(', ')}` })),
    { format: LOG_LEVELS.join(', ') },
  );
}

/**
 * Marks a variable as a secret (a non-empty string unless `schema` says otherwise);
 * the docs then recommend a `secret://` reference. Error messages never show any
 * value, secret or not, so this is documentation, not protection.
 */
export function secret(): z.ZodString;
/** Marks `schema` as holding a secret, e.g. `secret(url({ protocols: ['postgres'] }))`. */
export function secret<T extends z.ZodType>(schema: T): T;
export function secret(schema: z.ZodType = z.string().min(1, 'must not be empty')) {
  return annotate(schema.clone(), { secret: true });
}

/** Wrapper types whose `innerType` is the schema that carries a field's facts. */
const WRAPPERS = new Set(['optional', 'default', 'prefault', 'nullable', 'readonly', 'catch', 'nonoptional']);

/** What the docs need to know about one field, gathered through its wrappers. */
export interface FieldDescription {
  /** The `.describe()` text, from the outermost schema that has one. */
  description: string | undefined;
  /** Human format from the helpers, or derived from zod's type. */
  format: string;
  /** True when the variable may be left unset (optional or defaulted). */
  optional: boolean;
  /** True when a default applies. */
  hasDefault: boolean;
  /** The default value (an output value: milliseconds for durations). */
  defaultValue: unknown;
  /** Marked with `secret()`. */
  secret: boolean;
}

/** Reads description, format, default and secret marker of one field. */
export function describeField(schema: z.ZodType): FieldDescription {
  const result: FieldDescription = {
    description: undefined,
    format: '',
    optional: schema.safeParse(undefined).success,
    hasDefault: false,
    defaultValue: undefined,
    secret: false,
  };
  let current: z.ZodType | undefined = schema;
  let fallbackFormat: string | undefined;
  while (current !== undefined) {
    result.description ??= current.description;
    const info = fieldRegistry.get(current);
    if (info?.format !== undefined && result.format === '') result.format = info.format;
    if (info?.secret) result.secret = true;
    const def = current._zod.def as unknown as Record<string, unknown> & { type: string };
    if (def.type === 'default' && !result.hasDefault) {
      result.hasDefault = true;
      result.defaultValue = def.defaultValue;
    }
    if (def.type === 'enum' && fallbackFormat === undefined) {
      fallbackFormat = `one of ${Object.values(def.entries as Record<string, string>).join(', ')}`;
    }
    if (WRAPPERS.has(def.type)) current = def.innerType as z.ZodType;
    else if (def.type === 'pipe') current = def.in as z.ZodType;
    else {
      fallbackFormat ??= def.type;
      current = undefined;
    }
  }
  if (result.format === '') result.format = fallbackFormat ?? '';
  return result;
}
