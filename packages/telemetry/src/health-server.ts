import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MetricsRegistry } from './metrics.ts';

/**
 * One named health check: passes unless it returns false or throws (the error's message
 * is shown). Checks should be cheap reads of state, not API calls: the kubelet probes often.
 */
// biome-ignore lint/suspicious/noConfusingVoidType: a check that only throws on failure returns void.
export type HealthCheck = () => boolean | void | Promise<boolean | void>;

/** Options for `HealthServer`. */
export interface HealthServerOptions {
  /** Address to bind; default `0.0.0.0` (the kubelet probes the pod IP). Tests use 127.0.0.1. */
  host?: string;
  /** Port to bind; 0 picks a free one (tests). */
  port: number;
  /** Served on /metrics; without it /metrics is 404. */
  metrics?: MetricsRegistry;
  /** Checks behind /healthz (liveness): failing ones get the pod restarted, so keep them few. */
  livenessChecks?: Record<string, HealthCheck>;
  /** Checks behind /readyz (readiness): e.g. informers synced. */
  readinessChecks?: Record<string, HealthCheck>;
  /** A check that takes longer than this fails; default 5 s. */
  checkTimeoutMs?: number;
}

interface CheckResult {
  name: string;
  ok: boolean;
  reason?: string;
}

/**
 * A service's probe and metrics endpoint (the operator's and the workers'), like
 * controller-runtime's health probe and metrics servers in one: `/healthz` and `/readyz` answer 200 when every check passes and
 * 503 listing the failing ones otherwise, in the API server's `[+]name ok` format
 * (`?verbose` lists passing checks too); `/metrics` is the Prometheus exposition.
 */
export class HealthServer {
  private readonly options: HealthServerOptions;
  private readonly liveness = new Map<string, HealthCheck>();
  private readonly readiness = new Map<string, HealthCheck>();
  private readonly server: http.Server;

  /** Creates the server; call `listen` to bind. */
  constructor(options: HealthServerOptions) {
    this.options = options;
    for (const [name, check] of Object.entries(options.livenessChecks ?? {})) this.liveness.set(name, check);
    for (const [name, check] of Object.entries(options.readinessChecks ?? {}))
      this.readiness.set(name, check);
    this.server = http.createServer((request, response) => {
      this.handle(request, response).catch((error: unknown) => {
        response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        response.end(`internal error: ${error instanceof Error ? error.message : String(error)}\n`);
      });
    });
  }

  /** Adds (or replaces) a liveness check. */
  addLivenessCheck(name: string, check: HealthCheck): void {
    this.liveness.set(name, check);
  }

  /** Adds (or replaces) a readiness check. */
  addReadinessCheck(name: string, check: HealthCheck): void {
    this.readiness.set(name, check);
  }

  /** Binds and resolves with the address actually bound (the port, when 0 was asked for). */
  async listen(): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host ?? '0.0.0.0', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const address = this.server.address() as AddressInfo;
    return { host: address.address, port: address.port };
  }

  /** Stops listening and closes open connections. */
  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://health');
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
      response.end('method not allowed\n');
      return;
    }
    if (url.pathname === '/healthz' || url.pathname === '/livez') {
      await this.answerChecks(response, 'healthz', this.liveness, url.searchParams.has('verbose'));
      return;
    }
    if (url.pathname === '/readyz') {
      await this.answerChecks(response, 'readyz', this.readiness, url.searchParams.has('verbose'));
      return;
    }
    if (url.pathname === '/metrics' && this.options.metrics) {
      const text = await this.options.metrics.metrics();
      response.writeHead(200, { 'content-type': this.options.metrics.contentType });
      response.end(request.method === 'HEAD' ? undefined : text);
      return;
    }
    response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    response.end('not found\n');
  }

  private async answerChecks(
    response: http.ServerResponse,
    kind: string,
    checks: ReadonlyMap<string, HealthCheck>,
    verbose: boolean,
  ): Promise<void> {
    const results = await Promise.all([...checks].map(([name, check]) => this.run(name, check)));
    const ok = results.every((r) => r.ok);
    // Like the API server: a failure lists every check, so the passing ones rule themselves out.
    const lines = results.map((r) =>
      r.ok ? `[+]${r.name} ok` : `[-]${r.name} failed: ${r.reason ?? 'reason withheld'}`,
    );
    const body = verbose || !ok ? `${lines.join('\n')}\n${kind} check ${ok ? 'passed' : 'failed'}\n` : 'ok\n';
    response.writeHead(ok ? 200 : 503, {
      'content-type': 'text/plain; charset=utf-8',
      'cache-control': 'no-store',
    });
    response.end(body);
  }

  private async run(name: string, check: HealthCheck): Promise<CheckResult> {
    const timeoutMs = this.options.checkTimeoutMs ?? 5000;
    let timer: NodeJS.Timeout | undefined;
    try {
      const result = await Promise.race([
        Promise.resolve().then(check),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      return result === false ? { name, ok: false, reason: 'not ready' } : { name, ok: true };
    } catch (error) {
      return { name, ok: false, reason: error instanceof Error ? error.message : String(error) };
    } finally {
      clearTimeout(timer);
    }
  }
}
