import { once } from 'node:events';
import { createServer, get, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startIngressProxy } from './proxy.ts';

// The proxy against a real HTTP server on loopback standing where the Ingress controller is.
const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<number> {
  const server = createServer(handler);
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

function fetchText(
  port: number,
  path: string,
): Promise<{ status: number; body: string; headers: IncomingMessage['headers'] }> {
  return new Promise((resolve, reject) => {
    get({ hostname: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    }).on('error', reject);
  });
}

describe('startIngressProxy', () => {
  it('passes requests on with the tenant host and streams the answer back as it comes', async () => {
    let release: (() => void) | undefined;
    const ingress = await listen((req, res) => {
      if (req.url === '/events') {
        // An event stream: the first event must reach the client while the response is open.
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: first\n\n');
        release = () => res.end('data: last\n\n');
        return;
      }
      res.writeHead(201, { 'content-type': 'application/json', 'x-upstream': 'yes' });
      res.end(
        JSON.stringify({
          host: req.headers.host,
          forwardedHost: req.headers['x-forwarded-host'],
          url: req.url,
        }),
      );
    });
    const { server, port } = await startIngressProxy({
      host: 'dev.switchboard.test',
      ingress: { hostname: '127.0.0.1', port: ingress },
      port: 0,
    });
    servers.push(server);

    const plain = await fetchText(port, '/v1/conversations?limit=5');
    expect(plain.status).toBe(201);
    expect(plain.headers['x-upstream']).toBe('yes');
    expect(JSON.parse(plain.body)).toEqual({
      host: 'dev.switchboard.test',
      forwardedHost: `127.0.0.1:${port}`,
      url: '/v1/conversations?limit=5',
    });

    const events = await new Promise<string>((resolve, reject) => {
      get({ hostname: '127.0.0.1', port, path: '/events' }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => {
          body += chunk;
          if (body === 'data: first\n\n') release?.();
        });
        res.on('end', () => resolve(body));
      }).on('error', reject);
    });
    expect(events).toBe('data: first\n\ndata: last\n\n');
  });

  it('answers 502 with the reason when the Ingress does not answer', async () => {
    // A port that was just free: nothing listens there any more.
    const closed = await listen(() => {});
    const gone = servers.pop() as Server;
    await new Promise((resolve) => gone.close(resolve));
    const { server, port } = await startIngressProxy({
      host: 'dev.switchboard.test',
      ingress: { hostname: '127.0.0.1', port: closed },
      port: 0,
    });
    servers.push(server);
    const answer = await fetchText(port, '/');
    expect(answer.status).toBe(502);
    expect(answer.body).toContain(`The Ingress at 127.0.0.1:${closed} did not answer`);
  });
});
