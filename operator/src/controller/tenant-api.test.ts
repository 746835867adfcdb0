// HttpTenantApi against local HTTP servers: what a tenant's API (the tenant's own pods, so not
// trusted) may answer, and what the operator makes of it.
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { tenantFixture } from '../testing/fixtures.ts';
import { HttpTenantApi, TenantApiError, tenantApiServiceUrl } from './tenant-api.ts';

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

async function serve(handler: RequestListener): Promise<HttpTenantApi> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return new HttpTenantApi({ baseUrl: () => url, timeoutMs: 2_000 });
}

const tenant = tenantFixture({});

describe('HttpTenantApi', () => {
  it("reaches the API through its Service's http port", () => {
    expect(
      tenantApiServiceUrl(tenantFixture({}, { name: 'acme', namespace: 'tenants' }), 'cluster.local'),
    ).toBe('http://acme-api.tenants.svc.cluster.local:80');
  });

  it('sends the internal token and reads the status', async () => {
    let authorization: string | undefined;
    const api = await serve((request, response) => {
      authorization = request.headers.authorization;
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          tenant: 'acme',
          sessions: {
            total: 1,
            byState: {},
            items: [{ name: 'support', state: 'connected', declared: true }],
          },
          owner: { active: false },
        }),
      );
    });
    const status = await api.status(tenant, 'the-token');
    expect(authorization).toBe('Bearer the-token');
    expect(status.sessions.items).toEqual([{ name: 'support', state: 'connected', declared: true }]);
  });

  it('refuses an answer of the wrong shape, a non-200, an endless body and a refused connection', async () => {
    const wrongShape = await serve((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ tenant: 'acme', sessions: { items: [{ name: 'x', state: 'asleep' }] } }));
    });
    await expect(wrongShape.status(tenant, 't')).rejects.toThrow(/unexpected body/);
    const unauthorized = await serve((_request, response) => {
      response.writeHead(401).end('{}');
    });
    await expect(unauthorized.status(tenant, 't')).rejects.toThrow(/answered 401/);
    const endless = await serve((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const write = () => {
        while (response.write(chunk)) {
          /* fill the socket */
        }
        response.once('drain', write);
      };
      response.on('close', () => response.removeAllListeners('drain'));
      write();
    });
    await expect(endless.status(tenant, 't')).rejects.toThrow(/more than 1048576 bytes/);
    const refused = new HttpTenantApi({ baseUrl: () => 'http://127.0.0.1:9' });
    await expect(refused.status(tenant, 't')).rejects.toBeInstanceOf(TenantApiError);
  });

  it('reads an owner invite, and owner_exists as no invite', async () => {
    const invited = await serve((request, response) => {
      let body = '';
      request.on('data', (chunk) => {
        body += chunk;
      });
      request.on('end', () => {
        const { email } = JSON.parse(body) as { email: string };
        response.writeHead(201, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ email, token: 'acme.secret', expiresAt: '2026-12-14T10:00:00.000Z' }));
      });
    });
    expect(await invited.ownerInvite(tenant, 't', 'owner@acme.example.com')).toEqual({
      email: 'owner@acme.example.com',
      token: 'acme.secret',
      expiresAt: '2026-12-14T10:00:00.000Z',
    });
    const exists = await serve((_request, response) => {
      response.writeHead(409, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: { code: 'owner_exists', message: 'x' } }));
    });
    expect(await exists.ownerInvite(tenant, 't', 'owner@acme.example.com')).toBeUndefined();
  });
});
