import { randomBytes, randomUUID } from 'node:crypto';
import { withTenant } from '@switchboard/db';
import { outboundJobSchema, QUEUE_NAMES, queuePrefix } from '@switchboard/messaging/producer';
import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import {
  app,
  bearer,
  cloudConversation,
  db,
  eventually,
  redis,
  seeded,
  setupApi,
  slugA,
  suffix,
  tenantQueue,
  tokenFor,
} from '../testing/api-fixture.ts';

setupApi();

describe('sending', () => {
  it('starts a conversation with a number through a session, once, and refuses half a target', async () => {
    const h = bearer(await tokenFor('a', 'agent'));
    const { sessionId, tenantId } = seeded.a;
    const send = (payload: object) =>
      app.inject({
        method: 'POST',
        url: '/v1/messages',
        headers: { ...h, 'idempotency-key': `first-${randomBytes(4).toString('hex')}` },
        payload,
      });
    const number = '5511955554444';
    const first = await send({ sessionId, to: `+${number}`, text: 'Olá! Seu pedido saiu.' });
    expect(first.statusCode).toBe(201);
    const second = await send({ sessionId, to: number, text: 'Chega amanhã.' });
    expect(second.statusCode).toBe(201);
    // One contact, one conversation, both messages in it.
    expect(second.json().conversationId).toBe(first.json().conversationId);
    const stored = await withTenant(db, tenantId, (tx) =>
      tx.conversation.findUniqueOrThrow({
        where: { id: first.json().conversationId },
        include: { contact: { include: { identities: true } }, messages: true },
      }),
    );
    expect(stored.sessionId).toBe(sessionId);
    expect(stored.contact.identities.map((i) => [i.kind, i.value])).toEqual([['pn', number]]);
    expect(stored.messages).toHaveLength(2);
    for (const [payload, field] of [
      [{ sessionId, text: 'x' }, 'conversationId'],
      [{ to: number, text: 'x' }, 'conversationId'],
      [{ conversationId: first.json().conversationId, sessionId, to: number, text: 'x' }, 'conversationId'],
      [{ sessionId, to: '12', text: 'x' }, 'to'],
    ] as const) {
      const refused = await send(payload);
      expect(refused.statusCode, JSON.stringify(payload)).toBe(400);
      expect(refused.json().error.message).toContain(field);
    }
    const elsewhere = await send({ sessionId: seeded.b.sessionId, to: number, text: 'x' });
    expect(elsewhere.statusCode).toBe(404);
  });

  it('stores a queued message and enqueues one job per Idempotency-Key', async () => {
    const h = bearer(await tokenFor('a', 'agent'));
    const { conversationId, sessionId, tenantId } = seeded.a;
    const key = `send-${randomBytes(4).toString('hex')}`;
    const send = (payload: object, k = key) =>
      app.inject({ method: 'POST', url: '/v1/messages', headers: { ...h, 'idempotency-key': k }, payload });
    const first = await send({ conversationId, text: 'hello' });
    expect(first.statusCode).toBe(201);
    expect(first.json()).toMatchObject({ status: 'queued', direction: 'outbound', body: 'hello', sessionId });
    const again = await send({ conversationId, text: 'hello' });
    expect(again.statusCode).toBe(200);
    expect(again.json().id).toBe(first.json().id);
    const other = await send({ conversationId, text: 'different' });
    expect(other.json().error.code).toBe('idempotency_key_mismatch');
    const queue = new Queue(QUEUE_NAMES.outbound(sessionId), {
      connection: redis,
      prefix: queuePrefix(`sb:${slugA}:`),
    });
    try {
      const jobs = await queue.getJobs(['waiting', 'delayed', 'active', 'prioritized']);
      const mine = jobs.filter((j) => j.data.messageId === first.json().id);
      expect(mine).toHaveLength(1);
      expect(mine[0]!.id).toBe(`send-${first.json().id}`);
      expect(outboundJobSchema.parse(mine[0]!.data)).toEqual({
        kind: 'send',
        tenantId,
        messageId: first.json().id,
        // The API request's id (generated here: the request sent no X-Request-Id).
        requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      });
    } finally {
      await queue.close();
    }
    const status = await app.inject({ method: 'GET', url: `/v1/messages/${first.json().id}`, headers: h });
    expect(status.json().status).toBe('queued');
    const missingKey = await app.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: h,
      payload: { conversationId, text: 'x' },
    });
    expect(missingKey.statusCode).toBe(400);
    const foreign = await send({ conversationId: seeded.b.conversationId, text: 'hi' }, `${key}-b`);
    expect(foreign.statusCode).toBe(404);
  });
});

