import { randomUUID } from 'node:crypto';
import { withTenant } from '@switchboard/db';
import { QUEUE_NAMES, queuePrefix } from '@switchboard/messaging/producer';
import { Queue } from 'bullmq';
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  app,
  bearer,
  db,
  ROLES,
  redis,
  STREAMING,
  seeded,
  setupApi,
  slugA,
  slugB,
  tokenFor,
} from './testing/api-fixture.ts';

setupApi();

describe('shape', () => {
  it('answers /livez and /readyz with database and Redis checked', async () => {
    expect((await app.inject({ method: 'GET', url: '/livez' })).statusCode).toBe(200);
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.json()).toEqual({ status: 'ok', checks: { database: 'ok', redis: 'ok' } });
  });

  it('sets security headers', async () => {
    const res = await app.inject({ method: 'GET', url: '/livez' });
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['strict-transport-security']).toBeDefined();
  });

  it('rejects unknown fields and names them', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { email: 'x@y.test', password: 'p', admin: true },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('validation_failed');
    expect(res.json().error.message).toContain('admin');
  });

  it('names the invalid field', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { email: 'not-an-email', password: 'p' },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.issues[0].path).toBe('body.email');
  });

  it('answers an unknown route with a catalogued 404', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/nope' });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('route_not_found');
  });

  it("answers every request with its X-Request-Id: the Ingress's when sane, else the generated one", async () => {
    const id = (res: { headers: Record<string, unknown> }) => res.headers['x-request-id'];
    const headers = { 'x-request-id': 'ingress-abc-123' };
    expect(id(await app.inject({ method: 'GET', url: '/livez', headers }))).toBe('ingress-abc-123');
    const missing = await app.inject({ method: 'GET', url: '/v1/nope', headers });
    expect([missing.statusCode, id(missing)]).toEqual([404, 'ingress-abc-123']);
    const unauthenticated = await app.inject({ method: 'GET', url: '/v1/conversations', headers });
    expect([unauthenticated.statusCode, id(unauthenticated)]).toEqual([401, 'ingress-abc-123']);
    const tooLarge = await app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      headers: { ...headers, 'content-type': 'application/json' },
      payload: JSON.stringify({ email: 'a@b.test', password: 'x'.repeat(2 * 1024 * 1024) }),
    });
    expect([tooLarge.statusCode, id(tooLarge)]).toEqual([413, 'ingress-abc-123']);
    const forged = await app.inject({ method: 'GET', url: '/v1/nope', headers: { 'x-request-id': 'a\tb' } });
    expect(id(forged)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  it('refuses a body over the limit', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ email: 'a@b.test', password: 'x'.repeat(2 * 1024 * 1024) }),
    });
    expect(res.statusCode).toBe(413);
  });

  it('paginates with a cursor and refuses a forged one', async () => {
    const token = await tokenFor('a', 'owner');
    const first = await app.inject({ method: 'GET', url: '/v1/team?limit=3', headers: bearer(token) });
    expect(first.json().items).toHaveLength(3);
    const next = first.json().nextCursor as string;
    expect(next).toBeTypeOf('string');
    const second = await app.inject({
      method: 'GET',
      url: `/v1/team?limit=3&cursor=${next}`,
      headers: bearer(token),
    });
    const emails = [...first.json().items, ...second.json().items]
      .map((m: { email: string }) => m.email)
      .sort();
    expect(emails).toEqual(ROLES.map((r) => `${r}@${slugA}.test`).sort());
    expect(second.json().nextCursor).toBeNull();
    const forged = await app.inject({
      method: 'GET',
      url: '/v1/team?cursor=garbage',
      headers: bearer(token),
    });
    expect(forged.statusCode).toBe(400);
    expect(forged.json().error.code).toBe('invalid_cursor');
  });

  it('serves an OpenAPI document listing every route', async () => {
    const res = await app.inject({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toMatch(/^3\./);
    const documented = new Set<string>();
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
      for (const method of Object.keys(ops))
        documented.add(`${method.toUpperCase()} ${path.replace(/(.)\/$/, '$1')}`);
    }
    const expected = app.routeList
      .filter((r) => r.url.startsWith('/v1/'))
      .map((r) => `${r.method} ${r.url.replace(/:(\w+)/g, '{$1}').replace(/(.)\/$/, '$1')}`);
    expect(expected.length).toBeGreaterThan(20);
    for (const route of expected) expect(documented, route).toContain(route);
    // Generated from the same zod schemas that validate: the login body is strict.
    const login = doc.paths['/v1/auth/login'].post.requestBody.content['application/json'].schema;
    expect(login.additionalProperties).toBe(false);
    expect(login.required).toEqual(expect.arrayContaining(['email', 'password']));
  });

  it('documents every status a route can give, and 204 without content', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json();
    type Operation = {
      security?: unknown[];
      responses: Record<string, { content?: Record<string, unknown> }>;
    };
    const operations = Object.entries(doc.paths as Record<string, Record<string, Operation>>).flatMap(
      ([path, ops]) => Object.entries(ops).map(([method, op]) => ({ name: `${method} ${path}`, path, op })),
    );
    let protectedCount = 0;
    let noContent = 0;
    for (const { name, path, op } of operations) {
      const statuses = Object.keys(op.responses);
      // Every documented route is rate limited; protected ones (the document's default security) can refuse the credential.
      expect(statuses, name).toContain('429');
      if (!op.security) {
        protectedCount++;
        expect(statuses, name).toEqual(expect.arrayContaining(['401', '403', '503']));
      }
      if (path.includes('{')) expect(statuses, name).toContain('404');
      if (/^(post|put|patch) /.test(name))
        expect(statuses, name).toEqual(expect.arrayContaining(['400', '413', '415']));
      for (const [status, response] of Object.entries(op.responses)) {
        if (status === '204') {
          noContent++;
          expect(response.content, name).toBeUndefined();
        } else if (Number(status) >= 400) {
          expect(Object.keys(response.content ?? {}), `${name} ${status}`).toEqual(['application/json']);
        }
      }
    }
    expect(protectedCount).toBeGreaterThan(40);
    expect(noContent).toBeGreaterThan(5);
  });
});

