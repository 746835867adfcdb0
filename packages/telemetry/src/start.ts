import type { LoggingConfig, TelemetryConfig } from '@switchboard/config';
import type { DestinationStream } from 'pino';
import { createLogger, type Logger } from './logger.ts';
import { MetricsRegistry } from './metrics.ts';
import { metricDefinitions } from './names.ts';
import { initSentry, type SentryHandle } from './sentry.ts';
import { startTracing, type TracingHandle, type TracingOptions } from './tracing.ts';

/** The configuration `startTelemetry` reads: the shared logging and telemetry schema parts. */
export type TelemetryStartConfig = LoggingConfig & TelemetryConfig;

/** What a service adds that is not configuration. */
export interface StartTelemetryOptions {
  /** The running version (image tag or package version): service.version, Sentry release, build info. */
  release?: string;
  /** Log destination; default stdout. */
  destination?: DestinationStream;
  /** Extra labels on every metric series. */
  defaultLabels?: Record<string, string>;
  /** Collect Node.js default metrics; default true. */
  collectDefaultMetrics?: boolean;
  /** OpenTelemetry instrumentations for the service's libraries. */
  instrumentations?: TracingOptions['instrumentations'];
}

/** A service's running telemetry. */
export interface Telemetry {
  /** The service's root logger. */
  logger: Logger;
  /** The service's metrics registry (serve `metrics.metrics()` on /metrics). */
  metrics: MetricsRegistry;
  /** The tracing pipeline; `enabled` is false without OTEL_EXPORTER_OTLP_ENDPOINT. */
  tracing: TracingHandle;
  /** The Sentry client; `enabled` is false without SENTRY_DSN. */
  sentry: SentryHandle;
  /** Flushes spans and error reports, then logs; each part is stopped even if another fails. Idempotent. */
  shutdown(): Promise<void>;
}

/**
 * Starts logging, metrics, tracing (when an OTLP endpoint is set) and Sentry (when a
 * DSN is set) from the shared configuration. Call it once, right after loading
 * configuration, and `shutdown()` last on SIGTERM so the final spans and errors are
 * delivered.
 */
export function startTelemetry(config: TelemetryStartConfig, options: StartTelemetryOptions = {}): Telemetry {
  const serviceName = config.OTEL_SERVICE_NAME;
  const logger = createLogger({
    level: config.LOG_LEVEL,
    name: serviceName,
    ...(options.destination === undefined ? {} : { destination: options.destination }),
  });
  const metrics = new MetricsRegistry({
    service: serviceName,
    ...(options.defaultLabels === undefined ? {} : { defaultLabels: options.defaultLabels }),
    ...(options.collectDefaultMetrics === undefined
      ? {}
      : { collectDefaultMetrics: options.collectDefaultMetrics }),
  });
  metrics.gauge(metricDefinitions.buildInfo).set({ version: options.release ?? 'unknown' }, 1);

  const tracing = startTracing({
    serviceName,
    environment: config.SENTRY_ENVIRONMENT,
    ...(options.release === undefined ? {} : { serviceVersion: options.release }),
    ...(config.OTEL_EXPORTER_OTLP_ENDPOINT === undefined
      ? {}
      : { otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT }),
    ...(options.instrumentations === undefined ? {} : { instrumentations: options.instrumentations }),
  });
  const sentry = initSentry({
    environment: config.SENTRY_ENVIRONMENT,
    serviceName,
    ...(config.SENTRY_DSN === undefined ? {} : { dsn: config.SENTRY_DSN }),
    ...(options.release === undefined ? {} : { release: options.release }),
  });
  logger.debug({ tracing: tracing.enabled, sentry: sentry.enabled }, 'telemetry started');

  let stopping: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    const parts: Array<[string, () => Promise<unknown>]> = [
      ['tracing', () => tracing.shutdown()],
      ['sentry', () => sentry.close()],
    ];
    for (const [part, close] of parts) {
      try {
        await close();
      } catch (error) {
        logger.error({ err: error, part }, 'telemetry part failed to shut down');
      }
    }
    metrics.clear();
    await new Promise<void>((resolve) => {
      logger.flush(() => resolve());
    });
  };
  return {
    logger,
    metrics,
    tracing,
    sentry,
    shutdown() {
      stopping ??= stop();
      return stopping;
    },
  };
}
