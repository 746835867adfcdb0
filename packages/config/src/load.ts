import { isSecretReference, SecretError, type SecretResolver } from '@switchboard/secrets';
import { z } from 'zod';
import { describeField } from './fields.ts';

/** A service's configuration schema: one flat zod object keyed by environment variable. */
export type ConfigSchema = z.ZodObject;

/** The parsed, frozen configuration a schema produces. */
export type ConfigOf<S extends ConfigSchema> = Readonly<z.output<S>>;

type Merge<A, B> = Omit<A, keyof B> & B;
type MergedShape<
  P extends readonly ConfigSchema[],
  Acc extends object = Record<never, never>,
> = P extends readonly [infer Head extends ConfigSchema, ...infer Rest extends readonly ConfigSchema[]]
  ? MergedShape<Rest, Merge<Acc, Head['shape']>>
  : { [K in keyof Acc]: Acc[K] };

/**
 * Composes a service's schema from parts (the shared `loggingConfigSchema`,
 * `redisConfigSchema`, ... and the service's own `z.object`). Later parts override
 * earlier ones key by key, so a service can give `OTEL_SERVICE_NAME` a default.
 * Cross-field checks of every part are kept (a plain spread of `.shape` would drop
 * them). Throws when a variable has no one-line `.describe()`: the docs table is
 * generated from them.
 */
export function defineConfig<const P extends readonly [ConfigSchema, ...ConfigSchema[]]>(
  ...parts: P
): z.ZodObject<MergedShape<P>> {
  const shape: Record<string, z.ZodType> = {};
  for (const part of parts) Object.assign(shape, part.shape);
  const checks = parts.flatMap((part) => part._zod.def.checks ?? []);
  let schema: ConfigSchema = z.object(shape);
  if (checks.length > 0) schema = schema.check(...(checks as z.core.$ZodCheck<object>[]));

  const undocumented: string[] = [];
  const multiline: string[] = [];
  for (const [name, field] of Object.entries(shape)) {
    const { description } = describeField(field);
    if (description === undefined || description.trim() === '') undocumented.push(name);
    else if (description.includes('\n')) multiline.push(name);
  }
  if (undocumented.length > 0) {
    throw new TypeError(`configuration variables need a .describe() line: ${undocumented.join(', ')}`);
  }
  if (multiline.length > 0) {
    throw new TypeError(`configuration descriptions must be one line: ${multiline.join(', ')}`);
  }
  return schema as unknown as z.ZodObject<MergedShape<P>>;
}

/** One bad variable and what is wrong with it. */
export interface ConfigProblem {
  /** The environment variable's name. */
  variable: string;
  /** What is wrong, e.g. "is required but not set"; never contains the value. */
  problem: string;
}

/**
 * The configuration could not be loaded. The message lists every bad variable, one
 * per line, so one failed start shows everything to fix; it never contains a value.
 */
export class ConfigError extends Error {
  /** Stable code for callers and logs. */
  readonly code = 'CONFIG_INVALID';
  /** Every problem found, in schema order. */
  readonly problems: readonly ConfigProblem[];

