import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { startTracingSdk } from '../tracing.ts';

/** A span as a test reads it back: ids, parent, kind, links and attributes. */
export interface FinishedSpan {
  name: string;
  traceId: string;
  spanId: string;
  /** The parent's span id; undefined for a root. */
  parentSpanId: string | undefined;
  kind: 'internal' | 'server' | 'client' | 'producer' | 'consumer';
  /** The span contexts it links to. */
  links: Array<{ traceId: string; spanId: string }>;
  attributes: Record<string, unknown>;
}

/** Tracing into memory, for tests. */
export interface MemoryTracing {
  /** Every span ended so far, in the order they ended (after the exports in progress finish). */
  spans(): Promise<FinishedSpan[]>;
  /** Unregisters the SDK (a later start may register again). */
  shutdown(): Promise<void>;
}

const KINDS: Record<SpanKind, FinishedSpan['kind']> = {
  [SpanKind.INTERNAL]: 'internal',
  [SpanKind.SERVER]: 'server',
  [SpanKind.CLIENT]: 'client',
  [SpanKind.PRODUCER]: 'producer',
  [SpanKind.CONSUMER]: 'consumer',
};

function finished(span: ReadableSpan): FinishedSpan {
  return {
    name: span.name,
    traceId: span.spanContext().traceId,
    spanId: span.spanContext().spanId,
    parentSpanId: span.parentSpanContext?.spanId,
    kind: KINDS[span.kind],
    links: span.links.map((link) => ({ traceId: link.context.traceId, spanId: link.context.spanId })),
    attributes: { ...span.attributes },
  };
}

/**
 * Starts the process's tracing as `startTracing` does (same sampler and propagator, so BullMQ's
 * job contexts and the entry-point rule behave as in production) with every span exported
 * into memory as it ends: a test reads them back without a collector.
 */
export function startMemoryTracing(serviceName: string): MemoryTracing {
  const exporter = new InMemorySpanExporter();
  const processor = new SimpleSpanProcessor({ exporter });
  const handle = startTracingSdk({ serviceName }, { spanProcessors: [processor] });
  return {
    // An ended span is exported once the resource's detected attributes are in: flush first.
    spans: async () => {
      await processor.forceFlush();
      return exporter.getFinishedSpans().map(finished);
    },
    shutdown: () => handle.shutdown(),
  };
}
