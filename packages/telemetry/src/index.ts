/**
 * @switchboard/telemetry: the platform's logger, metrics, tracing and error reporting,
 * all behind one redaction policy, started together by `startTelemetry`.
 */
/** /livez (/healthz), /readyz and /metrics on one small HTTP server. */
export { type HealthCheck, HealthServer, type HealthServerOptions } from './health-server.ts';
export { createLogger, type Logger, type LoggerOptions } from './logger.ts';
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
  extractTraceContext,
  injectTraceContext,
  type JobSpanOptions,
  startTracing,
  type TraceCarrier,
  type TracingHandle,
  type TracingOptions,
  tracesUrl,
  withJobContext,
} from './tracing.ts';
