import { SpanKind, trace } from '@opentelemetry/api';
import * as Sentry from '@sentry/node';
import { describe, expect, it } from 'vitest';
import { TRACER_NAME } from './names.ts';
import { startTelemetry } from './start.ts';
import { MemoryDestination } from './testing/memory-destination.ts';
import { startRecordingServer } from './testing/recording-server.ts';

describe('startTelemetry', () => {
  it('starts logging and metrics only when no endpoint or DSN is configured; shutdown is idempotent', async () => {
    const destination = new MemoryDestination();
    const telemetry = startTelemetry(
      { LOG_LEVEL: 'info', OTEL_SERVICE_NAME: 'cst-api', SENTRY_ENVIRONMENT: 'test' },
      { release: '2.0.0', destination, collectDefaultMetrics: false },
    );
    expect(telemetry.tracing.enabled).toBe(false);
    expect(telemetry.sentry.enabled).toBe(false);

    telemetry.logger.info({ phone: '+15551234567' }, 'ready');
    expect(destination.records().at(-1)).toMatchObject({
      name: 'cst-api',
      phone: '[REDACTED]',
      msg: 'ready',
    });
    expect(await telemetry.metrics.metrics()).toContain(
      'switchboard_service_build_info{version="2.0.0",service="cst-api"} 1',
    );

    const first = telemetry.shutdown();
    expect(telemetry.shutdown()).toBe(first);
    await first;
    expect(await telemetry.metrics.metrics()).toBe('\n');
  });

  it('with an OTLP endpoint and a DSN, shutdown delivers the pending span and error', async () => {
    const server = await startRecordingServer();
    try {
      const telemetry = startTelemetry(
        {
          LOG_LEVEL: 'silent',
          OTEL_SERVICE_NAME: 'cst-worker',
          OTEL_EXPORTER_OTLP_ENDPOINT: server.url,
          SENTRY_DSN: `http://public@127.0.0.1:${server.port}/7`,
          SENTRY_ENVIRONMENT: 'test',
        },
        { release: '2.0.0', destination: new MemoryDestination(), collectDefaultMetrics: false },
      );
      expect(telemetry.tracing.enabled).toBe(true);
      expect(telemetry.sentry.enabled).toBe(true);
      // A consumer span: the kind a job's span has (parentless INTERNAL spans are not sampled).
      trace.getTracer(TRACER_NAME).startActiveSpan('job', { kind: SpanKind.CONSUMER }, (span) => span.end());
      Sentry.captureException(new Error('worker crashed'));

      await telemetry.shutdown();
      await telemetry.shutdown();

      const paths = server.requests.map((request) => request.path);
      expect(paths).toContain('/v1/traces');
      const traces = server.requests.find((request) => request.path === '/v1/traces')!;
      expect(traces.body).toContain('"name":"job"');
      expect(traces.body).toContain('cst-worker');
      const event = server.requests.find(
        (request) => request.path.startsWith('/api/7/envelope/') && request.body.includes('"type":"event"'),
      );
      expect(event?.body).toContain('worker crashed');
      expect(Sentry.isEnabled()).toBe(false);
    } finally {
      await server.close();
    }
  });
});
