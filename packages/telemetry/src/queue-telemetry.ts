import { type Span as OtelSpan, SpanStatusCode } from '@opentelemetry/api';
import type { Telemetry } from 'bullmq';
import { BullMQOtel } from 'bullmq-otel';
import { TRACER_NAME } from './names.ts';
import { maskText } from './redaction.ts';

/**
 * BullMQ's own tracing (`telemetry` on a Queue or Worker) through `bullmq-otel`, with the
 * OpenTelemetry messaging semantic conventions on top of BullMQ's `bullmq.*` attributes:
 * `messaging.system` = `bullmq`, `messaging.operation.type` (`send` for an add, `process` for a
 * job run), `messaging.operation.name`, `messaging.destination.name` (the queue) and
 * `messaging.message.id` (the job id).
 *
 * A job added inside a span carries that span's context in its options (BullMQ stores it with the
 * job), and the Worker's `process` span is its child: one trace from the request that enqueued a
 * send to the worker that performed it. BullMQ's housekeeping spans (getNextJob, the stalled-job
 * checks) are INTERNAL roots, which the tracing sampler drops (`tracing.ts`).
 */

type BullSpan = ReturnType<Telemetry['tracer']['startSpan']>;
type Attributes = Parameters<BullSpan['setAttributes']>[0];
type AttributeValue = Attributes[string];

// BullMQ's enum values (SpanKind in bullmq/enums), the same numbers as OpenTelemetry's.
const PRODUCER = 3;
const CONSUMER = 4;

// bullmq.* attribute -> messaging.* attribute with the same value.
const MESSAGING_ALIASES: Record<string, string> = {
  'bullmq.queue.name': 'messaging.destination.name',
  'bullmq.queue.operation': 'messaging.operation.name',
  'bullmq.job.id': 'messaging.message.id',
};

function withMessagingAliases(attributes: Attributes): Attributes {
  const result: Attributes = { ...attributes };
  for (const [key, value] of Object.entries(attributes)) {
    const alias = MESSAGING_ALIASES[key];
    if (alias !== undefined) result[alias] = value;
  }
  return result;
}

class MessagingSpan implements BullSpan {
  private readonly inner: BullSpan & { span?: OtelSpan };
  constructor(inner: BullSpan & { span?: OtelSpan }) {
    this.inner = inner;
  }
  setSpanOnContext(ctx: unknown): unknown {
    return this.inner.setSpanOnContext(ctx);
  }
  setAttribute(key: string, value: AttributeValue): void {
    this.inner.setAttributes(withMessagingAliases({ [key]: value }));
  }
  setAttributes(attributes: Attributes): void {
    this.inner.setAttributes(withMessagingAliases(attributes));
  }
  addEvent(name: string, attributes?: Attributes): void {
    this.inner.addEvent(name, attributes);
  }
  recordException(exception: unknown, time?: number): void {
    // BullMQ records what a job threw; the message may hold a phone number, and it fails the span.
    const error = exception instanceof Error ? exception : new Error(String(exception));
    const message = maskText(error.message);
    this.inner.recordException(
      { name: error.name, message, ...(error.stack ? { stack: maskText(error.stack) } : {}) },
      time,
    );
    this.inner.span?.setStatus({ code: SpanStatusCode.ERROR, message });
  }
  end(): void {
    this.inner.end();
  }
}

/** Creates the `telemetry` option for BullMQ Queues and Workers (see the module comment). */
export function createQueueTelemetry(): Telemetry {
  const otel = new BullMQOtel({ tracerName: TRACER_NAME, enableMetrics: false });
  const tracer = otel.tracer;
  return {
    contextManager: otel.contextManager,
    tracer: {
      startSpan(name, options, context) {
        const span = new MessagingSpan(tracer.startSpan(name, options, context) as never);
        const kind = options?.kind as number | undefined;
        span.setAttributes({
          'messaging.system': 'bullmq',
          ...(kind === PRODUCER ? { 'messaging.operation.type': 'send' } : {}),
          ...(kind === CONSUMER ? { 'messaging.operation.type': 'process' } : {}),
        });
        return span;
      },
    },
  };
}

let shared: Telemetry | undefined;

/** The process's one queue telemetry (spans are no-ops until tracing is started). */
export function queueTelemetry(): Telemetry {
  shared ??= createQueueTelemetry();
  return shared;
}
