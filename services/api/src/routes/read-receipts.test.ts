// Read receipts and interactive sends through the API, with real Postgres and Redis: the tenant's
// switch (on by default, admins change it, audited); opening a conversation queues one
// `conversation-opened` command naming exactly the customer's messages not marked before (none
// when switched off; a Baileys session still gets it, for presence); interactive messages and
// polls checked against WhatsApp's limits (422 invalid_content naming the field) and refused on
// the other channel (422 channel_unsupported).
import { withTenant } from '@switchboard/db';
import { QUEUE_NAMES, type SessionCommand } from '@switchboard/messaging/producer';
import { describe, expect, it } from 'vitest';
import {
  app,
  auditCount,
  bearer,
  cloudConversation,
  db,
  seeded,
  setupApi,
  tenantQueue,
  tokenFor,
} from '../testing/api-fixture.ts';

setupApi();

async function customerMessage(providerMessageId: string, at: Date) {
  const { tenantId, sessionId, conversationId } = seeded.a;
  return await withTenant(db, tenantId, (tx) =>
    tx.message.create({
      data: {
        tenantId,
        sessionId,
        conversationId,
        direction: 'inbound',
        status: 'delivered',
        type: 'text',
        body: providerMessageId,
        providerMessageId,
        createdAt: at,
      },
    }),
  );
}

async function commands(): Promise<SessionCommand[]> {
  const queue = tenantQueue(QUEUE_NAMES.sessionCommands(seeded.a.sessionId));
  try {
    const jobs = await queue.getJobs(['waiting', 'delayed', 'prioritized']);
    return jobs
      .map((j) => j.data as SessionCommand)
      .filter((c) => c.type === 'conversation-opened')
      .sort((a, b) =>
        a.type === 'conversation-opened' && b.type === 'conversation-opened'
          ? a.read.length - b.read.length
          : 0,
      );
  } finally {
    await queue.close();
  }
}

describe('read receipts', () => {
  it('on by default; admins switch them, audited; agents cannot', async () => {
    const url = '/v1/settings/read-receipts';
    const admin = await tokenFor('a', 'admin');
    expect(
      (await app.inject({ method: 'GET', url, headers: bearer(await tokenFor('a', 'viewer')) })).json(),
    ).toEqual({
      enabled: true,
    });
    const agent = await app.inject({
      method: 'PUT',
      url,
      headers: bearer(await tokenFor('a', 'agent')),
      payload: { enabled: false },
    });
    expect(agent.statusCode).toBe(403);
    const bad = await app.inject({ method: 'PUT', url, headers: bearer(admin), payload: { enabled: 'no' } });
    expect(bad.statusCode).toBe(400);
    const off = await app.inject({ method: 'PUT', url, headers: bearer(admin), payload: { enabled: false } });
    expect(off.json()).toEqual({ enabled: false });
    expect(await auditCount('settings.read_receipts_updated', seeded.a.tenantId)).toBe(1);
    await app.inject({ method: 'PUT', url, headers: bearer(admin), payload: { enabled: true } });
    // Another tenant is untouched.
    expect(
      (await app.inject({ method: 'GET', url, headers: bearer(await tokenFor('b', 'admin')) })).json(),
    ).toEqual({
      enabled: true,
    });
  });

  it('opening a conversation queues exactly the unmarked customer messages, once', async () => {
    const agent = await tokenFor('a', 'agent');
    const url = `/v1/conversations/${seeded.a.conversationId}/read`;
    const first = await customerMessage('3EB0READ1', new Date(Date.now() - 2_000));
    const second = await customerMessage('3EB0READ2', new Date(Date.now() - 1_000));
    const opened = await app.inject({ method: 'POST', url, headers: bearer(agent) });
    expect(opened.statusCode, opened.body).toBe(200);
    const [command] = await commands();
    expect(command).toMatchObject({
      type: 'conversation-opened',
      tenantId: seeded.a.tenantId,
      sessionId: seeded.a.sessionId,
      conversationId: seeded.a.conversationId,
      chat: '4915112345678',
      read: ['3EB0READ1', '3EB0READ2'],
    });
    const marked = await withTenant(db, seeded.a.tenantId, (tx) =>
      tx.message.findMany({ where: { id: { in: [first.id, second.id] } } }),
    );
    expect(marked.every((m) => m.channelReadAt !== null)).toBe(true);

    // Opened again: nothing left to mark; the Baileys session still gets the command (presence).
    await app.inject({ method: 'POST', url, headers: bearer(agent) });
    const all = await commands();
    expect(all.map((c) => (c.type === 'conversation-opened' ? c.read : undefined))).toEqual([
      [],
      ['3EB0READ1', '3EB0READ2'],
    ]);

    // Switched off: a new message is not marked, and stays unmarked.
    const admin = await tokenFor('a', 'admin');
    await app.inject({
      method: 'PUT',
      url: '/v1/settings/read-receipts',
      headers: bearer(admin),
      payload: { enabled: false },
    });
    const third = await customerMessage('3EB0READ3', new Date());
    await app.inject({ method: 'POST', url, headers: bearer(agent) });
    expect((await commands()).flatMap((c) => (c.type === 'conversation-opened' ? c.read : []))).not.toContain(
      '3EB0READ3',
    );
    const unmarked = await withTenant(db, seeded.a.tenantId, (tx) =>
      tx.message.findUniqueOrThrow({ where: { id: third.id } }),
    );
    expect(unmarked.channelReadAt).toBeNull();
    await app.inject({
      method: 'PUT',
      url: '/v1/settings/read-receipts',
      headers: bearer(admin),
      payload: { enabled: true },
    });
  });
});

