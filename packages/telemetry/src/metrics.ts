import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { METRIC_PREFIX, METRIC_UNITS, type MetricType } from './names.ts';

/** A metric name that breaks the naming convention in `names.ts`. */
export class MetricNameError extends Error {
  /** Creates the error; the message says which rule the name breaks. */
  constructor(message: string) {
    super(message);
    this.name = 'MetricNameError';
  }
}

const NAME = /^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$/;
// Prometheus wants base units; a dashboard dividing by 1000 in one panel and not in
// the next is how latency graphs end up wrong by three orders of magnitude.
const NON_BASE_UNITS = new Set([
  'ms',
  'millis',
  'milliseconds',
  'microseconds',
  'nanoseconds',
  'minutes',
  'hours',
  'days',
  'kb',
  'mb',
  'gb',
  'kilobytes',
  'megabytes',
  'percent',
]);
const UNITS: ReadonlySet<string> = new Set(METRIC_UNITS);

/**
 * Throws `MetricNameError` unless `name` is `switchboard_<component>_<thing>_<unit>`:
 * lowercase snake case, the `switchboard_` prefix, at least three parts after it,
 * base units only, `_total` on counters and only on counters, and for gauges and
 * histograms a last part from `METRIC_UNITS`.
 */
export function checkMetricName(name: string, type: MetricType): void {
  const fail = (rule: string): never => {
    throw new MetricNameError(`metric name "${name}" ${rule}`);
  };
  if (!NAME.test(name)) fail('must be lowercase snake case (a-z, 0-9, single underscores)');
  if (!name.startsWith(METRIC_PREFIX)) fail(`must start with "${METRIC_PREFIX}"`);
  const parts = name.slice(METRIC_PREFIX.length).split('_');
  const unitless = parts.at(-1) === 'total' ? parts.slice(0, -1) : parts;
  const nonBase = parts.find((part) => NON_BASE_UNITS.has(part));
  if (nonBase !== undefined) fail(`uses "${nonBase}"; use base units (seconds, bytes, ratio)`);
  if (type === 'counter') {
    if (parts.at(-1) !== 'total') fail('is a counter and must end in "_total"');
    if (unitless.length < 2) fail('must be switchboard_<component>_<thing>_total');
    return;
  }
  if (parts.at(-1) === 'total') fail(`is a ${type}; only counters end in "_total"`);
  if (parts.length < 3) fail('must be switchboard_<component>_<thing>_<unit>');
  if (!UNITS.has(parts.at(-1)!)) {
    fail(`must end in a unit from METRIC_UNITS (${METRIC_UNITS.join(', ')}); add one to names.ts if needed`);
  }
}

/** Options for `MetricsRegistry`. */
export interface MetricsRegistryOptions {
  /** Service name, added as the `service` label on every series. */
  service: string;
  /** More labels on every series, e.g. `{ tenant: 'acme' }` for a tenant's own pods. */
  defaultLabels?: Record<string, string>;
  /**
   * Collect Node.js process metrics (CPU, memory, event loop lag, GC) under prom-client's stock
   * names (`process_cpu_user_seconds_total`, `nodejs_eventloop_lag_seconds`), which the common
   * Node.js dashboards query; default true.
   */
  collectDefaultMetrics?: boolean;
}

/** What every metric helper takes; a `MetricDefinition` from `names.ts` fits. */
export interface MetricOptions<L extends string> {
  /** Checked by `checkMetricName`, unless `stock`. */
  name: string;
  /** A name another project defines, kept as is (see `MetricDefinition.stock`). */
  stock?: true;
  /** One line for `# HELP`. */
  help: string;
  /** Label names; low cardinality only. */
  labelNames?: readonly L[];
}

/** Options for a histogram: buckets in the metric's unit (seconds for latency). */
export interface HistogramOptions<L extends string> extends MetricOptions<L> {
  /** Bucket upper bounds; default prom-client's (5ms to 10s). */
  buckets?: number[];
}

/** Options for a gauge; `collect` runs at scrape time to set the value. */
export interface GaugeOptions<L extends string> extends MetricOptions<L> {
  /** Called on every scrape; set the gauge from current state here. */
  collect?: (this: Gauge<L>) => void | Promise<void>;
}

/**
 * A service's Prometheus registry: the prom-client `Registry` (for the /metrics
 * route), Node.js default metrics, default labels, and helpers that refuse metric
 * names outside the convention, so a bad name fails in the first test that creates
 * it instead of in a dashboard.
 */
export class MetricsRegistry {
  /** The underlying prom-client registry. */
  readonly registry: Registry;

  /** Creates the registry and starts default metric collection unless disabled. */
  constructor(options: MetricsRegistryOptions) {
    this.registry = new Registry();
    this.registry.setDefaultLabels({ ...options.defaultLabels, service: options.service });
    if (options.collectDefaultMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry });
    }
  }

  /** A counter; its name must end in `_total`. */
  counter<L extends string = never>(options: MetricOptions<L>): Counter<L> {
    if (!options.stock) checkMetricName(options.name, 'counter');
    const { stock: _stock, ...metric } = options;
    return new Counter<L>({ ...metric, labelNames: options.labelNames ?? [], registers: [this.registry] });
  }

  /** A gauge; its name must end in a unit from `METRIC_UNITS`. */
  gauge<L extends string = never>(options: GaugeOptions<L>): Gauge<L> {
    if (!options.stock) checkMetricName(options.name, 'gauge');
    const { stock: _stock, ...metric } = options;
    return new Gauge<L>({ ...metric, labelNames: options.labelNames ?? [], registers: [this.registry] });
  }

  /** A histogram; its name must end in a unit from `METRIC_UNITS` (seconds for latency). */
  histogram<L extends string = never>(options: HistogramOptions<L>): Histogram<L> {
    if (!options.stock) checkMetricName(options.name, 'histogram');
    const { stock: _stock, ...metric } = options;
    return new Histogram<L>({ ...metric, labelNames: options.labelNames ?? [], registers: [this.registry] });
  }

  /** The exposition text for a scrape. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  /** Content-Type header for `metrics()`. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Removes every metric; for shutdown and tests. */
  clear(): void {
    this.registry.clear();
  }
}

/** Creates a `MetricsRegistry`; see its options. */
export function createMetricsRegistry(options: MetricsRegistryOptions): MetricsRegistry {
  return new MetricsRegistry(options);
}
