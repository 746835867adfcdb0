import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** One request the server received, body decoded (gunzipped when needed). */
export interface RecordedRequest {
  /** HTTP method. */
  method: string;
  /** Path and query, e.g. `/v1/traces`. */
  path: string;
  /** Request headers, lowercased. */
  headers: IncomingHttpHeaders;
  /** Body as UTF-8 text. */
  body: string;
}

/** A local HTTP server standing in for an OTLP collector or a Sentry ingest endpoint. */
export interface RecordingServer {
  /** Base URL, `http://127.0.0.1:<port>`. */
  url: string;
  /** The port it listens on. */
  port: number;
  /** Every request so far, in arrival order. */
  requests: RecordedRequest[];
  /** Resolves with the first request (already received or future) that matches. */
  waitFor(predicate: (request: RecordedRequest) => boolean): Promise<RecordedRequest>;
  /** Drops open connections and stops listening. */
  close(): Promise<void>;
}

/** Starts a server on 127.0.0.1 with an ephemeral port that answers 200 `{}` to everything and records it. */
export async function startRecordingServer(): Promise<RecordingServer> {
  const requests: RecordedRequest[] = [];
  const waiters: Array<{
    predicate: (request: RecordedRequest) => boolean;
    resolve: (r: RecordedRequest) => void;
  }> = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
      const recorded = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body };
      requests.push(recorded);
      for (const waiter of [...waiters]) {
        if (waiter.predicate(recorded)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(recorded);
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    waitFor(predicate) {
      const found = requests.find(predicate);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve) => waiters.push({ predicate, resolve }));
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}
