import { context, ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from './logger.ts';
import { spanAttributes, TRACER_NAME } from './names.ts';
import { PHONE_MASK } from './redaction.ts';
import { MemoryDestination } from './testing/memory-destination.ts';
import { type MemoryTracing, startMemoryTracing } from './testing/memory-tracing.ts';
import { type RecordingServer, startRecordingServer } from './testing/recording-server.ts';
import {
  currentTraceContext,
  currentTraceparent,
  extractTraceContext,
  injectTraceContext,
  startTracing,
  type TraceCarrier,
  type TracingHandle,
  traceContextFromTraceparent,
  tracesUrl,
  withHttpClientSpan,
  withJobContext,
  withSpan,
} from './tracing.ts';

interface ExportedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  status?: { code?: number; message?: string };
  events?: Array<{ name: string; attributes: Array<{ key: string; value: { stringValue?: string } }> }>;
  attributes?: Array<{ key: string; value: { stringValue?: string } }>;
}

interface ExportedBatch {
  resourceAttributes: Record<string, string | undefined>;
  spans: ExportedSpan[];
}

/** Flattens the OTLP/JSON ExportTraceServiceRequest bodies the collector received. */
function exported(collector: RecordingServer): ExportedBatch[] {
  return collector.requests
    .filter((request) => request.method === 'POST' && request.path === '/v1/traces')
    .flatMap((request) => {
      const payload = JSON.parse(request.body) as {
        resourceSpans: Array<{
          resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> };
          scopeSpans: Array<{ spans: ExportedSpan[] }>;
        }>;
      };
      return payload.resourceSpans.map((resourceSpan) => ({
        resourceAttributes: Object.fromEntries(
          resourceSpan.resource.attributes.map((attribute) => [attribute.key, attribute.value.stringValue]),
        ),
        spans: resourceSpan.scopeSpans.flatMap((scope) => scope.spans),
      }));
    });
}

describe('tracesUrl', () => {
  it('appends v1/traces to the collector base URL, with or without a trailing slash or path', () => {
    expect(tracesUrl('http://otel-collector:4318')).toBe('http://otel-collector:4318/v1/traces');
    expect(tracesUrl('http://otel-collector:4318/')).toBe('http://otel-collector:4318/v1/traces');
    expect(tracesUrl('https://gateway.example/otlp')).toBe('https://gateway.example/otlp/v1/traces');
  });
});

describe('startTracing without an endpoint', () => {
  it('starts nothing: spans are non-recording and carriers stay empty', async () => {
    const handle = startTracing({ serviceName: 'cst-noop' });
    expect(handle.enabled).toBe(false);
    const carrier = trace.getTracer(TRACER_NAME).startActiveSpan('noop', (span) => {
      expect(span.isRecording()).toBe(false);
      span.end();
      return injectTraceContext();
    });
    expect(carrier).toEqual({});
    await handle.shutdown();
  });
});