describe('Idempotency-Key reuse', () => {
  const send = async (key: string, text: string) =>
    app.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: { ...bearer(await tokenFor('a', 'agent')), 'idempotency-key': key },
      payload: { conversationId: seeded.a.conversationId, text },
    });
  const messagesWith = (key: string) =>
    withTenant(db, seeded.a.tenantId, (tx) => tx.message.count({ where: { idempotencyKey: key } }));

  it('two parallel identical sends with one key make one message and both answer it', async () => {
    const key = `parallel-${randomBytes(4).toString('hex')}`;
    const answers = await Promise.all(Array.from({ length: 4 }, () => send(key, 'at once')));
    expect(answers.map((a) => a.statusCode).sort()).toEqual([200, 200, 200, 201]);
    expect(new Set(answers.map((a) => a.json().id)).size).toBe(1);
    expect(await messagesWith(key)).toBe(1);
  });

  it('a send whose key a concurrent twin inserted first answers the twin once it commits, not a 500', async () => {
    const hex = randomBytes(4).toString('hex');
    const model = await send(`race-model-${hex}`, 'raced');
    expect(model.statusCode).toBe(201);
    const key = `race-${hex}`;
    const twinId = randomUUID();
    let raced: ReturnType<typeof send> | undefined;
    // The twin's key and message, uncommitted: the request reads neither, and its own insert of
    // the key waits on this transaction; committing then makes that insert fail on the unique index.
    await withTenant(
      db,
      seeded.a.tenantId,
      async (tx) => {
        const record = await tx.idempotencyKey.findFirstOrThrow({ where: { key: `race-model-${hex}` } });
        await tx.idempotencyKey.create({
          data: {
            tenantId: seeded.a.tenantId,
            key,
            requestHash: record.requestHash,
            expiresAt: record.expiresAt,
          },
        });
        await tx.message.create({
          data: {
            id: twinId,
            tenantId: seeded.a.tenantId,
            sessionId: seeded.a.sessionId,
            conversationId: seeded.a.conversationId,
            direction: 'outbound',
            status: 'queued',
            type: 'text',
            body: 'raced',
            idempotencyKey: key,
          },
        });
        raced = send(key, 'raced');
        await eventually(
          'the send to wait on the twin',
          async () => {
            const [row] = await tx.$queryRaw<{ waiting: number }[]>`
              SELECT count(*)::int AS waiting FROM pg_stat_activity
               WHERE pg_backend_pid() = ANY (pg_blocking_pids(pid))`;
            return (row?.waiting ?? 0) > 0;
          },
          20_000,
        );
      },
      { timeout: 30_000 },
    );
    const answer = await raced;
    expect(answer?.statusCode).toBe(200);
    expect(answer?.json().id).toBe(twinId);
    expect(await messagesWith(key)).toBe(1);
  });

  it('after the key expired (24 h), the same request gets the stored answer and another is refused', async () => {
    const key = `expired-${randomBytes(4).toString('hex')}`;
    const first = await send(key, 'a day ago');
    expect(first.statusCode).toBe(201);
    await withTenant(db, seeded.a.tenantId, (tx) =>
      tx.idempotencyKey.updateMany({ where: { key }, data: { expiresAt: new Date(Date.now() - 1000) } }),
    );
    const again = await send(key, 'a day ago');
    expect(again.statusCode).toBe(200);
    expect(again.json().id).toBe(first.json().id);
    const other = await send(key, 'something else');
    expect(other.statusCode).toBe(422);
    expect(other.json().error.code).toBe('idempotency_key_mismatch');
    // The key's record gone altogether (cleaned up): still never a 500, still one message.
    await withTenant(db, seeded.a.tenantId, (tx) => tx.idempotencyKey.deleteMany({ where: { key } }));
    const gone = await send(key, 'a day ago');
    expect(gone.statusCode).toBe(422);
    expect(await messagesWith(key)).toBe(1);
  });
});

