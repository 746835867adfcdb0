import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WhatsAppTenant } from '../api/v1alpha1/index.ts';
import type { SessionState } from '../controller/tenant-api.ts';
import { tenantNamespace } from '../specs/names.ts';

/**
 * Test-only: a local HTTP server speaking the tenant API's internal routes on the wire
 * (services/api/src/routes/internal.ts): GET /internal/status and POST /internal/owner-invite,
 * Bearer INTERNAL_TOKEN, the same JSON bodies and status codes. One server stands in for every
 * tenant's API: tenant `ns/name` is at `<url>/ns/name`. Each tenant's state is set by the test.
 */

/** One stand-in tenant API's state. */
export interface StandInTenant {
  /** The INTERNAL_TOKEN it accepts (the operator reads it from the generated Secret). */
  token: string | undefined;
  sessions: { name: string; state: SessionState; declared: boolean }[];
  ownerActive: boolean;
  /** Invites issued, newest last; only the newest is open. */
  invites: { email: string; token: string; expiresAt: string }[];
  /** How long an invite lasts. */
  inviteTtlMs: number;
  /** Requests seen, `METHOD /path`. */
  requests: string[];
}

/** The running stand-in. */
export interface TenantApiStandIn {
  url: string;
  /** Base URL of one tenant's stand-in (HttpTenantApi's baseUrl). */
  baseUrl: (tenant: WhatsAppTenant) => string;
  /** The state of `namespace/name`, created on first use. */
  tenant: (namespace: string, name: string) => StandInTenant;
  close: () => Promise<void>;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Starts the stand-in on a free loopback port. */
export async function startTenantApiStandIn(): Promise<TenantApiStandIn> {
  const tenants = new Map<string, StandInTenant>();
  const tenant = (namespace: string, name: string): StandInTenant => {
    const key = `${namespace}/${name}`;
    let state = tenants.get(key);
    if (!state) {
      state = {
        token: undefined,
        sessions: [],
        ownerActive: false,
        invites: [],
        inviteTtlMs: 7 * 86_400_000,
        requests: [],
      };
      tenants.set(key, state);
    }
    return state;
  };
  const server: Server = createServer((request, response) => {
    const send = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      response.end(JSON.stringify(body));
    };
    const error = (status: number, code: string, message: string) =>
      send(status, { error: { code, message } });
    void (async () => {
      const match = /^\/([^/]+)\/([^/]+)(\/internal\/[a-z-]+)$/.exec(request.url ?? '');
      if (!match) return error(404, 'route_not_found', 'no such route');
      const state = tenant(match[1]!, match[2]!);
      const route = `${request.method} ${match[3]}`;
      state.requests.push(route);
      if (!state.token || request.headers.authorization !== `Bearer ${state.token}`)
        return error(401, 'unauthenticated', 'Authorization must be Bearer <INTERNAL_TOKEN>');
      if (route === 'GET /internal/status') {
        const byState = Object.fromEntries(
          ['unpaired', 'pairing', 'connecting', 'connected', 'disconnected', 'logged_out'].map((s) => [
            s,
            state.sessions.filter((x) => x.state === s).length,
          ]),
        );
        return send(200, {
          tenant: match[2],
          sessions: { total: state.sessions.length, byState, items: state.sessions },
          owner: { active: state.ownerActive },
        });
      }
      if (route === 'POST /internal/owner-invite') {
        const body = JSON.parse(await readBody(request)) as { email?: string };
        if (typeof body.email !== 'string' || !body.email.includes('@'))
          return error(400, 'validation_failed', 'body.email: must be an email address');
        if (state.ownerActive)
          return error(409, 'owner_exists', 'the tenant already has an owner who can sign in');
        const invite = {
          email: body.email.toLowerCase(),
          token: `${match[2]}.${randomBytes(32).toString('base64url')}`,
          expiresAt: new Date(Date.now() + state.inviteTtlMs).toISOString(),
        };
        state.invites.push(invite);
        return send(201, invite);
      }
      return error(404, 'route_not_found', 'no such route');
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    baseUrl: (t) => `${url}/${tenantNamespace(t)}/${t.metadata.name}`,
    tenant,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
