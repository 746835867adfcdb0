/**
 * The one place for telemetry names: metric definitions, span attribute names, log
 * field names. Dashboards, alert rules and runbooks refer to these strings, so a
 * rename here is a breaking change for them; add, do not rename.
 *
 * Metric names follow `switchboard_<component>_<thing>_<unit>`, counters end in
 * `_total`, units are base units (seconds, bytes). `checkMetricName` enforces it and
 * the test suite runs it over every definition below.
 */

/** Prefix of every Switchboard metric, including the Node.js default metrics. */
export const METRIC_PREFIX = 'switchboard_';

/**
 * Units a gauge or histogram name may end in: Prometheus base units, `info` for
 * info-style gauges, and the countable things this platform measures. Add a unit
 * here when a new kind of thing is counted.
 */
export const METRIC_UNITS = [
  'seconds',
  'bytes',
  'ratio',
  'info',
  'messages',
  'sessions',
  'jobs',
  'requests',
  'connections',
  'deliveries',
  'events',
  'workers',
  'tenants',
  'items',
  'attempts',
  'leases',
] as const;

/** The kinds of metric `MetricsRegistry` creates. */
export type MetricType = 'counter' | 'gauge' | 'histogram';

/** A metric's name, type, help text and labels, declared once here and created with `MetricsRegistry`. */
export interface MetricDefinition {
  /** `switchboard_<component>_<thing>_<unit>`. */
  readonly name: string;
  /** Counter, gauge or histogram. */
  readonly type: MetricType;
  /** One line for `# HELP`. */
  readonly help: string;
  /** Label names; keep them low-cardinality (never a phone number or message id). */
  readonly labelNames: readonly string[];
}

/** Every Switchboard metric. */
export const metricDefinitions = {
  /** Always 1, labelled with the running version, so PromQL can join a version onto any series. */
  buildInfo: {
    name: 'switchboard_service_build_info',
    type: 'gauge',
    help: 'Always 1; labelled with the running version of the service.',
    labelNames: ['version'],
  },
} as const satisfies Record<string, MetricDefinition>;

/** Attribute names on spans (and the matching fields in logs). */
export const spanAttributes = {
  /** Tenant id, the WhatsAppTenant's name. */
  tenant: 'switchboard.tenant',
  /** Session name within the tenant. */
  session: 'switchboard.session',
  /** Fencing epoch of the session lease a write or send carries. */
  sessionEpoch: 'switchboard.session.epoch',
  /** Worker pod that owns the session. */
  worker: 'switchboard.worker',
  /** Queue a job came from. */
  queue: 'switchboard.queue',
  /** Queue job id. */
  jobId: 'switchboard.job.id',
  /** Switchboard message id (never the provider's, never the text). */
  messageId: 'switchboard.message.id',
} as const;

/** Instrumentation scope name for spans created by Switchboard code. */
export const TRACER_NAME = 'switchboard';

/** Log fields that tie a log line to its trace (the OpenTelemetry log data model's names). */
export const logFields = {
  /** Trace id of the active span, 32 hex characters. */
  traceId: 'trace_id',
  /** Span id of the active span, 16 hex characters. */
  spanId: 'span_id',
} as const;
