// The assistant's metrics (prom-client through the worker's registry; names in
// packages/telemetry names.ts): what it decided, the tokens and estimated cost the provider calls
// used, and how long the calls took.
import { metricDefinitions as d, type MetricDefinition, type MetricsRegistry } from '@switchboard/telemetry';

/** The assistant's series: decisions by outcome and reason, tokens by direction, estimated cost, call latency. */
export type AssistantMetrics = ReturnType<typeof registerAssistantMetrics>;

/** Registers the assistant's series on `metrics` (a second call returns the ones registered). */
export function registerAssistantMetrics(metrics: MetricsRegistry) {
  const counter = <L extends string>(definition: MetricDefinition) =>
    (metrics.registry.getSingleMetric(definition.name) as
      | ReturnType<typeof metrics.counter<L>>
      | undefined) ??
    metrics.counter<L>({ ...definition, labelNames: definition.labelNames as readonly L[] });
  const duration = d.assistantCallDuration;
  return {
    decisions: counter<'outcome' | 'reason'>(d.assistantDecisionsTotal),
    tokens: counter<'direction' | 'model'>(d.assistantTokensTotal),
    cost: counter<'model'>(d.assistantCostTotal),
    // Provider calls take seconds, not milliseconds: buckets up to the longest timeout's range.
    callDuration:
      (metrics.registry.getSingleMetric(duration.name) as
        | ReturnType<typeof metrics.histogram<'model' | 'outcome'>>
        | undefined) ??
      metrics.histogram<'model' | 'outcome'>({ ...duration, buckets: [0.25, 0.5, 1, 2, 4, 8, 15, 30, 60] }),
  };
}
