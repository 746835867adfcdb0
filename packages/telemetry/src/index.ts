/**
 * @switchboard/telemetry: the platform's logger, metrics, tracing and error reporting,
 * all behind one redaction policy, started together by `startTelemetry`.
 */
/** /livez (/healthz), /readyz and /metrics on one small HTTP server. */
export { type HealthCheck, HealthServer, type HealthServerOptions } from './health-server.ts';
/** The libraries' OpenTelemetry instrumentations (http, undici, ioredis, pg, Prisma, Fastify). */
export { fastifyTracing, instrumentModules, moduleInstrumentations } from './instrumentation.ts';
export { createLogger, type Logger, type LoggerOptions, withLogContext } from './logger.ts';
export {
  checkMetricName,
  createMetricsRegistry,
  type GaugeOptions,
  type HistogramOptions,
  MetricNameError,
  type MetricOptions,
  MetricsRegistry,
  type MetricsRegistryOptions,
} from './metrics.ts';
export {
  logFields,
  METRIC_PREFIX,
  METRIC_UNITS,
  type MetricDefinition,
  type MetricType,
  metricDefinitions,
  spanAttributes,
  TRACER_NAME,
} from './names.ts';
/** The message pipelines' counters and latencies (one set per process). */
export { type PipelineMetrics, pipelineMetrics, registerPipelineMetrics } from './pipeline-metrics.ts';
/** BullMQ's tracing with the messaging semantic conventions. */
export { createQueueTelemetry, queueTelemetry } from './queue-telemetry.ts';
export {
  isSensitiveKey,
  LOG_REDACT_PATHS,
  maskText,
  PHONE_MASK,
  REDACTED,
  redactValue,
  serializeError,
} from './redaction.ts';
export {
  captureError,
  type ErrorContext,
  initSentry,
  type SentryHandle,
  type SentryOptions,
  scrubSentryBreadcrumb,
  scrubSentryEvent,
} from './sentry.ts';
export {
  type StartTelemetryOptions,
  startTelemetry,
  type Telemetry,
  type TelemetryStartConfig,
} from './start.ts';
export {
  currentTraceContext,
  currentTraceparent,
  EntryPointSampler,
  extractTraceContext,
  injectTraceContext,
  type JobSpanOptions,
  type SpanOptions,
  startTracing,
  type TraceCarrier,
  type TraceContext,
  type TracingHandle,
  type TracingOptions,
  traceContextFromTraceparent,
  tracesUrl,
  withHttpClientSpan,
  withJobContext,
  withSpan,
  withTraceContext,
} from './tracing.ts';