describe('template sends', () => {
  it('sends templates through Cloud API sessions only, checked against the stored template', async () => {
    const h = bearer(await tokenFor('a', 'agent'));
    const { tenantId } = seeded.a;
    const cloud = await cloudConversation(`cloud-tpl-${suffix}`);
    await withTenant(db, tenantId, (tx) =>
      tx.messageTemplate.create({
        data: { tenantId, name: 'order_update', language: 'en_US', body: 'Order {{1}} ships {{2}}' },
      }),
    );
    const send = (payload: object) =>
      app.inject({
        method: 'POST',
        url: '/v1/messages',
        headers: { ...h, 'idempotency-key': `tpl-${randomBytes(6).toString('hex')}` },
        payload,
      });
    const components = [
      {
        type: 'body',
        parameters: [
          { type: 'text', text: 'A-17' },
          { type: 'text', text: 'today' },
        ],
      },
    ];
    const sent = await send({
      conversationId: cloud.conversationId,
      type: 'template',
      name: 'order_update',
      language: 'en_US',
      components,
    });
    expect(sent.statusCode, sent.body).toBe(201);
    expect(sent.json()).toMatchObject({
      type: 'template',
      body: 'Order A-17 ships today',
      status: 'queued',
      sessionId: cloud.sessionId,
      template: { name: 'order_update', language: 'en_US', components },
    });
    const stored = await withTenant(db, tenantId, (tx) =>
      tx.message.findUniqueOrThrow({ where: { id: sent.json().id } }),
    );
    expect(stored.type).toBe('template');
    expect(stored.template).toEqual({ name: 'order_update', language: 'en_US', components });
    const queue = tenantQueue(QUEUE_NAMES.outbound(cloud.sessionId));
    try {
      expect(await queue.getJob(`send-${sent.json().id}`)).toBeDefined();
    } finally {
      await queue.close();
    }

    const tooFew = await send({
      conversationId: cloud.conversationId,
      type: 'template',
      name: 'order_update',
      language: 'en_US',
      components: [{ type: 'body', parameters: [{ type: 'text', text: 'A-17' }] }],
    });
    expect(tooFew.statusCode).toBe(400);
    expect(tooFew.json().error.message).toContain('2 body parameter');
    const misspelt = await send({
      conversationId: cloud.conversationId,
      type: 'template',
      name: 'order_update',
      language: 'en_US',
      components: [{ type: 'body', parameters: [{ type: 'text', txt: 'A-17' }] }],
    });
    expect(misspelt.statusCode).toBe(400);
    const unknownHere = await send({
      conversationId: cloud.conversationId,
      type: 'template',
      name: 'promo_winter',
      language: 'de',
    });
    expect(unknownHere.statusCode).toBe(201);
    expect(unknownHere.json().body).toBe('[template promo_winter (de)]');

    const baileys = await send({
      conversationId: seeded.a.conversationId,
      type: 'template',
      name: 'order_update',
      language: 'en_US',
      components,
    });
    expect(baileys.statusCode).toBe(422);
    expect(baileys.json().error.code).toBe('channel_unsupported');
    expect(baileys.json().error.message).toContain('Cloud API session');
  });
});
