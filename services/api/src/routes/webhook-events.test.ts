// Every event as a webhook, on the API's side: event filters validated against the catalogue
// (default all), the catalogue listed, the OpenAPI 3.1 document's `webhooks` section publishing
// each type's versioned schema, and conversation changes (assign, resolve, reopen) recording
// their events in the change's own transaction, once, with bodies that validate against the
// published schemas. The worker's side (receipts, session states, a real signed delivery) is
// tested in packages/messaging webhooks/events.test.ts and services/worker session-events.test.ts.
import { withTenant } from '@switchboard/db';
import { WEBHOOK_EVENT_TYPES, webhookBodyJsonSchema } from '@switchboard/messaging/producer';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { app, bearer, db, seeded, setupApi, tokenFor } from '../testing/api-fixture.ts';

setupApi();

describe('webhook event filters', () => {
  it('defaults to every event, refuses an unknown type naming the known ones, and lists the catalogue', async () => {
    const admin = await tokenFor('a', 'admin');
    const all = await app.inject({
      method: 'POST',
      url: '/v1/webhooks',
      headers: bearer(admin),
      payload: { url: 'https://a.example/all' },
    });
    expect(all.statusCode).toBe(201);
    expect(all.json().events).toEqual(['*']);

    const unknown = await app.inject({
      method: 'POST',
      url: '/v1/webhooks',
      headers: bearer(admin),
      payload: { url: 'https://a.example/x', events: ['message.status', 'message.exploded'] },
    });
    expect(unknown.statusCode).toBe(400);
    const issue = unknown.json().error.issues[0];
    expect(issue.path).toBe('body.events.1');
    expect(issue.message).toContain('unknown event type "message.exploded"');
    for (const type of WEBHOOK_EVENT_TYPES) expect(issue.message).toContain(type);

    const patched = await app.inject({
      method: 'PATCH',
      url: `/v1/webhooks/${all.json().id}`,
      headers: bearer(admin),
      payload: { events: ['session.state_changed', 'message.status'] },
    });
    expect(patched.statusCode).toBe(200);
    expect(patched.json().events).toEqual(['session.state_changed', 'message.status']);
    const empty = await app.inject({
      method: 'PATCH',
      url: `/v1/webhooks/${all.json().id}`,
      headers: bearer(admin),
      payload: { events: [] },
    });
    expect(empty.statusCode).toBe(400);

    const types = await app.inject({
      method: 'GET',
      url: '/v1/webhooks/event-types',
      headers: bearer(admin),
    });
    expect(types.statusCode).toBe(200);
    expect(types.json().data.map((t: { type: string }) => t.type)).toEqual(WEBHOOK_EVENT_TYPES);
    expect(types.json().data.every((t: { version: number }) => t.version === 1)).toBe(true);

    await app.inject({ method: 'DELETE', url: `/v1/webhooks/${all.json().id}`, headers: bearer(admin) });
  });

  it('publishes every event type in the OpenAPI 3.1 webhooks section with its versioned schema', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.webhooks).sort()).toEqual([...WEBHOOK_EVENT_TYPES].sort());
    for (const type of WEBHOOK_EVENT_TYPES) {
      const post = doc.webhooks[type].post;
      expect(post.requestBody.content['application/json'].schema).toEqual(webhookBodyJsonSchema(type));
      const version = post.parameters.find((p: { name: string }) => p.name === 'X-Switchboard-Event-Version');
      expect(version.schema.const).toBe('1');
    }
  });
});

describe('conversation events', () => {
  it('records assigned, resolved and reopened once each, in the change, valid against the published schema', async () => {
    const admin = await tokenFor('a', 'admin');
    const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json();
    const ajv = new Ajv2020({ strict: false, allErrors: true })
      .addFormat('uuid', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i)
      .addFormat('date-time', (value: string) => /T/.test(value) && !Number.isNaN(Date.parse(value)));
    const validate = (type: string, body: unknown) => {
      const check = ajv.compile(doc.webhooks[type].post.requestBody.content['application/json'].schema);
      expect(check(body), JSON.stringify(check.errors)).toBe(true);
    };
    const subscribe = async (events: string[]) =>
      (
        await app.inject({
          method: 'POST',
          url: '/v1/webhooks',
          headers: bearer(admin),
          payload: { url: `https://a.example/${events.length}`, events },
        })
      ).json().id as string;
    const conversations = await subscribe([
      'conversation.assigned',
      'conversation.resolved',
      'conversation.reopened',
    ]);
    const messagesOnly = await subscribe(['message.received']);
    const { conversationId } = seeded.a;
    const agent = seeded.a.users.agent.id;

    const call = async (url: string, payload?: object) => {
      const response = await app.inject({
        method: 'POST',
        url: `/v1/conversations/${conversationId}/${url}`,
        headers: bearer(admin),
        ...(payload ? { payload } : {}),
      });
      expect(response.statusCode, response.body).toBeLessThan(300);
    };
    await call('assign', { assigneeId: agent });
    await call('assign', { assigneeId: agent }); // no change: no event
    await call('resolve');
    await call('resolve'); // already resolved: no event
    await call('reopen');
    await call('assign', { assigneeId: null });

    const { deliveries, outbox } = await withTenant(db, seeded.a.tenantId, async (tx) => ({
      deliveries: await tx.webhookDelivery.findMany({ orderBy: { createdAt: 'asc' } }),
      outbox: await tx.outboxEntry.findMany({ where: { kind: 'webhook.enqueue' } }),
    }));
    expect(deliveries.every((d) => d.subscriptionId === conversations)).toBe(true);
    expect(deliveries.some((d) => d.subscriptionId === messagesOnly)).toBe(false);
    expect(deliveries.map((d) => d.eventType)).toEqual([
      'conversation.assigned',
      'conversation.resolved',
      'conversation.reopened',
      'conversation.assigned',
    ]);
    const bodies = deliveries.map((d) => d.payload as { type: string; data: Record<string, unknown> });
    for (const body of bodies) validate(body.type, body);
    expect(bodies[0]!.data).toMatchObject({ conversationId, assigneeId: agent, previousAssigneeId: null });
    expect(bodies[1]!.data).toMatchObject({ status: 'resolved', assigneeId: agent });
    expect(bodies[2]!.data).toMatchObject({ status: 'open' });
    expect(bodies[3]!.data).toMatchObject({ assigneeId: null, previousAssigneeId: agent });
    // Each delivery's job is in the outbox, written with it (the worker's relay adds the jobs).
    const enqueued = outbox.flatMap((row) => (row.payload as { deliveryIds: string[] }).deliveryIds);
    expect(enqueued.sort()).toEqual(deliveries.map((d) => d.id).sort());

    // A change refused (not a member) rolls its event back with it.
    const refused = await app.inject({
      method: 'POST',
      url: `/v1/conversations/${conversationId}/assign`,
      headers: bearer(admin),
      payload: { assigneeId: '00000000-0000-4000-8000-000000000000' },
    });
    expect(refused.statusCode).toBe(400);
    expect(await withTenant(db, seeded.a.tenantId, (tx) => tx.webhookDelivery.count())).toBe(4);
  });
});
