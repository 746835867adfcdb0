import * as Sentry from '@sentry/node';
import { REDACTED, redactValue } from './redaction.ts';

/** Options for `initSentry`. */
export interface SentryOptions {
  /** Sentry DSN; without one nothing is initialised and nothing is sent. */
  dsn?: string;
  /** Environment name on every event, e.g. production. */
  environment: string;
  /** Release on every event (image tag or package version). */
  release?: string;
  /** Added as the `service` tag, so one Sentry project can hold api and worker. */
  serviceName?: string;
}

/** An initialised (or deliberately not initialised) Sentry client. */
export interface SentryHandle {
  /** False when no DSN was configured. */
  readonly enabled: boolean;
  /** Sends queued events; resolves false if `timeoutMs` passed first. */
  flush(timeoutMs?: number): Promise<boolean>;
  /** Flushes and disables the client; idempotent. */
  close(timeoutMs?: number): Promise<boolean>;
}

// Metadata the SDK keeps on the event for its own processing (it holds Scope objects
// and the raw request); it is not serialised into the envelope, so it is left as is.
const PASS_THROUGH = new Set(['sdkProcessingMetadata']);

/**
 * A scrubbed copy of a Sentry event, by the same rules as the logs (`redaction.ts`):
 * sensitive keys in request headers, extra, contexts, tags and breadcrumbs replaced;
 * phone numbers, JIDs and tokens masked in messages, exception values and stack
 * lines. On top: the request body is dropped whole (it is a message or a webhook
 * payload), cookies are dropped, and the user is reduced to its id.
 */
export function scrubSentryEvent<E extends Sentry.Event>(event: E): E {
  const scrubbed: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(event)) {
    scrubbed[key] = PASS_THROUGH.has(key) ? value : redactValue(value);
  }
  const result = scrubbed as E;
  if (result.request !== undefined) {
    if (result.request.data !== undefined) result.request.data = REDACTED;
    delete result.request.cookies;
  }
  if (result.user !== undefined) result.user = result.user.id === undefined ? {} : { id: result.user.id };
  return result;
}

/** A scrubbed copy of a breadcrumb: message masked, sensitive `data` keys replaced. */
export function scrubSentryBreadcrumb(breadcrumb: Sentry.Breadcrumb): Sentry.Breadcrumb {
  return redactValue(breadcrumb) as Sentry.Breadcrumb;
}

/**
 * Initialises Sentry for error reporting, only when a DSN is configured. Tracing
 * stays with OpenTelemetry (no traces sample rate, no Sentry tracer provider), user,
 * cookie, body, queue and local-variable collection is off, and every event and
 * breadcrumb goes through the scrubbers.
 */
export function initSentry(options: SentryOptions): SentryHandle {
  if (options.dsn === undefined || options.dsn === '') {
    return { enabled: false, flush: async () => true, close: async () => true };
  }
  const client = Sentry.init({
    dsn: options.dsn,
    environment: options.environment,
    ...(options.release === undefined ? {} : { release: options.release }),
    // Collect less in the first place; the scrubbers below are the second line.
    // Bodies, queue arguments, query rows and local variables are where message text
    // and phone numbers live.
    dataCollection: {
      userInfo: false,
      cookies: false,
      httpBodies: [],
      databaseQueryData: false,
      queues: false,
      stackFrameVariables: false,
      graphQL: { document: false, variables: false },
      genAI: { inputs: false, outputs: false },
      mcp: { inputs: false, outputs: false },
    },
    includeLocalVariables: false,
    enableOpenTelemetrySetup: false,
    // Sentry's Fastify integration registers its own @fastify/otel, which clashes with the API's
    // (`fastifyTracing`: "the decorator 'opentelemetry' has already been added"), and would report
    // errors the API's error handler already reports (5xx only, with the request id).
    integrations: (defaults) => defaults.filter((integration) => integration.name !== 'Fastify'),
    beforeSend: (event) => scrubSentryEvent(event),
    // Sentry tracing is off, but if SENTRY_TRACES_SAMPLE_RATE turns it on, spans are scrubbed too.
    beforeSendSpan: (span) => redactValue(span) as typeof span,
    beforeBreadcrumb: (breadcrumb) => scrubSentryBreadcrumb(breadcrumb),
    ...(options.serviceName === undefined
      ? {}
      : { initialScope: { tags: { service: options.serviceName } } }),
  });
  let closing: Promise<boolean> | undefined;
  return {
    enabled: client !== undefined,
    flush: (timeoutMs = 2_000) => Sentry.flush(timeoutMs),
    close(timeoutMs = 2_000) {
      closing ??= Sentry.close(timeoutMs);
      return closing;
    },
  };
}

/** What {@link captureError} tags an event with: low-cardinality names, never bodies or numbers. */
export type ErrorContext = Record<string, string | number | undefined>;

/**
 * Reports an error to Sentry with `context` as tags (request id, route, queue, job id), through
 * the same scrubbers as every event; nothing happens when Sentry was not initialised (no DSN).
 * Returns the event id, or undefined when nothing was sent.
 */
export function captureError(error: unknown, context: ErrorContext = {}): string | undefined {
  if (!Sentry.isInitialized()) return undefined;
  const tags: Record<string, string> = {};
  for (const [key, value] of Object.entries(context)) if (value !== undefined) tags[key] = String(value);
  return Sentry.captureException(error, { tags });
}
