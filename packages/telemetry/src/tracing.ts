import {
  type Attributes,
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import {
  defaultResource,
  hostDetector,
  processDetector,
  resourceFromAttributes,
  serviceInstanceIdDetector,
} from '@opentelemetry/resources';
import { NodeSDK, type NodeSDKConfiguration } from '@opentelemetry/sdk-node';
import {
  AlwaysOnSampler,
  ParentBasedSampler,
  type Sampler,
  SamplingDecision,
  type SamplingResult,
} from '@opentelemetry/sdk-trace';
import {
  ATTR_DEPLOYMENT_ENVIRONMENT_NAME,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
} from '@opentelemetry/semantic-conventions';
import { TRACER_NAME } from './names.ts';
import { maskText } from './redaction.ts';

/** Options for `startTracing`. */
export interface TracingOptions {
  /** `service.name` on every span. */
  serviceName: string;
  /** `service.version`; the image tag or package version. */
  serviceVersion?: string;
  /** `deployment.environment.name`, e.g. production. */
  environment?: string;
  /** Base URL of an OTLP/HTTP collector (`http://otel-collector:4318`); tracing stays off without it. */
  otlpEndpoint?: string;
  /** More resource attributes, e.g. `{ 'switchboard.tenant': 'acme' }` for a tenant's pods. */
  resourceAttributes?: Attributes;
  /**
   * Instrumentations to enable with the SDK; the libraries' own are enabled before they are
   * imported by `instrumentModules` (instrumentation.ts), not here.
   */
  instrumentations?: NodeSDKConfiguration['instrumentations'];
}

/** A started (or deliberately not started) tracing pipeline. */
export interface TracingHandle {
  /** False when no endpoint was configured and nothing was started. */
  readonly enabled: boolean;
  /** Flushes pending spans to the collector and unregisters the SDK; idempotent. */
  shutdown(): Promise<void>;
}

// One W3C propagator, independent of what is registered globally: a job's carrier
// must be readable by any worker, whatever its tracing setup.
const propagator = new CompositePropagator({
  propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
});

let active = false;

/**
 * Which spans may start a trace: requests (SERVER), jobs and channel events (CONSUMER), and
 * enqueues (PRODUCER). A parentless INTERNAL or CLIENT span is background housekeeping (BullMQ's
 * getNextJob poll, a lease renewal's Redis round trip) that would otherwise be a trace of its own
 * every few milliseconds. Spans with a parent follow their parent's decision.
 */
export class EntryPointSampler implements Sampler {
  private readonly always = new AlwaysOnSampler();
  /** Samples roots of the entry-point kinds, drops the rest. */
  shouldSample(...args: Parameters<Sampler['shouldSample']>): SamplingResult {
    const kind = args[3];
    if (kind === SpanKind.SERVER || kind === SpanKind.CONSUMER || kind === SpanKind.PRODUCER) {
      return this.always.shouldSample();
    }
    return { decision: SamplingDecision.NOT_RECORD };
  }
  /** Names the sampler in diagnostics. */
  toString(): string {
    return 'EntryPointSampler';
  }
}

/** The OTLP/HTTP traces URL for a collector base URL (the OTEL_EXPORTER_OTLP_ENDPOINT convention). */
export function tracesUrl(endpoint: string): string {
  return new URL('v1/traces', endpoint.endsWith('/') ? endpoint : `${endpoint}/`).href;
}

/**
 * Starts the OpenTelemetry Node SDK exporting spans over OTLP/HTTP (JSON), only when
 * an endpoint is configured; otherwise returns a handle that does nothing, and spans
 * created through `@opentelemetry/api` are free no-ops. Only traces are set up:
 * logs go to stdout through pino and metrics are scraped from prom-client, so the
 * SDK is told explicitly not to start its own log and metric exporters (by default
 * it would send logs to localhost:4318).
 */
export function startTracing(options: TracingOptions): TracingHandle {
  if (options.otlpEndpoint === undefined) {
    return { enabled: false, shutdown: async () => {} };
  }
  return startTracingSdk(options, {
    traceExporter: new OTLPTraceExporter({ url: tracesUrl(options.otlpEndpoint) }),
  });
}

/**
 * {@link startTracing}'s SDK (resource, sampler, propagator) with the given exporter, or span
 * processors (a test's in-memory exporter: `startMemoryTracing` in testing/).
 */
export function startTracingSdk(
  options: Omit<TracingOptions, 'otlpEndpoint'>,
  output: Pick<NodeSDKConfiguration, 'traceExporter'> | Pick<NodeSDKConfiguration, 'spanProcessors'>,
): TracingHandle {
  if (active) throw new Error('tracing is already started in this process; shut it down first');

  // Merged onto the default resource to keep the telemetry.sdk.* attributes.
  const resource = defaultResource().merge(
    resourceFromAttributes({
      [ATTR_SERVICE_NAME]: options.serviceName,
      ...(options.serviceVersion === undefined ? {} : { [ATTR_SERVICE_VERSION]: options.serviceVersion }),
      ...(options.environment === undefined
        ? {}
        : { [ATTR_DEPLOYMENT_ENVIRONMENT_NAME]: options.environment }),
      ...options.resourceAttributes,
    }),
  );
  const sdk = new NodeSDK({
    resource,
    // Host and process identify the pod; the env detector is left out so resource
    // attributes come from configuration, not from whatever OTEL_* happens to be set.
    resourceDetectors: [hostDetector, processDetector, serviceInstanceIdDetector],
    ...output,
    sampler: new ParentBasedSampler({ root: new EntryPointSampler() }),
    textMapPropagator: propagator,
    instrumentations: options.instrumentations ?? [],
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  active = true;

  let stopping: Promise<void> | undefined;
  return {
    enabled: true,
    shutdown() {
      stopping ??= sdk.shutdown().finally(() => {
        // Unregister so a later start (tests, a restart in-process) can register again.
        trace.disable();
        propagation.disable();
        context.disable();
        active = false;
      });
      return stopping;
    },
  };
}

/** A queue job's trace context: W3C `traceparent` (and `tracestate`, `baggage`) as strings. */
export type TraceCarrier = Record<string, string>;

/**
 * Writes the current trace context into `carrier` (a new object by default) and
 * returns it; store it in the job's data when enqueueing inside a span.
 */
export function injectTraceContext(
  carrier: TraceCarrier = {},
  from: Context = context.active(),
): TraceCarrier {
  propagator.inject(from, carrier, {
    set: (target, key, value) => {
      target[key] = value;
    },
  });
  return carrier;
}

/**
 * Reads a trace context from a job's carrier. The base is the root context, not the
 * worker's current one: a job continues the trace that enqueued it, nothing else.
 */
export function extractTraceContext(
  carrier: TraceCarrier | undefined,
  base: Context = ROOT_CONTEXT,
): Context {
  if (carrier === undefined) return base;
  return propagator.extract(base, carrier, {
    get: (source, key) => source[key],
    keys: (source) => Object.keys(source),
  });
}

/** Options for `withJobContext`. */
export interface JobSpanOptions {
  /** Span attributes, e.g. `{ [spanAttributes.tenant]: 'acme' }`. */
  attributes?: Attributes;
}

/**
 * Runs `fn` inside a consumer span named `name` that continues the trace in
 * `carrier`, so the worker's spans (and log lines, which carry trace_id) join the
 * request that created the job. A thrown error marks the span failed, is recorded
 * with its message and stack masked (span events reach the collector, which is not
 * a place for phone numbers), and is rethrown.
 */
export async function withJobContext<T>(
  carrier: TraceCarrier | undefined,
  name: string,
  fn: (span: Span) => T | Promise<T>,
  options: JobSpanOptions = {},
): Promise<T> {
  return withSpan(
    name,
    {
      kind: 'consumer',
      parent: extractTraceContext(carrier),
      ...(options.attributes ? { attributes: options.attributes } : {}),
    },
    fn,
  );
}

/** A trace context captured with {@link currentTraceContext}, to continue later (another tick, a batch). */
export type TraceContext = Context;

/** The active trace context, to hand to {@link withSpan} when the work happens later. */
export function currentTraceContext(): TraceContext {
  return context.active();
}

/** Runs `fn` with `traced` (from {@link currentTraceContext}) as the active context. */
export function withTraceContext<T>(traced: TraceContext, fn: () => T): T {
  return context.with(traced, fn);
}

/** A W3C traceparent: version 00, trace id, span id, flags (55 characters, lowercase hex). */
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * The active span's W3C `traceparent`, to store beside a row that another process (or a later
 * run) continues; undefined outside a span or when tracing is off (no-op spans carry none).
 */
export function currentTraceparent(from: Context = context.active()): string | undefined {
  const value = injectTraceContext({}, from).traceparent;
  return value !== undefined && TRACEPARENT.test(value) ? value : undefined;
}

/**
 * The trace context a stored `traceparent` names (see {@link currentTraceparent}), as a parent
 * or link for {@link withSpan}; undefined for a missing or malformed value (a stored value is
 * external input by the time it is read), and for an all-zero trace or span id.
 */
export function traceContextFromTraceparent(value: string | null | undefined): TraceContext | undefined {
  if (typeof value !== 'string') return undefined;
  const match = TRACEPARENT.exec(value);
  if (!match || /^0+$/.test(match[1]!) || /^0+$/.test(match[2]!)) return undefined;
  const extracted = extractTraceContext({ traceparent: value });
  return trace.getSpanContext(extracted) ? extracted : undefined;
}

/** Options for {@link withSpan}. */
export interface SpanOptions {
  /** `consumer` for a received event, `producer` for a publish, `client` for an outgoing call, `internal` otherwise. */
  kind: 'consumer' | 'producer' | 'client' | 'internal';
  /** Span attributes (messaging.* semantic conventions, `spanAttributes`). */
  attributes?: Attributes;
  /** The context to continue; default the active one. */
  parent?: TraceContext;
  /**
   * Contexts the span is linked to without being their child (the messaging conventions' links:
   * e.g. the trace a status webhook arrived in, when the status is processed in the send's trace).
   * Contexts without a valid span are left out.
   */
  links?: TraceContext[];
}

const SPAN_KINDS = {
  consumer: SpanKind.CONSUMER,
  producer: SpanKind.PRODUCER,
  client: SpanKind.CLIENT,
  internal: SpanKind.INTERNAL,
};

/**
 * Runs `fn` in a span named `name` (a child of `parent` or of the active span), failing the span
 * with a masked message when `fn` throws; a no-op span when tracing is off.
 */
export async function withSpan<T>(
  name: string,
  options: SpanOptions,
  fn: (span: Span) => T | Promise<T>,
): Promise<T> {
  const tracer = trace.getTracer(TRACER_NAME);
  const links = (options.links ?? []).flatMap((linked) => {
    const spanContext = trace.getSpanContext(linked);
    return spanContext && trace.isSpanContextValid(spanContext) ? [{ context: spanContext }] : [];
  });
  const spanOptions = {
    kind: SPAN_KINDS[options.kind],
    ...(options.attributes ? { attributes: options.attributes } : {}),
    ...(links.length > 0 ? { links } : {}),
  };
  return tracer.startActiveSpan(name, spanOptions, options.parent ?? context.active(), async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      const message = maskText(failure.message);
      span.recordException({
        name: failure.name,
        message,
        ...(failure.stack === undefined ? {} : { stack: maskText(failure.stack) }),
      });
      span.setStatus({ code: SpanStatusCode.ERROR, message });
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * Runs one outgoing HTTP request `send` in a CLIENT span named after the method, with the HTTP
 * semantic conventions (`http.request.method`, `url.full`, `server.address`, `server.port`,
 * `http.response.status_code`, and `error.type` for a 4xx/5xx answer), for clients the http
 * instrumentation does not see. `send` gets the headers that carry the span's context
 * (`traceparent`) to add to the request, and answers the status code. `url.full` leaves out the
 * query and any credentials (a receiver's URL may hold a token there).
 */
export async function withHttpClientSpan(
  method: string,
  url: URL,
  send: (traceHeaders: TraceCarrier) => Promise<number>,
): Promise<number> {
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  return withSpan(
    method,
    {
      kind: 'client',
      attributes: {
        'http.request.method': method,
        'url.full': `${url.protocol}//${url.host}${url.pathname}`,
        'server.address': url.hostname,
        'server.port': port,
      },
    },
    async (span) => {
      const status = await send(injectTraceContext());
      span.setAttribute('http.response.status_code', status);
      if (status >= 400) {
        span.setAttribute('error.type', String(status));
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      return status;
    },
  );
}
