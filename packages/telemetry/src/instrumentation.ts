import { register } from 'node:module';
import { FastifyOtelInstrumentation } from '@fastify/otel';
import { type Instrumentation, registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { PrismaInstrumentation } from '@prisma/instrumentation';
import { createAddHookMessageChannel } from 'import-in-the-middle';

/**
 * The libraries' own OpenTelemetry instrumentations, enabled once per process before the
 * libraries are imported:
 *
 * - http (incoming requests are the API's root spans; /livez, /readyz, /metrics are not traced)
 *   and undici (Node's fetch: the Cloud API sends, webhook deliveries);
 * - ioredis and pg, only under a parent span (BullMQ's and the lease renewals' background
 *   commands would otherwise each be a trace of their own), with statements reduced to what
 *   identifies them: the Redis command name, the SQL text without its parameters;
 * - Prisma's (`@prisma/instrumentation`) and Fastify's (`@fastify/otel`, registered as a plugin by
 *   the API: {@link fastifyTracing}).
 *
 * ESM: the services are ES modules, whose imports are seen only by a loader hook
 * (import-in-the-middle). The hook is registered for the instrumented modules alone, and only
 * modules imported after {@link instrumentModules} are patched: a service's entry point calls it
 * first and imports everything else dynamically afterwards (services/api/src/server.ts).
 *
 * Spans go to the global tracer provider, which `startTracing` registers when an OTLP endpoint is
 * configured; until then (and without one) they are no-ops.
 */

/** Paths that are probes or scrapes, never worth a trace. */
const UNTRACED_PATHS = new Set(['/livez', '/healthz', '/readyz', '/metrics']);

function untracedPath(url: string | undefined): boolean {
  if (url === undefined) return false;
  const path = url.split('?', 1)[0] ?? url;
  return UNTRACED_PATHS.has(path);
}

let fastifyInstrumentation: FastifyOtelInstrumentation | undefined;
let enabled: Promise<void> | undefined;

function fastifyOtel(): FastifyOtelInstrumentation {
  fastifyInstrumentation ??= new FastifyOtelInstrumentation({
    ignorePaths: (route: { url: string }) => untracedPath(route.url),
  });
  return fastifyInstrumentation;
}

/** The instrumentations {@link instrumentModules} enables; exported for tests. */
export function moduleInstrumentations(): Instrumentation[] {
  return [
    new HttpInstrumentation({
      ignoreIncomingRequestHook: (request) => untracedPath(request.url),
      requireParentforOutgoingSpans: true,
    }),
    new UndiciInstrumentation({ requireParentforSpans: true }),
    new IORedisInstrumentation({
      requireParentSpan: true,
      // Arguments are keys and values: auth state, message ids, queue payloads. The name is enough.
      dbStatementSerializer: (command) => command,
    }),
    new PgInstrumentation({ requireParentSpan: true, enhancedDatabaseReporting: false }),
    new PrismaInstrumentation(),
    fastifyOtel(),
  ];
}

/**
 * Registers the ESM loader hook for the instrumented modules and enables their instrumentations.
 * Call it first in an entry point, before importing Fastify, ioredis, pg or Prisma; idempotent.
 */
export function instrumentModules(): Promise<void> {
  enabled ??= (async () => {
    const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
    register('import-in-the-middle/hook.mjs', import.meta.url, registerOptions);
    registerInstrumentations({ instrumentations: moduleInstrumentations() });
    // The hook runs on the loader thread: wait until it knows every module to wrap.
    await waitForAllMessagesAcknowledged();
  })();
  return enabled;
}

/**
 * The Fastify plugin of `@fastify/otel`: a span per request under the http server span, named by
 * route, with the hooks and handler as children. Register it on the app before its routes.
 */
export function fastifyTracing(): ReturnType<FastifyOtelInstrumentation['plugin']> {
  return fastifyOtel().plugin();
}