describe('startTracing with an OTLP endpoint', () => {
  let collector: RecordingServer;
  let tracing: TracingHandle;

  beforeAll(async () => {
    collector = await startRecordingServer();
    tracing = startTracing({
      serviceName: 'cst-tracing',
      serviceVersion: '1.2.3',
      environment: 'test',
      otlpEndpoint: collector.url,
    });
  });

  afterAll(async () => {
    await tracing.shutdown();
    await collector.close();
  });

  it('refuses a second start while one is running', () => {
    expect(() => startTracing({ serviceName: 'again', otlpEndpoint: collector.url })).toThrow(
      /already started/,
    );
  });

  it('continues a trace from a job carrier in another async context, and exports both spans on shutdown', async () => {
    const tracer = trace.getTracer(TRACER_NAME);
    const destination = new MemoryDestination();
    const logger = createLogger({ level: 'info', name: 'cst-tracing', destination });

    // Producer: enqueue inside a request span.
    const { carrier, producerTraceId, producerSpanId } = tracer.startActiveSpan(
      'POST /v1/messages',
      { kind: SpanKind.SERVER },
      (span) => {
        const job = { data: { messageId: 'msg_1' }, trace: injectTraceContext() };
        span.end();
        return {
          carrier: job.trace,
          producerTraceId: span.spanContext().traceId,
          producerSpanId: span.spanContext().spanId,
        };
      },
    );
    expect(carrier.traceparent).toBe(`00-${producerTraceId}-${producerSpanId}-01`);

    // Consumer: a separate async context with no active span, as in a worker.
    const serialized = JSON.parse(JSON.stringify(carrier)) as TraceCarrier;
    const consumed = await context.with(ROOT_CONTEXT, async () => {
      await new Promise((resolve) => setImmediate(resolve));
      expect(trace.getActiveSpan()).toBeUndefined();
      return withJobContext(
        serialized,
        'outbound.send',
        (span) => {
          logger.info({ messageId: 'msg_1' }, 'sending');
          return { traceId: span.spanContext().traceId, spanId: span.spanContext().spanId };
        },
        { attributes: { [spanAttributes.tenant]: 'acme' } },
      );
    });
    expect(consumed.traceId).toBe(producerTraceId);
    expect(consumed.spanId).not.toBe(producerSpanId);
    expect(trace.getSpanContext(extractTraceContext(serialized))?.traceId).toBe(producerTraceId);

    // The log line written inside the job carries the trace.
    expect(destination.records()[0]).toMatchObject({ trace_id: producerTraceId, span_id: consumed.spanId });

    // A failing job: error recorded with its message masked, rethrown.
    await expect(
      withJobContext(serialized, 'outbound.send', () => {
        throw new Error('number +15551234567 is not on WhatsApp');
      }),
    ).rejects.toThrow('+15551234567');

    // Background work starts no trace (parentless INTERNAL and CLIENT spans: BullMQ's polls, a
    // lease renewal's Redis commands); an INTERNAL span under a request is kept.
    tracer.startActiveSpan('getNextJob', { kind: SpanKind.INTERNAL }, (span) => {
      expect(span.isRecording()).toBe(false);
      span.end();
    });
    tracer.startActiveSpan('evalsha', { kind: SpanKind.CLIENT }, (span) => span.end());
    tracer.startActiveSpan('GET /v1/conversations', { kind: SpanKind.SERVER }, (request) => {
      tracer.startActiveSpan('handler', (child) => {
        expect(child.isRecording()).toBe(true);
        child.end();
      });
      request.end();
    });

    // A hand-made HTTP CLIENT span under a job: its context goes out in the request's headers.
    let sentHeaders: TraceCarrier = {};
    const receiver = new URL('http://user:pw@receiver.test:8080/hook?token=s3cret');
    const status = await withJobContext(serialized, 'webhook.deliver', () =>
      withHttpClientSpan('POST', receiver, async (headers) => {
        sentHeaders = headers;
        return 503;
      }),
    );
    expect(status).toBe(503);

    await tracing.shutdown();
    await tracing.shutdown();

    const batches = exported(collector);
    const spans = batches.flatMap((batch) => batch.spans);
    expect(batches[0]?.resourceAttributes).toMatchObject({
      'service.name': 'cst-tracing',
      'service.version': '1.2.3',
      'deployment.environment.name': 'test',
    });
    expect(spans.map((span) => span.name)).not.toContain('getNextJob');
    expect(spans.map((span) => span.name)).not.toContain('evalsha');
    expect(spans.map((span) => span.name)).toContain('handler');
    const producer = spans.find((span) => span.name === 'POST /v1/messages');
    const consumers = spans.filter((span) => span.name === 'outbound.send');
    expect(producer).toMatchObject({ traceId: producerTraceId, spanId: producerSpanId });
    expect(consumers).toHaveLength(2);
    for (const consumer of consumers) {
      expect(consumer).toMatchObject({ traceId: producerTraceId, parentSpanId: producerSpanId, kind: 5 });
    }
    expect(consumers[0]?.attributes).toContainEqual({
      key: spanAttributes.tenant,
      value: { stringValue: 'acme' },
    });
    const failed = consumers[1]!;
    expect(failed.status).toMatchObject({ code: 2, message: `number ${PHONE_MASK} is not on WhatsApp` });
    expect(failed.events?.[0]?.name).toBe('exception');
    const body = collector.requests.map((request) => request.body).join('\n');
    expect(body).not.toContain('15551234567');
    const delivery = spans.find((span) => span.name === 'webhook.deliver')!;
    const post = spans.find((span) => span.name === 'POST')!;
    expect(post).toMatchObject({ traceId: producerTraceId, parentSpanId: delivery.spanId, kind: 3 });
    expect(post.status).toMatchObject({ code: 2 });
    expect(sentHeaders.traceparent).toBe(`00-${producerTraceId}-${post.spanId}-01`);
    const attributes = Object.fromEntries(
      (post.attributes ?? []).map((a) => [a.key, Object.values(a.value)[0] as unknown]),
    );
    expect(attributes).toMatchObject({
      'http.request.method': 'POST',
      'url.full': 'http://receiver.test:8080/hook',
      'server.address': 'receiver.test',
      'error.type': '503',
    });
    expect(String(attributes['server.port'])).toBe('8080');
    expect(String(attributes['http.response.status_code'])).toBe('503');
    expect(body).not.toContain('s3cret');
  });

  it('extracts nothing from an empty or missing carrier', () => {
    expect(trace.getSpanContext(extractTraceContext(undefined))).toBeUndefined();
    expect(trace.getSpanContext(extractTraceContext({}))).toBeUndefined();
  });
});

