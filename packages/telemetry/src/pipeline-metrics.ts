import { Counter, Histogram, type Metric } from 'prom-client';
import { checkMetricName, type MetricsRegistry } from './metrics.ts';
import { metricDefinitions as d, type MetricDefinition } from './names.ts';

/**
 * The message pipelines' counters and latencies, one set per process: the pipelines (inbound,
 * outbound, webhooks in packages/messaging) count into `pipelineMetrics()` wherever they run, and
 * the process's entry point (the worker) exposes them with `registerPipelineMetrics(registry)`.
 * Until then they count into metrics no registry serves (tests that do not scrape, the API).
 */
export interface PipelineMetrics {
  /** kind: message, receipt, identity; result: stored, duplicate, ignored, failed. */
  inboundEvents: Counter<'kind' | 'result'>;
  /** Seconds from an event reaching the pipeline to its commit. */
  inboundCommit: Histogram<'kind'>;
  /** result: sent, retry, failed, unknown; error_class: the channel error code or `none`. */
  sends: Counter<'channel' | 'result' | 'error_class'>;
  /** Seconds one channel send took. */
  sendDuration: Histogram<'channel' | 'result'>;
  /** stage: pending, expired. */
  unknownOutcomes: Counter<'stage'>;
  /** Seconds a send was put back because a rate-limit window was full (`_count`: how often). */
  rateLimitWait: Histogram<'channel'>;
  /** Outbound jobs failed for good (kept for replay). */
  deadLetters: Counter;
  /** result: delivered, retry, failed, skipped. */
  webhookDeliveries: Counter<'result'>;
  /** Seconds one webhook POST took. */
  webhookDuration: Histogram<'result'>;
}

// Latencies of a pipeline step: 5 ms (a local commit) to 30 s (a send riding a provider's timeout).
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
// A rate-limit wait lasts until the oldest send leaves its one-minute window: up to 60 s.
const RATE_LIMIT_WAIT_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 20, 30, 45, 60];

function counter<L extends string>(definition: MetricDefinition): Counter<L> {
  checkMetricName(definition.name, 'counter');
  return new Counter<L>({
    name: definition.name,
    help: definition.help,
    labelNames: definition.labelNames as L[],
    registers: [],
  });
}

function histogram<L extends string>(definition: MetricDefinition, buckets = LATENCY_BUCKETS): Histogram<L> {
  checkMetricName(definition.name, 'histogram');
  return new Histogram<L>({
    name: definition.name,
    help: definition.help,
    labelNames: definition.labelNames as L[],
    buckets,
    registers: [],
  });
}

let current: PipelineMetrics | undefined;

/** The process's pipeline metrics (created on first use). */
export function pipelineMetrics(): PipelineMetrics {
  current ??= {
    inboundEvents: counter(d.inboundEventsTotal),
    inboundCommit: histogram(d.inboundCommit),
    sends: counter(d.outboundSendsTotal),
    sendDuration: histogram(d.outboundSend),
    unknownOutcomes: counter(d.outboundUnknownOutcomesTotal),
    rateLimitWait: histogram(d.outboundRateLimitWait, RATE_LIMIT_WAIT_BUCKETS),
    deadLetters: counter(d.outboundDeadLettersTotal),
    webhookDeliveries: counter(d.webhookDeliveriesTotal),
    webhookDuration: histogram(d.webhookDelivery),
  };
  return current;
}

/** Serves the pipeline metrics from `metrics` (its /metrics); registering twice is a no-op. */
export function registerPipelineMetrics(metrics: MetricsRegistry): void {
  for (const metric of Object.values(pipelineMetrics()) as Metric[]) {
    const name = (metric as unknown as { name: string }).name;
    if (metrics.registry.getSingleMetric(name) === undefined) metrics.registry.registerMetric(metric);
  }
}