  /** Builds the message from `problems`. */
  constructor(problems: readonly ConfigProblem[]) {
    const lines = problems.map(({ variable, problem }) => `  - ${variable}: ${problem}`);
    const count = new Set(problems.map((p) => p.variable)).size;
    super(
      `Invalid configuration: ${count} variable${count === 1 ? '' : 's'} ${count === 1 ? 'has' : 'have'} problems\n${lines.join('\n')}`,
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Where `loadConfig` reads from. */
export interface LoadConfigOptions {
  /** The environment; the process wiring passes `process.env`, tests pass an object. */
  env: Readonly<Record<string, string | undefined>>;
  /** Resolves `secret://` values; without one, a reference is reported as a problem. */
  resolver?: SecretResolver;
}

// Secret values shorter than this are not scrubbed from messages: they cannot be a
// meaningful secret, and replacing "1" inside "between 1 and 65535" would garble it.
const MIN_SCRUB_LENGTH = 4;

/**
 * Reads the schema's variables from `options.env`, resolves `secret://` references,
 * validates, and returns a frozen result. Throws `ConfigError` listing every problem.
 * An empty string counts as unset: Kubernetes and compose files write `FOO=` for
 * "no value", and an optional URL should not fail on it.
 */
export async function loadConfig<S extends ConfigSchema>(
  schema: S,
  options: LoadConfigOptions,
): Promise<ConfigOf<S>> {
  const names = Object.keys(schema.shape);
  const input: Record<string, string> = {};
  const problems: ConfigProblem[] = [];
  const failed = new Set<string>();
  const references = new Map<string, string>();

  await Promise.all(
    names.map(async (name) => {
      const raw = options.env[name];
      if (raw === undefined || raw === '') return;
      if (!isSecretReference(raw)) {
        input[name] = raw;
        return;
      }
      references.set(name, raw);
      failed.add(name);
      if (options.resolver === undefined) {
        problems.push({
          variable: name,
          problem: `is a secret reference (${raw}) but no secret resolver is set up`,
        });
        return;
      }
      try {
        input[name] = await options.resolver.resolve(raw);
        failed.delete(name);
      } catch (error) {
        const reason =
          error instanceof SecretError ? error.message : `unexpected ${(error as Error)?.name ?? 'error'}`;
        problems.push({ variable: name, problem: `could not resolve the secret reference: ${reason}` });
      }
    }),
  );

  const result = await schema.safeParseAsync(input);
  if (result.success && problems.length === 0) return Object.freeze(result.data) as ConfigOf<S>;

  // zod's messages do not quote input, but a custom check could; scrub every value
  // that is known to be secret: resolved references and fields marked secret().
  const values = Object.entries(input)
    .filter(([name]) => references.has(name) || describeField(schema.shape[name] as z.ZodType).secret)
    .map(([, value]) => value)
    .filter((value) => value.length >= MIN_SCRUB_LENGTH);
  const issues = result.success ? [] : result.error.issues;
  const seen = new Set<string>();
  const addIssue = (issue: z.core.$ZodIssue, onlyNew: boolean) => {
    const [first, ...rest] = issue.path;
    const variable = typeof first === 'string' ? first : '(configuration)';
    if (failed.has(variable)) return;
    if (onlyNew && problems.some((p) => p.variable === variable)) return;
    let problem =
      input[variable] === undefined && issue.code === 'invalid_type'
        ? requiredMessage(schema.shape[variable] as z.ZodType | undefined)
        : issue.message;
    if (typeof rest[0] === 'number') problem = `item ${rest[0] + 1}: ${problem}`;
    for (const value of values) problem = problem.replaceAll(value, '[value hidden]');
    const reference = references.get(variable);
    if (reference !== undefined) problem += ` (value from ${reference})`;
    const line = `${variable}\n${problem}`;
    if (seen.has(line)) return;
    seen.add(line);
    problems.push({ variable, problem });
  };
  for (const issue of issues) addIssue(issue, false);
  for (const issue of await crossFieldIssues(schema, input)) addIssue(issue, true);

  const order = new Map(names.map((name, index) => [name, index]));
  problems.sort((a, b) => (order.get(a.variable) ?? names.length) - (order.get(b.variable) ?? names.length));
  throw new ConfigError(problems);
}

/**
 * zod skips an object's cross-field checks (REDIS_MODE needs REDIS_URL, ...) once a
 * field failed with an aborting issue, which would hide those problems until the
 * next start. Re-running the checks over a lenient copy, where a bad field reads as
 * unset, reports them in the same start; the caller drops any for variables that
 * already have a problem.
 */
async function crossFieldIssues(
  schema: ConfigSchema,
  input: Record<string, string>,
): Promise<z.core.$ZodIssue[]> {
  const checks = schema._zod.def.checks ?? [];
  if (checks.length === 0) return [];
  const lenient: Record<string, z.ZodType> = {};
  for (const [name, field] of Object.entries(schema.shape)) {
    lenient[name] = (field as z.ZodType).catch(() => undefined);
  }
  const result = await z
    .object(lenient)
    .check(...(checks as z.core.$ZodCheck<object>[]))
    .safeParseAsync(input);
  return result.success ? [] : result.error.issues;
}

function requiredMessage(field: z.ZodType | undefined): string {
  const description = field === undefined ? undefined : describeField(field).description;
  return description === undefined ? 'is required but not set' : `is required but not set (${description})`;
}

/** Where `loadConfigOrExit` reports and how it stops; tests replace both. */
export interface ExitOptions {
  /** Receives the error message; default `process.stderr`. */
  stderr?: { write(text: string): unknown };
  /** Ends the process; default `process.exit`. */
  exit?: (code: number) => never;
}

/**
 * `loadConfig`, but a `ConfigError` is printed to stderr and the process exits with
 * code 1: a service with bad configuration must not start half-working, and the
 * message alone has to tell the operator what to fix.
 */
export async function loadConfigOrExit<S extends ConfigSchema>(
  schema: S,
  options: LoadConfigOptions,
  exitOptions: ExitOptions = {},
): Promise<ConfigOf<S>> {
  try {
    return await loadConfig(schema, options);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // Writes to stderr are synchronous on Linux for files, pipes and terminals, so
    // the message is out before the exit.
    (exitOptions.stderr ?? process.stderr).write(`${error.message}\n`);
    return exitOptions.exit ? exitOptions.exit(1) : process.exit(1);
  }
}
