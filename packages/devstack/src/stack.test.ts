// The stack `make demo` runs, started on the run's Postgres and Redis: the real API and worker
// processes and the Cloud API emulator as the tenant's declared session. A customer's message
// reaches the API through Meta's signed webhook and the worker stores it; the agent's reply,
// sent twice with one Idempotency-Key, reaches the customer once and its ticks move to read.
import { adminDatabaseUrl, redisOptions, uniquePrefix } from '@switchboard/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../sessions/src/testing/worker-fleet.ts';
import { type Stack, type StackTenant, startStack } from './stack.ts';

let stack: Stack;
let tenant: StackTenant;
let token: string;
const CUSTOMER = '15555550123';

async function api<T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> {
  const response = await fetch(`${tenant.apiUrl}${path}`, {
    ...init,
    headers: {
      ...(init.body ? { 'content-type': 'application/json' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...init.headers,
    },
  });
  return { status: response.status, body: (await response.json()) as T };
}

beforeAll(async () => {
  const { host, port } = redisOptions();
  stack = await startStack({
    tenants: [
      {
        slug: uniquePrefix('demo').slice(4).toLowerCase(),
        admin: { email: 'Admin@Demo.test', password: 'correct horse battery' },
        cloudApi: {},
      },
    ],
    postgresAdminUrl: adminDatabaseUrl(),
    redis: { host, port },
    statuses: { mode: 'auto', delaysMs: { sent: 20, delivered: 60, read: 120 } },
  });
  tenant = stack.tenants[0]!;
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe('the local stack', () => {
  it('refuses options that cannot work, naming them', async () => {
    await expect(startStack({ tenants: [] })).rejects.toThrow(/at least one tenant/);
    await expect(
      startStack({
        tenants: [{ slug: 'Bad Slug', admin: { email: 'a@b.test', password: 'long enough' } }],
      }),
    ).rejects.toThrow(/DNS-1123/);
  });

  it('seeds the admin, who logs in to the API the stack started', async () => {
    const login = await api<{ accessToken: string }>('/v1/auth/login', {
      method: 'POST',
      body: JSON.stringify({ email: tenant.admin.email, password: tenant.admin.password }),
    });
    expect(login.status).toBe(200);
    token = login.body.accessToken;
    // Prometheus reads the API's metrics on their own port; the public one does not serve them.
    const metrics = await fetch(`http://127.0.0.1:${tenant.apiMetricsPort}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('switchboard_api_http_request_duration_seconds');
    expect((await fetch(`${tenant.apiUrl}/metrics`)).status).toBe(404);
    const me = await api<{ role: string; email: string }>('/v1/auth/me');
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ email: 'admin@demo.test', role: 'owner' });
    const sessions = await api<{ items: { name: string; channel: string; declared: boolean }[] }>(
      '/v1/sessions',
    );
    expect(sessions.body.items).toEqual([
      expect.objectContaining({ name: 'whatsapp', channel: 'cloud-api', declared: true }),
    ]);
  });

  it('runs the API and the worker as their own Redis ACL users; the API user cannot read the auth state', async () => {
    const admin = new Redis(redisOptions());
    const asApi = new Redis({
      ...redisOptions(),
      username: tenant.redisUsers.api.username,
      password: tenant.redisUsers.api.password,
    });
    try {
      const auth = `${tenant.keyPrefix}session:any:auth`;
      await expect(asApi.hgetall(auth)).rejects.toThrow(/NOPERM/);
      await expect(asApi.call('KEYS', '*')).rejects.toThrow(/NOPERM/);
      const clients = (await admin.call('CLIENT', 'LIST')) as string;
      expect(clients).toContain(`user=${tenant.redisUsers.api.username} `);
      expect(clients).toContain(`user=${tenant.redisUsers.worker.username} `);
    } finally {
      asApi.disconnect();
      admin.disconnect();
    }
  });

  it('carries a customer message in and the reply out once, with its ticks', async () => {
    const emulator = tenant.cloudApi!.emulator;
    // The inbox's live updates: the API's realtime stream, read as the browser reads it. The API
    // process's own Redis client is a producer's (no offline queue), which once broke every stream.
    const stream = await fetch(`${tenant.apiUrl}/v1/realtime`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(stream.status).toBe(200);
    const reader = stream.body!.getReader();
    let received = '';
    const created = (async () => {
      while (!received.includes('message.created')) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the realtime stream ended early: ${received}`);
        received += new TextDecoder().decode(value);
      }
    })();
    const inbound = await fetch(`${emulator.url}/_emulator/customer/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ from: CUSTOMER, name: 'Ana', text: 'hello from the demo' }),
    });
    expect(inbound.status).toBe(200);

    type Conversation = { id: string; contact: { phoneNumber: string | null; name: string | null } };
    let conversation: Conversation | undefined;
    await eventually(
      'the conversation is listed',
      async () => {
        const list = await api<{ items: Conversation[] }>('/v1/conversations');
        conversation = list.body.items[0];
        return conversation !== undefined;
      },
      20_000,
    );
    expect(conversation!.contact.phoneNumber).toContain(CUSTOMER);
    await created;
    await reader.cancel();
    expect(received).toMatch(/^id: \d+-\d+$/m);

    const send = () =>
      api<{ id: string }>('/v1/messages', {
        method: 'POST',
        headers: { 'idempotency-key': 'reply-1' },
        body: JSON.stringify({ conversationId: conversation!.id, text: 'hi Ana, how can I help?' }),
      });
    const [first, again] = [await send(), await send()];
    expect(first.status).toBe(201);
    expect(again.body.id).toBe(first.body.id);

    type Sent = { messages: { to: string; request: { text?: { body: string } }; statuses: string[] }[] };
    await eventually(
      'the reply is read',
      async () => {
        const history = await api<{ items: { id: string; status: string }[] }>(
          `/v1/conversations/${conversation!.id}/messages`,
        );
        return history.body.items.find((m) => m.id === first.body.id)?.status === 'read';
      },
      20_000,
    );
    const sent = (await (await fetch(`${emulator.url}/_emulator/sent?to=${CUSTOMER}`)).json()) as Sent;
    expect(sent.messages.map((m) => m.request.text?.body)).toEqual(['hi Ana, how can I help?']);
  });
});
