// A tenant whose Cloud API credentials live in Vault, and one whose credentials live in AWS
// Secrets Manager (moto), each started as the whole stack: the API resolves the number's app
// secret from the store at start and verifies Meta's signed webhook with it; the worker resolves
// the access token from the store and sends the reply through the Cloud API emulator, which
// accepts only that token.
import { adminDatabaseUrl, redisOptions, uniquePrefix } from '@switchboard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../sessions/src/testing/worker-fleet.ts';
import { type Stack, type StackTenant, startStack } from './stack.ts';

const CUSTOMER = '15555550177';

describe.each(['vault', 'aws'] as const)('a stack with its secrets in %s', (secrets) => {
  let stack: Stack;
  let tenant: StackTenant;
  let token = '';

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
          slug: uniquePrefix(secrets).slice(4).toLowerCase(),
          admin: { email: 'owner@secrets.test', password: 'correct horse battery' },
          cloudApi: {},
        },
      ],
      postgresAdminUrl: adminDatabaseUrl(),
      redis: { host, port },
      secrets,
      statuses: { mode: 'auto', delaysMs: { sent: 20, delivered: 60, read: 120 } },
    });
    tenant = stack.tenants[0]!;
    // The first run on a machine may build Vault from its Go module first (packages/testing).
  }, 60 * 60_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('carries a customer message in and the reply out through the Cloud API emulator', async () => {
    expect(stack.secretStore?.kind).toBe(secrets);
    const login = await api<{ accessToken: string }>('/v1/auth/login', {
      method: 'POST',
      body: JSON.stringify({ email: tenant.admin.email, password: tenant.admin.password }),
    });
    expect(login.status).toBe(200);
    token = login.body.accessToken;

    const emulator = tenant.cloudApi!.emulator;
    const inbound = await fetch(`${emulator.url}/_emulator/customer/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ from: CUSTOMER, name: 'Bea', text: `hello from a ${secrets} tenant` }),
    });
    expect(inbound.status).toBe(200);
    let conversationId: string | undefined;
    await eventually(
      'the conversation is listed',
      async () => {
        const list = await api<{ items: { id: string }[] }>('/v1/conversations');
        conversationId = list.body.items[0]?.id;
        return conversationId !== undefined;
      },
      30_000,
    );

    const reply = await api<{ id: string }>('/v1/messages', {
      method: 'POST',
      headers: { 'idempotency-key': `reply-${secrets}` },
      body: JSON.stringify({ conversationId, text: `sent with a token from ${secrets}` }),
    });
    expect(reply).toMatchObject({ status: 201 });
    type Sent = { messages: { request: { text?: { body: string } } }[] };
    await eventually(
      'the emulator received the reply',
      async () => {
        const sent = (await (await fetch(`${emulator.url}/_emulator/sent?to=${CUSTOMER}`)).json()) as Sent;
        return sent.messages.some((m) => m.request.text?.body === `sent with a token from ${secrets}`);
      },
      30_000,
    );
  });
});
