// The assistant's metrics (prom-client through the worker's registry; names in
// packages/telemetry names.ts): what it decided, the tokens and estimated cost the provider calls
// used, and how long the calls took.
import { metricDefinitions as d, type MetricsRegistry } from '@switchboard/telemetry';

/** The assistant's series: decisions by outcome and reason, tokens by direction, estimated cost, call latency. */
export type AssistantMetrics = ReturnType<typeof registerAssistantMetrics>;

/** Registers the assistant's series on `metrics`. */
export function registerAssistantMetrics(metrics: MetricsRegistry) {
  return {
    decisions: metrics.counter<'outcome' | 'reason'>(d.assistantDecisionsTotal),
    tokens: metrics.counter<'direction' | 'model'>(d.assistantTokensTotal),
    cost: metrics.counter<'model'>(d.assistantCostTotal),
    // Provider calls take seconds, not milliseconds: buckets up to the longest timeout's range.
    callDuration: metrics.histogram<'model' | 'outcome'>({
      ...d.assistantCallDuration,
      buckets: [0.25, 0.5, 1, 2, 4, 8, 15, 30, 60],
    }),
  };
}