describe('interactive messages and polls', () => {
  const send = async (payload: Record<string, unknown>) =>
    await app.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: { ...bearer(await tokenFor('a', 'agent')), 'idempotency-key': crypto.randomUUID() },
      payload,
    });

  it('sends a poll on a Baileys session; refuses interactive there and polls outside the limits', async () => {
    const conversationId = seeded.a.conversationId;
    const poll = await send({
      conversationId,
      type: 'poll',
      poll: { name: 'Lunch?', options: ['pizza', 'sushi'], selectableCount: 1 },
    });
    expect(poll.statusCode, poll.body).toBe(201);
    expect(poll.json()).toMatchObject({
      type: 'poll',
      body: 'Lunch?',
      status: 'queued',
      interactive: { name: 'Lunch?', options: ['pizza', 'sushi'], selectableCount: 1 },
    });
    const one = await send({ conversationId, type: 'poll', poll: { name: 'Q', options: ['only'] } });
    expect(one.statusCode).toBe(422);
    expect(one.json().error).toMatchObject({
      code: 'invalid_content',
      issues: [{ path: 'body.poll.options', message: 'needs at least 2 options' }],
    });
    const buttons = await send({
      conversationId,
      type: 'interactive',
      interactive: { kind: 'button', body: 'Hi', buttons: [{ id: 'a', title: 'A' }] },
    });
    expect(buttons.statusCode).toBe(422);
    expect(buttons.json().error.code).toBe('channel_unsupported');
  });

  it('sends reply buttons and lists on a Cloud API session; refuses polls there and lists outside the limits', async () => {
    const { conversationId } = await cloudConversation('interactive-cloud');
    const list = {
      kind: 'list',
      body: 'Pick a slot',
      button: 'Slots',
      sections: [{ title: 'Today', rows: [{ id: 'm9', title: '09:00', description: 'Front desk' }] }],
    };
    const sent = await send({ conversationId, type: 'interactive', interactive: list });
    expect(sent.statusCode, sent.body).toBe(201);
    expect(sent.json()).toMatchObject({ type: 'interactive', body: 'Pick a slot', interactive: list });
    const rows = Array.from({ length: 11 }, (_, i) => ({ id: `r${i}`, title: `Row ${i}` }));
    const tooMany = await send({
      conversationId,
      type: 'interactive',
      interactive: { ...list, sections: [{ title: 'All', rows }] },
    });
    expect(tooMany.statusCode).toBe(422);
    expect(tooMany.json().error.issues).toEqual([
      { path: 'body.interactive.sections', message: 'at most 10 rows in all sections' },
    ]);
    const longTitle = await send({
      conversationId,
      type: 'interactive',
      interactive: { kind: 'button', body: 'Hi', buttons: [{ id: 'a', title: 'A title far over twenty' }] },
    });
    expect(longTitle.json().error.issues).toEqual([
      { path: 'body.interactive.buttons.0.title', message: 'button title must be at most 20 characters' },
    ]);
    const poll = await send({ conversationId, type: 'poll', poll: { name: 'Q', options: ['a', 'b'] } });
    expect(poll.statusCode).toBe(422);
    expect(poll.json().error.code).toBe('channel_unsupported');
  });
});
