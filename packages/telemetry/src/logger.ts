import { AsyncLocalStorage } from 'node:async_hooks';
import { hostname } from 'node:os';
import { isSpanContextValid, trace } from '@opentelemetry/api';
import {
  type DestinationStream,
  type LevelWithSilent,
  type Logger,
  type LoggerOptions as PinoOptions,
  pino,
} from 'pino';
import { logFields } from './names.ts';
import { LOG_REDACT_PATHS, maskText, REDACTED, redactValue, serializeError } from './redaction.ts';

/** The logger type services pass around (pino's). */
export type { Logger } from 'pino';

/** Options for `createLogger`. */
export interface LoggerOptions {
  /** Lowest level written; `silent` writes nothing. */
  level: LevelWithSilent;
  /** Service name, written as `name` on every line. */
  name: string;
  /** Fields on every line, in addition to pid and hostname (the pod name in Kubernetes). */
  base?: Record<string, unknown>;
  /** Where lines go; default pino's stdout stream. Tests pass an in-memory stream. */
  destination?: DestinationStream;
}

function isRequestLike(value: object): boolean {
  return 'method' in value && 'headers' in value && 'socket' in value;
}

function isResponseLike(value: object): boolean {
  return 'setHeader' in value && 'getHeaders' in value;
}

/** Redacts every argument of a log call before pino sees it; the first argument gets pino's meaning. */
function sanitizeArguments(args: unknown[]): unknown[] {
  const [first, ...rest] = args;
  const others = rest.map((arg) => redactValue(arg));
  if (first instanceof Error) {
    // As an object under `err`, pino still takes the message from it: the masked one.
    return [{ err: serializeError(first) }, ...others];
  }
  if (typeof first === 'object' && first !== null) {
    if (isRequestLike(first)) return [{ req: redactValue(first) }, ...others];
    if (isResponseLike(first)) return [{ res: redactValue(first) }, ...others];
    return [redactValue(first), ...others];
  }
  return [typeof first === 'string' ? maskText(first) : first, ...others];
}

function serializeAnyError(value: unknown): unknown {
  return value instanceof Error ? serializeError(value) : value;
}

const logContext = new AsyncLocalStorage<Readonly<Record<string, string>>>();

/**
 * Runs `fn` with `fields` added to every line any logger writes inside it (its async calls too),
 * e.g. `{ request_id }` while a worker processes the job a request enqueued. Nested calls merge.
 */
export function withLogContext<T>(fields: Readonly<Record<string, string>>, fn: () => T): T {
  if (Object.keys(fields).length === 0) return fn();
  return logContext.run({ ...logContext.getStore(), ...fields }, fn);
}

/**
 * Adds the active span's ids, so a log line can be found from its trace and back, and the fields
 * of {@link withLogContext}.
 */
function traceMixin(): Record<string, string> {
  const fields = logContext.getStore() ?? {};
  const spanContext = trace.getActiveSpan()?.spanContext();
  if (spanContext === undefined || !isSpanContextValid(spanContext)) return { ...fields };
  return { ...fields, [logFields.traceId]: spanContext.traceId, [logFields.spanId]: spanContext.spanId };
}

/**
 * A pino JSON logger with the platform's redaction: every argument is deep-redacted
 * (sensitive keys replaced, phone numbers, JIDs and tokens masked in any string,
 * errors serialised with masked message and stack), base and child bindings too, and pino's
 * path redaction covers well-known fields on top. Levels are written as labels and
 * times as ISO strings, so the lines read the same in `kubectl logs` and in Loki.
 */
export function createLogger(options: LoggerOptions): Logger {
  const loggerOptions: PinoOptions = {
    name: options.name,
    level: options.level,
    base: { pid: process.pid, hostname: hostname(), ...options.base },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: [...LOG_REDACT_PATHS], censor: REDACTED },
    serializers: { err: serializeAnyError, error: serializeAnyError },
    formatters: {
      level: (label) => ({ level: label }),
      bindings: (bindings) => redactValue(bindings) as Record<string, unknown>,
    },
    hooks: {
      logMethod(args, method) {
        method.apply(this, sanitizeArguments(args) as Parameters<typeof method>);
      },
    },
    mixin: traceMixin,
  };
  // Without a destination, pino's own stdout stream: asynchronous, flushed by pino on
  // process exit and by `startTelemetry`'s shutdown.
  const logger =
    options.destination === undefined ? pino(loggerOptions) : pino(loggerOptions, options.destination);
  // pino applies formatters.bindings to the root logger only and resets it for
  // children, so child bindings are redacted here. Children inherit this property,
  // which covers grandchildren too.
  const child = logger.child;
  logger.child = function redactedChild(this: Logger, bindings, childOptions) {
    return child.call(this, redactValue(bindings) as typeof bindings, childOptions);
  } as Logger['child'];
  return logger;
}
