import { createServer, request, type Server } from 'node:http';

export interface IngressProxyOptions {
  /** The Ingress's host name the tenant's API answers for, e.g. dev.switchboard.test. */
  host: string;
  /** The Ingress controller's address (Traefik on the one-node cluster: 127.0.0.1:18080). */
  ingress: { hostname: string; port: number };
  /** Local port to listen on (0: any free one). */
  port: number;
  /** Local address to listen on; loopback unless told otherwise. */
  listen?: string;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

/**
 * The inbox and API through the cluster's Ingress at a plain localhost URL: every request is
 * passed to the Ingress controller with the tenant's Host header (the browser cannot resolve the
 * Ingress host, and no /etc/hosts entry is needed), responses are streamed back as they come
 * (server-sent events included). An unreachable Ingress answers 502 with the reason.
 */
export function startIngressProxy(options: IngressProxyOptions): Promise<{ server: Server; port: number }> {
  const server = createServer((incoming, outgoing) => {
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(incoming.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
    }
    headers.host = options.host;
    headers['x-forwarded-host'] = incoming.headers.host ?? `localhost:${options.port}`;
    headers['x-forwarded-proto'] = 'http';
    const upstream = request(
      {
        hostname: options.ingress.hostname,
        port: options.ingress.port,
        method: incoming.method,
        path: incoming.url,
        headers,
      },
      (response) => {
        const back: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(response.headers)) {
          if (value !== undefined && !HOP_BY_HOP.has(name)) back[name] = value;
        }
        outgoing.writeHead(response.statusCode ?? 502, back);
        response.pipe(outgoing);
      },
    );
    upstream.on('error', (error) => {
      if (outgoing.headersSent) {
        outgoing.destroy(error);
        return;
      }
      outgoing.writeHead(502, { 'content-type': 'text/plain; charset=utf-8' });
      outgoing.end(
        `The Ingress at ${options.ingress.hostname}:${options.ingress.port} did not answer: ${error.message}\n`,
      );
    });
    incoming.on('aborted', () => upstream.destroy());
    outgoing.on('close', () => upstream.destroy());
    incoming.pipe(upstream);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.listen ?? '127.0.0.1', () => {
      server.off('error', reject);
      const address = server.address();
      resolve({ server, port: typeof address === 'object' && address ? address.port : options.port });
    });
  });
}
