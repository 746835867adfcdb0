import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EnsureGoBuildOptions } from '@switchboard/envtest';
import { ensureJaegerBinary } from './jaeger-binary.ts';
import { freePort } from './ports.ts';
import { type ServiceProcess, startProcess } from './processes.ts';

/** One span as Jaeger's query API (`/api/traces/<id>`) returns it. */
export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  /** CHILD_OF / FOLLOWS_FROM references to other spans. */
  references: Array<{ refType: string; traceID: string; spanID: string }>;
  startTime: number;
  duration: number;
  tags: Array<{ key: string; type: string; value: unknown }>;
  processID: string;
}

/** One trace as Jaeger's query API returns it. */
export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  /** processID -> the service (service.name) and its resource attributes. */
  processes: Record<string, { serviceName: string; tags: Array<{ key: string; value: unknown }> }>;
}

/** A running Jaeger on loopback. */
export interface RunningJaeger {
  /** The OTLP/HTTP base URL (`http://127.0.0.1:<port>`), what OTEL_EXPORTER_OTLP_ENDPOINT takes. */
  otlpEndpoint: string;
  /** The query API's base URL. */
  queryUrl: string;
  /** Services that reported spans. */
  services(): Promise<string[]>;
  /** Traces of `service` in the last hour (Jaeger's `/api/traces?service=`), newest first. */
  traces(service: string, options?: { operation?: string; limit?: number }): Promise<JaegerTrace[]>;
  /** One trace by id; undefined when Jaeger has none. */
  trace(traceId: string): Promise<JaegerTrace | undefined>;
  /** The last lines the server printed. */
  output(): string;
  stop(): Promise<void>;
}

/** Options for {@link startJaeger}. */
export interface StartJaegerOptions extends EnsureGoBuildOptions {
  /** How long to wait for the query API to answer (default 60 s). */
  readyTimeoutMs?: number;
}

function configYaml(otlpPort: number, queryPort: number, queryGrpcPort: number): string {
  return `# Written by packages/testing/src/jaeger-server.ts: OTLP/HTTP in, memory storage, query API out.
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: []
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:${queryPort}
    grpc:
      endpoint: 127.0.0.1:${queryGrpcPort}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 10000
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${otlpPort}
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`;
}

/**
 * Starts Jaeger v2 (built from its Go module by jaeger-binary.ts) on free loopback ports: an OTLP/HTTP
 * receiver and the query API over in-memory storage, nothing else listening. Tracked like every
 * test server: stopped by `stop()`, killed on exit and on SIGINT/SIGTERM.
 */
export async function startJaeger(options: StartJaegerOptions = {}): Promise<RunningJaeger> {
  const binary = await ensureJaegerBinary(options);
  const [otlpPort, queryPort, queryGrpcPort] = [await freePort(), await freePort(), await freePort()];
  const home = await mkdtemp(join(tmpdir(), 'switchboard-jaeger-'));
  const config = join(home, 'jaeger.yaml');
  await writeFile(config, configYaml(otlpPort, queryPort, queryGrpcPort));
  const service: ServiceProcess = startProcess({
    name: 'jaeger',
    command: binary.path,
    args: ['--config', `file:${config}`],
    // Nothing from the runner's environment (its own OTEL_* settings would make it trace itself).
    env: {
      PATH: process.env.PATH ?? '',
      HOME: home,
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_SDK_DISABLED: 'true',
    },
    tempDirs: [home],
  });
  const queryUrl = `http://127.0.0.1:${queryPort}`;
  const get = async (path: string): Promise<{ status: number; body: { data?: unknown } }> => {
    const response = await fetch(`${queryUrl}${path}`, { signal: AbortSignal.timeout(10_000) });
    const text = await response.text();
    return { status: response.status, body: text === '' ? {} : JSON.parse(text) };
  };

  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  for (;;) {
    if (service.child.exitCode !== null || service.child.signalCode !== null) {
      await service.stop();
      throw new Error(`jaeger exited with ${service.child.exitCode} while starting:\n${service.output()}`);
    }
    const ready = await get('/api/services').then(
      (answer) => answer.status === 200,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      await service.stop();
      throw new Error(`jaeger did not answer at ${queryUrl}:\n${service.output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  return {
    otlpEndpoint: `http://127.0.0.1:${otlpPort}`,
    queryUrl,
    async services() {
      return ((await get('/api/services')).body.data as string[] | null) ?? [];
    },
    async traces(serviceName, query = {}) {
      const params = new URLSearchParams({
        service: serviceName,
        limit: String(query.limit ?? 100),
        lookback: '1h',
        ...(query.operation ? { operation: query.operation } : {}),
      });
      const answer = await get(`/api/traces?${params}`);
      return (answer.body.data as JaegerTrace[] | null) ?? [];
    },
    async trace(traceId) {
      const answer = await get(`/api/traces/${traceId}`);
      if (answer.status === 404) return undefined;
      return ((answer.body.data as JaegerTrace[] | null) ?? [])[0];
    },
    output: () => service.output(),
    stop: () => service.stop(),
  };
}
