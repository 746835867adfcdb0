import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

/**
 * TEST-ONLY: a plain-HTTP front for the real API server that forwards every request with an
 * admin KubeConfig's credentials, and can rewrite a request's URL or answer 503 for an
 * outage. It exists to make the real API server answer 410 Gone on demand (a watch from
 * resourceVersion 1), which nothing else provokes in a short test.
 */
export interface ApiFront {
  /** A KubeConfig that talks to the front (http, no credentials of its own). */
  readonly kubeConfig: KubeConfig;
  /** While true, every request gets 503 and open watches are cut. */
  setOutage(outage: boolean): void;
  /** Rewrites the next request whose URL matches; returns nothing to leave it alone. */
  rewriteNext(rewrite: (url: URL) => URL | undefined): void;
  /** Requests seen, as method and URL. */
  readonly requests: { method: string; url: string }[];
  /** Stops the front. */
  close(): Promise<void>;
}

/** TEST-ONLY: starts an `ApiFront` before the API server of `adminKubeConfig`. */
export async function startApiFront(adminKubeConfig: KubeConfig): Promise<ApiFront> {
  const upstreamBase = adminKubeConfig.getCurrentCluster()!.server.replace(/\/+$/, '');
  const credentials: https.RequestOptions = {};
  await adminKubeConfig.applyToHTTPSOptions(credentials);
  let outage = false;
  let rewrite: ((url: URL) => URL | undefined) | undefined;
  const requests: { method: string; url: string }[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    let url = new URL(upstreamBase + (req.url ?? '/'));
    if (rewrite) {
      const rewritten = rewrite(url);
      if (rewritten) {
        url = rewritten;
        rewrite = undefined;
      }
    }
    requests.push({ method: req.method ?? 'GET', url: url.pathname + url.search });
    if (outage) {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', status: 'Failure', code: 503, reason: 'ServiceUnavailable' }));
      return;
    }
    const upstream = https.request(
      url,
      {
        ...credentials,
        method: req.method ?? 'GET',
        headers: { ...req.headers, ...(credentials.headers ?? {}), host: url.host },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'front', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'front' }],
    contexts: [{ name: 'front', cluster: 'front', user: 'front' }],
    currentContext: 'front',
  });
  return {
    kubeConfig,
    requests,
    setOutage: (next) => {
      outage = next;
      if (next) for (const socket of sockets) socket.destroy();
    },
    rewriteNext: (fn) => {
      rewrite = fn;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
