import { describe, expect, it } from 'vitest';
import { checkMetricName, createMetricsRegistry, MetricNameError } from './metrics.ts';
import { type MetricDefinition, metricDefinitions } from './names.ts';

describe('checkMetricName', () => {
  it('accepts names that follow switchboard_<component>_<thing>_<unit>', () => {
    expect(() => checkMetricName('switchboard_outbound_messages_sent_total', 'counter')).not.toThrow();
    expect(() => checkMetricName('switchboard_webhook_deliveries_total', 'counter')).not.toThrow();
    expect(() => checkMetricName('switchboard_http_request_duration_seconds', 'histogram')).not.toThrow();
    expect(() => checkMetricName('switchboard_worker_owned_sessions', 'gauge')).not.toThrow();
    expect(() => checkMetricName('switchboard_queue_oldest_job_age_seconds', 'gauge')).not.toThrow();
  });

  it.each([
    ['http_requests_total', 'counter', 'must start with "switchboard_"'],
    ['switchboard_Outbound_total', 'counter', 'lowercase snake case'],
    ['switchboard__double_total', 'counter', 'lowercase snake case'],
    ['switchboard_outbound_messages_sent', 'counter', 'must end in "_total"'],
    ['switchboard_sent_total', 'counter', 'switchboard_<component>_<thing>_total'],
    ['switchboard_worker_sessions_total', 'gauge', 'only counters end in "_total"'],
    ['switchboard_http_request_duration_ms', 'histogram', 'uses "ms"; use base units'],
    ['switchboard_http_latency_milliseconds_total', 'counter', 'uses "milliseconds"'],
    ['switchboard_worker_sessions', 'gauge', 'switchboard_<component>_<thing>_<unit>'],
    ['switchboard_worker_sessions_owned', 'gauge', 'must end in a unit from METRIC_UNITS'],
  ] as const)('rejects %s (%s)', (name, type, rule) => {
    expect(() => checkMetricName(name, type)).toThrow(MetricNameError);
    expect(() => checkMetricName(name, type)).toThrow(rule);
  });

  it('holds for every metric declared in names.ts', () => {
    for (const definition of Object.values(metricDefinitions) as MetricDefinition[]) {
      if (definition.stock) {
        // controller-runtime's names, kept as they are.
        expect(definition.name).toMatch(/^(controller_runtime|workqueue|leader_election)_/);
        continue;
      }
      expect(() => checkMetricName(definition.name, definition.type)).not.toThrow();
    }
  });
});

describe('MetricsRegistry', () => {
  it('exposes counters, gauges and histograms with the service and default labels', async () => {
    const metrics = createMetricsRegistry({ service: 'cst-api', defaultLabels: { tenant: 'acme' } });
    const sent = metrics.counter({
      name: 'switchboard_outbound_messages_sent_total',
      help: 'Messages handed to WhatsApp.',
      labelNames: ['channel'],
    });
    sent.inc({ channel: 'baileys' }, 2);
    metrics.gauge(metricDefinitions.buildInfo).set({ version: '1.2.3' }, 1);
    const latency = metrics.histogram({
      name: 'switchboard_http_request_duration_seconds',
      help: 'HTTP request latency.',
      buckets: [0.1, 1],
    });
    latency.observe(0.05);

    const text = await metrics.metrics();
    expect(text).toContain(
      'switchboard_outbound_messages_sent_total{channel="baileys",tenant="acme",service="cst-api"} 2',
    );
    expect(text).toContain(
      'switchboard_service_build_info{version="1.2.3",tenant="acme",service="cst-api"} 1',
    );
    expect(text).toContain(
      'switchboard_http_request_duration_seconds_bucket{le="0.1",tenant="acme",service="cst-api"} 1',
    );
    expect(metrics.contentType).toMatch(/^text\/plain/);
  });

  it("collects Node.js default metrics under prom-client's stock names, unless disabled", async () => {
    const withDefaults = await createMetricsRegistry({ service: 'cst-api' }).metrics();
    // The names the stock Node.js dashboards query.
    expect(withDefaults).toMatch(/^process_cpu_user_seconds_total\{service="cst-api"\} /m);
    expect(withDefaults).toMatch(/^nodejs_eventloop_lag_seconds\{service="cst-api"\} /m);
    expect(withDefaults).not.toContain('switchboard_process_');

    const without = await createMetricsRegistry({
      service: 'cst-api',
      collectDefaultMetrics: false,
    }).metrics();
    expect(without).not.toContain('process_cpu');
  });

  it('refuses a badly named metric before registering it', async () => {
    const metrics = createMetricsRegistry({ service: 'cst-api', collectDefaultMetrics: false });
    expect(() => metrics.counter({ name: 'switchboard_outbound_sent', help: 'x' })).toThrow(MetricNameError);
    expect(() => metrics.histogram({ name: 'switchboard_http_duration_ms', help: 'x' })).toThrow(
      MetricNameError,
    );
    expect(await metrics.metrics()).toBe('\n');
  });
});