describe('tenant isolation', () => {
  it("walks every route with tenant A's owner against tenant B's ids and never sees B's data", async () => {
    const owner = await tokenFor('a', 'owner');
    const bOwner = await tokenFor('b', 'owner');
    const bKey = (
      await app.inject({
        method: 'POST',
        url: '/v1/api-keys',
        headers: bearer(bOwner),
        payload: { name: 'b', scopes: ['read'] },
      })
    ).json();
    const b = seeded.b;
    // B's owner's signed-in session (the access token's sid).
    const bSignedInSession = String(decodeJwt(bOwner).sid);
    const bHook = (
      await app.inject({
        method: 'POST',
        url: '/v1/webhooks',
        headers: bearer(bOwner),
        payload: { url: 'https://b.example/hooks', events: ['*'] },
      })
    ).json();
    const bDelivery = await withTenant(db, b.tenantId, (tx) =>
      tx.webhookDelivery.create({
        data: {
          tenantId: b.tenantId,
          subscriptionId: bHook.id,
          eventId: randomUUID(),
          eventType: 'message.received',
          payload: { text: `secret of ${slugB}` },
          status: 'failed',
        },
      }),
    );
    // Labels and campaigns (issue #20.3, #20.4): B's own rows.
    const bLabel = await withTenant(db, b.tenantId, (tx) =>
      tx.label.create({ data: { tenantId: b.tenantId, name: `secret of ${slugB}`, color: '#123456' } }),
    );
    const bImport = await withTenant(db, b.tenantId, (tx) =>
      tx.contactImport.create({
        data: {
          tenantId: b.tenantId,
          fileName: `secret of ${slugB}.csv`,
          contactIds: [b.contactId],
          totalRows: 1,
        },
      }),
    );
    const bCampaign = await withTenant(db, b.tenantId, (tx) =>
      tx.campaign.create({
        data: {
          tenantId: b.tenantId,
          name: `secret of ${slugB}`,
          sessionId: b.sessionId,
          template: { name: 'welcome', language: 'en', components: [], body: 'x' },
          segment: { type: 'import', importId: bImport.id },
          status: 'paused',
        },
      }),
    );
    const idFor: Record<string, string> = {
      '/v1/labels/': bLabel.id,
      '/v1/campaigns/': bCampaign.id,
      '/v1/contact-imports/': bImport.id,
      '/v1/webhooks/deliveries/': bDelivery.id,
      '/v1/auth/sessions/': bSignedInSession,
      '/v1/webhooks/': bHook.id,
      '/v1/sessions/': b.sessionId,
      '/v1/conversations/': b.conversationId,
      '/v1/contacts/': b.contactId,
      '/v1/team/': b.users.viewer.id,
      '/v1/api-keys/': bKey.id,
      '/v1/templates/': b.templateId,
      '/v1/messages/': b.messageId,
      '/v1/quick-replies/': b.quickReplyId,
      '/v1/scheduled-messages/': b.scheduledId,
    };
    const bodies: Record<string, unknown> = {
      'POST /v1/conversations/:id/assign': { assigneeId: null },
      'PATCH /v1/contacts/:id': { displayName: 'hijacked' },
      'PATCH /v1/team/:id': { role: 'owner' },
      'PATCH /v1/templates/:id': { body: 'hijacked' },
      'PATCH /v1/quick-replies/:id': { body: 'hijacked' },
      'PATCH /v1/webhooks/:id': { url: 'https://attacker.example/' },
      'POST /v1/sessions/:id/pairing-code': { phoneNumber: '4915112345678' },
      'PUT /v1/sessions/:id/calls': { rejectCalls: true, replyText: null },
      'PUT /v1/sessions/:id/history-import': { historyImport: 7 },
      'PUT /v1/sessions/:id/messaging-limit': { messagingLimit: 1000 },
      'PUT /v1/sessions/:id/assistant': {
        enabled: true,
        systemPrompt: null,
        knowledge: null,
        historyMaxMessages: 20,
        historyMaxTokens: 4000,
        answerMode: 'always',
      },
      'PUT /v1/sessions/:id/bot': {
        enabled: true,
        url: 'https://attacker.example/',
        handoffKeyword: null,
        restartKeyword: null,
      },
      'POST /v1/conversations/:id/bot/replies': { replies: [{ type: 'text', text: 'hijacked' }] },
      'PATCH /v1/labels/:id': { name: 'hijacked' },
      'POST /v1/labels/:id/apply': { conversationIds: [b.conversationId] },
      'POST /v1/labels/:id/remove': { conversationIds: [b.conversationId] },
      'POST /v1/sessions/:id/groups': { subject: 'hijacked', participants: ['4915112345678'] },
      'POST /v1/sessions/:id/groups/:group/participants': { action: 'add', participants: ['4915112345678'] },
      'PATCH /v1/sessions/:id/groups/:group': { subject: 'hijacked' },
    };
    const secrets = [
      b.sessionId,
      b.conversationId,
      b.contactId,
      b.messageId,
      b.users.viewer.id,
      bKey.id,
      bHook.id,
      bDelivery.id,
      b.scheduledId,
      bSignedInSession,
      bLabel.id,
      bImport.id,
      bCampaign.id,
      `scheduled secret of ${slugB}`,
      bHook.secret,
      `secret of ${slugB}`,
      slugB,
    ];
    let walked = 0;
    // The realtime stream never ends, so inject cannot walk it; its isolation is tested in 'realtime'.
    for (const route of app.routeList.filter((r) => !r.public && !r.url.startsWith(STREAMING))) {
      const base = Object.keys(idFor).find((p) => route.url.startsWith(p) && route.url.includes(':id'));
      if (route.url.includes('/:')) {
        if (route.url.includes(':id')) expect(base, `no tenant-B id for ${route.url}`).toBeDefined();
        const url = route.url
          .replace(':id', base ? idFor[base]! : ':id')
          .replace(':userId', b.users.viewer.id)
          .replace(':jobId', `send-${b.messageId}`)
          .replace(':labelId', bLabel.id)
          .replace(':group', '120363000000000001@g.us');
        const body = bodies[`${route.method} ${route.url}`];
        const res = await app.inject({
          method: route.method as 'GET',
          url,
          headers: bearer(owner),
          ...(body ? { payload: body as object } : {}),
        });
        expect([403, 404], `${route.method} ${route.url} -> ${res.statusCode} ${res.body}`).toContain(
          res.statusCode,
        );
        walked++;
      } else if (route.method === 'GET') {
        const res = await app.inject({ method: 'GET', url: route.url, headers: bearer(owner) });
        expect(res.statusCode, route.url).toBeLessThan(300);
        for (const secret of secrets) expect(res.body, `${route.url} leaked ${secret}`).not.toContain(secret);
        walked++;
      }
    }
    expect(walked).toBeGreaterThan(15);
    const untouched = await withTenant(db, b.tenantId, async (tx) => ({
      contact: await tx.contact.findUniqueOrThrow({ where: { id: b.contactId } }),
      viewer: await tx.membership.findFirstOrThrow({ where: { userId: b.users.viewer.id } }),
      key: await tx.apiKey.findUniqueOrThrow({ where: { id: bKey.id } }),
      session: await tx.session.findUnique({ where: { id: b.sessionId } }),
      contactAlive: await tx.contact.count({ where: { id: b.contactId } }),
      template: await tx.messageTemplate.findUniqueOrThrow({ where: { id: b.templateId } }),
    }));
    expect(untouched.contactAlive).toBe(1);
    expect(untouched.template.body).toBe(`Hi from ${slugB}`);
    expect(untouched.contact.displayName).toBeNull();
    expect(untouched.viewer.role).toBe('viewer');
    expect(untouched.key.revokedAt).toBeNull();
    expect(untouched.session).not.toBeNull();
    const bScheduled = await withTenant(db, b.tenantId, (tx) =>
      tx.scheduledMessage.findUniqueOrThrow({ where: { id: b.scheduledId } }),
    );
    expect(bScheduled.status).toBe('scheduled');
    const bCommands = new Queue(QUEUE_NAMES.sessionCommands(b.sessionId), {
      connection: redis,
      prefix: queuePrefix(`sb:${slugB}:`),
    });
    const aCommandsForB = new Queue(QUEUE_NAMES.sessionCommands(b.sessionId), {
      connection: redis,
      prefix: queuePrefix(`sb:${slugA}:`),
    });
    try {
      expect(await bCommands.count()).toBe(0);
      expect(await aCommandsForB.count()).toBe(0);
    } finally {
      await bCommands.close();
      await aCommandsForB.close();
    }
  });
});