describe('a trace context stored as a traceparent', () => {
  let memory: MemoryTracing;

  beforeAll(() => {
    memory = startMemoryTracing('cst-traceparent');
  });

  afterAll(async () => {
    await memory.shutdown();
  });

  it('is the active span, read back as a parent or a link; malformed values are ignored', async () => {
    expect(currentTraceparent()).toBeUndefined();
    const stored = await withSpan('process outbound-s', { kind: 'consumer' }, (span) => ({
      traceparent: currentTraceparent(),
      traceId: span.spanContext().traceId,
      spanId: span.spanContext().spanId,
    }));
    expect(stored.traceparent).toBe(`00-${stored.traceId}-${stored.spanId}-01`);
    const arrived = await withSpan('process whatsapp.receipt', { kind: 'consumer' }, (span) => ({
      context: currentTraceContext(),
      traceId: span.spanContext().traceId,
      spanId: span.spanContext().spanId,
    }));
    await context.with(ROOT_CONTEXT, () =>
      withSpan(
        'process whatsapp.status',
        {
          kind: 'consumer',
          parent: traceContextFromTraceparent(stored.traceparent),
          // A context without a span is left out of the links.
          links: [arrived.context, ROOT_CONTEXT],
        },
        () => undefined,
      ),
    );
    const status = (await memory.spans()).find((span) => span.name === 'process whatsapp.status');
    expect(status).toMatchObject({
      traceId: stored.traceId,
      parentSpanId: stored.spanId,
      kind: 'consumer',
      links: [{ traceId: arrived.traceId, spanId: arrived.spanId }],
    });
    for (const bad of [
      undefined,
      null,
      '',
      `01-${'a'.repeat(32)}-${'b'.repeat(16)}-01`,
      `00-${'A'.repeat(32)}-${'b'.repeat(16)}-01`,
      `00-${'0'.repeat(32)}-${'b'.repeat(16)}-01`,
      `00-${'a'.repeat(32)}-${'0'.repeat(16)}-01`,
      `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01 `,
    ])
      expect(traceContextFromTraceparent(bad), String(bad)).toBeUndefined();
  });
});
