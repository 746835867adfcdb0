// The assistant's metrics (prom-client through the worker's registry): what it decided, the
// tokens and estimated cost the provider calls used, and how long the calls took.
import type { MetricsRegistry } from '@switchboard/telemetry';

/** The assistant's series: decisions by outcome and reason, tokens by direction, estimated cost, call latency. */
export type AssistantMetrics = ReturnType<typeof registerAssistantMetrics>;

/** Registers the assistant's series on `metrics`. */
export function registerAssistantMetrics(metrics: MetricsRegistry) {
  return {
    decisions: metrics.counter({
      name: 'switchboard_assistant_decisions_total',
      help: 'Customer messages the assistant decided on, by outcome and reason (governance refusals, provider errors).',
      labelNames: ['outcome', 'reason'],
    }),
    tokens: metrics.counter({
      name: 'switchboard_assistant_tokens_total',
      help: 'Tokens used by assistant provider calls, by direction (in, out) and model.',
      labelNames: ['direction', 'model'],
    }),
    cost: metrics.counter({
      name: 'switchboard_assistant_cost_dollars_total',
      help: 'Estimated cost of assistant provider calls in US dollars, by model (list prices).',
      labelNames: ['model'],
    }),
    callDuration: metrics.histogram({
      name: 'switchboard_assistant_call_duration_seconds',
      help: 'Duration of assistant provider calls.',
      labelNames: ['model', 'outcome'],
      buckets: [0.25, 0.5, 1, 2, 4, 8, 15, 30, 60],
    }),
  };
}