describe('malformed input', () => {
  const junk: unknown[] = [
    'text',
    [],
    { a: 1 },
    { email: 1, password: {}, name: [], role: 'god', scopes: ['root'] },
    { assigneeId: 'x' },
  ];
  const params = ['not-a-uuid', '00000000-0000-0000-0000-000000000000', '%00', 'a'.repeat(180)];
  it('never answers a 5xx, whatever the body, params or query', async () => {
    const owner = await tokenFor('a', 'owner');
    for (const route of app.routeList.filter(
      (r) => !r.url.startsWith('/docs') && !r.url.startsWith(STREAMING),
    )) {
      for (const param of route.url.includes(':id') ? params : ['']) {
        const url = route.url.replace(':id', encodeURIComponent(param));
        for (const body of route.method === 'GET' || route.method === 'DELETE' ? [undefined] : junk) {
          for (const query of ['', '?limit=abc&cursor=%%%&status=nope&x=1']) {
            const res = await app.inject({
              method: route.method as 'POST',
              url: url + query,
              headers: {
                ...bearer(owner),
                ...(body === undefined ? {} : { 'content-type': 'application/json' }),
              },
              ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
            });
            expect(
              res.statusCode,
              `${route.method} ${url}${query} ${JSON.stringify(body)} -> ${res.body}`,
            ).toBeLessThan(500);
          }
        }
      }
    }
  });
});
