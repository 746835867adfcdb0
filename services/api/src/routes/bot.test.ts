// Session bots through the API (real Postgres and Redis): the settings (off by default, admins
// only, the engine's URL checked like a webhook receiver's, a generated secret sealed with
// SEALING_KEYS and shown once, or a secret:// reference), replies sent with an API key (exactly
// once per Idempotency-Key, marked automated, queued for the session's worker), and the hand-off
// and restart calls, each audited.
import { withTenant } from '@switchboard/db';
import { BOT_SECRET_PURPOSE, QUEUE_NAMES } from '@switchboard/messaging/producer';
import { SealingKeyring } from '@switchboard/secrets';
import { describe, expect, it } from 'vitest';
import {
  app,
  auditCount,
  bearer,
  db,
  SEALING_KEYS,
  seeded,
  setupApi,
  tenantQueue,
  tokenFor,
} from '../testing/api-fixture.ts';

setupApi();

describe('bot settings', () => {
  it('reads the defaults, saves with a sealed secret shown once, keeps it, takes a reference', async () => {
    const admin = await tokenFor('a', 'admin');
    const url = `/v1/sessions/${seeded.a.sessionId}/bot`;
    const initial = await app.inject({ method: 'GET', url, headers: bearer(await tokenFor('a', 'viewer')) });
    expect(initial.statusCode).toBe(200);
    expect(initial.json()).toEqual({
      enabled: false,
      url: null,
      secretRef: null,
      secretSealed: false,
      handoffKeyword: null,
      restartKeyword: null,
    });
    const body = {
      enabled: true,
      url: 'https://a.example/flows/support',
      handoffKeyword: 'agent',
      restartKeyword: 'bot',
    };
    expect(
      (await app.inject({ method: 'PUT', url, headers: bearer(await tokenFor('a', 'agent')), payload: body }))
        .statusCode,
    ).toBe(403);

    const saved = await app.inject({ method: 'PUT', url, headers: bearer(admin), payload: body });
    expect(saved.statusCode, saved.body).toBe(200);
    const secret = saved.json().secret as string;
    expect(secret).toMatch(/^botsec_/);
    expect(saved.json()).toMatchObject({ ...body, secretRef: null, secretSealed: true });
    const row = await withTenant(db, seeded.a.tenantId, (tx) =>
      tx.sessionBotSettings.findFirstOrThrow({ where: { sessionId: seeded.a.sessionId } }),
    );
    expect(SealingKeyring.parse(SEALING_KEYS).open(row.secretCiphertext!, BOT_SECRET_PURPOSE)).toBe(secret);
    expect(Buffer.from(row.secretCiphertext!).toString('latin1')).not.toContain(secret);

    // Saved again: the secret is kept and not shown; rotateSecret makes a new one.
    const again = await app.inject({
      method: 'PUT',
      url,
      headers: bearer(admin),
      payload: { ...body, enabled: false },
    });
    expect(again.json()).toEqual({ ...body, enabled: false, secretRef: null, secretSealed: true });
    const rotated = await app.inject({
      method: 'PUT',
      url,
      headers: bearer(admin),
      payload: { ...body, rotateSecret: true },
    });
    expect(rotated.json().secret).toMatch(/^botsec_/);
    expect(rotated.json().secret).not.toBe(secret);
    const referenced = await app.inject({
      method: 'PUT',
      url,
      headers: bearer(admin),
      payload: { ...body, secretRef: 'secret://vault/bots/support' },
    });
    expect(referenced.json()).toEqual({
      ...body,
      secretRef: 'secret://vault/bots/support',
      secretSealed: false,
    });
    expect((await app.inject({ method: 'GET', url, headers: bearer(admin) })).json()).toEqual(
      referenced.json(),
    );
    expect(await auditCount('session.bot_settings_updated', seeded.a.sessionId)).toBe(4);

    const internal = await app.inject({
      method: 'PUT',
      url,
      headers: bearer(admin),
      payload: { ...body, url: 'http://127.0.0.1:9/hook' },
    });
    expect(internal.statusCode).toBe(422);
    expect(internal.json().error.code).toBe('webhook_receiver_refused');
    const badKeyword = await app.inject({
      method: 'PUT',
      url,
      headers: bearer(admin),
      payload: { ...body, handoffKeyword: ' ' },
    });
    expect(badKeyword.statusCode).toBe(400);
    expect(badKeyword.json().error.issues[0].path).toBe('body.handoffKeyword');
    const plainHttp = await app.inject({
      method: 'PUT',
      url,
      headers: bearer(admin),
      payload: { ...body, url: 'http://a.example/x' },
    });
    expect(plainHttp.statusCode).toBe(400);
    expect(
      (
        await app.inject({
          method: 'PUT',
          url: `/v1/sessions/${seeded.b.sessionId}/bot`,
          headers: bearer(admin),
          payload: body,
        })
      ).statusCode,
    ).toBe(404);
  });
});

describe('bot replies and hand-off', () => {
  it('sends replies once per Idempotency-Key with an API key, hands off, refuses replies, resumes', async () => {
    const owner = await tokenFor('a', 'owner');
    const created = await app.inject({
      method: 'POST',
      url: '/v1/api-keys',
      headers: bearer(owner),
      payload: { name: 'flow-engine', scopes: ['send', 'read'] },
    });
    expect(created.statusCode, created.body).toBe(201);
    const apiKey = { 'x-api-key': created.json().key as string };
    const conversationId = seeded.a.conversationId;
    const replies = {
      replies: [
        { type: 'text', text: 'Thanks for waiting.' },
        { type: 'text', text: 'Your refund is on its way.' },
      ],
    };
    const send = (key: string) =>
      app.inject({
        method: 'POST',
        url: `/v1/conversations/${conversationId}/bot/replies`,
        headers: { ...apiKey, 'idempotency-key': key },
        payload: replies,
      });
    const first = await send('engine-run-1');
    expect(first.statusCode, first.body).toBe(202);
    const ids = first.json().messageIds as string[];
    expect(ids).toHaveLength(2);
    const repeated = await send('engine-run-1');
    expect(repeated.statusCode).toBe(202);
    expect(repeated.json().messageIds).toEqual(ids);
    const history = await app.inject({
      method: 'GET',
      url: `/v1/conversations/${conversationId}/messages`,
      headers: apiKey,
    });
    const automated = (
      history.json().items as { id: string; automatedBy: string | null; body: string }[]
    ).filter((m) => m.automatedBy === 'bot');
    expect(automated.map((m) => m.id).sort()).toEqual([...ids].sort());
    const queue = tenantQueue(QUEUE_NAMES.outbound(seeded.a.sessionId));
    try {
      for (const id of ids) expect(await queue.getJob(`send-${id}`)).toBeDefined();
    } finally {
      await queue.close();
    }
    expect(await auditCount('conversation.bot_replies_sent', conversationId)).toBe(1);

    const handoff = await app.inject({
      method: 'POST',
      url: `/v1/conversations/${conversationId}/bot/handoff`,
      headers: apiKey,
    });
    expect(handoff.statusCode, handoff.body).toBe(200);
    expect(handoff.json()).toMatchObject({ conversationId, automationStoppedReason: 'api' });
    expect(handoff.json().automationStoppedAt).not.toBeNull();
    const conversation = await withTenant(db, seeded.a.tenantId, (tx) =>
      tx.conversation.findUniqueOrThrow({ where: { id: conversationId } }),
    );
    expect(conversation).toMatchObject({ assigneeId: null, status: 'open' });
    // The team has it: the bot's replies are refused, a repeat of an earlier call still answers.
    const refused = await send('engine-run-2');
    expect(refused.statusCode).toBe(409);
    expect((await send('engine-run-1')).json().messageIds).toEqual(ids);
    // Idempotent: a second hand-off changes (and audits) nothing.
    await app.inject({
      method: 'POST',
      url: `/v1/conversations/${conversationId}/bot/handoff`,
      headers: apiKey,
    });
    expect(await auditCount('conversation.automation_stopped', conversationId)).toBe(1);

    const resumed = await app.inject({
      method: 'POST',
      url: `/v1/conversations/${conversationId}/bot/resume`,
      headers: bearer(await tokenFor('a', 'agent')),
    });
    expect(resumed.json()).toEqual({
      conversationId,
      automationStoppedAt: null,
      automationStoppedReason: null,
    });
    expect(await auditCount('conversation.automation_resumed', conversationId)).toBe(1);
    expect((await send('engine-run-2')).statusCode).toBe(202);

    const viewer = await app.inject({
      method: 'POST',
      url: `/v1/conversations/${conversationId}/bot/handoff`,
      headers: bearer(await tokenFor('a', 'viewer')),
    });
    expect(viewer.statusCode).toBe(403);
    const otherTenant = await app.inject({
      method: 'POST',
      url: `/v1/conversations/${seeded.b.conversationId}/bot/handoff`,
      headers: apiKey,
    });
    expect(otherTenant.statusCode).toBe(404);
    const bad = await app.inject({
      method: 'POST',
      url: `/v1/conversations/${conversationId}/bot/replies`,
      headers: { ...apiKey, 'idempotency-key': 'x' },
      payload: { replies: [{ type: 'text', text: '' }] },
    });
    expect(bad.statusCode).toBe(400);
    const keyless = await app.inject({
      method: 'POST',
      url: `/v1/conversations/${conversationId}/bot/replies`,
      headers: apiKey,
      payload: replies,
    });
    expect(keyless.statusCode).toBe(400);
    expect(keyless.json().error.issues[0].path).toBe('headers.idempotency-key');
  });
});

describe('bot deliveries', () => {
  it("lists a session's deliveries with their attempts, newest first, to admins", async () => {
    const admin = await tokenFor('a', 'admin');
    const rows = await withTenant(db, seeded.a.tenantId, async (tx) => {
      const older = await tx.botDelivery.create({
        data: {
          tenantId: seeded.a.tenantId,
          sessionId: seeded.a.sessionId,
          conversationId: seeded.a.conversationId,
          messageId: seeded.a.messageId,
          status: 'failed',
          attempts: 15,
          responseCode: 503,
          lastError: 'HTTP 503',
          createdAt: new Date(Date.now() - 60_000),
        },
      });
      const newer = await tx.botDelivery.create({
        data: {
          tenantId: seeded.a.tenantId,
          sessionId: seeded.a.sessionId,
          conversationId: seeded.a.conversationId,
          messageId: seeded.a.scheduledId,
          status: 'succeeded',
          attempts: 1,
          responseCode: 200,
          replies: 2,
          deliveredAt: new Date(),
        },
      });
      return [newer, older];
    });
    const url = `/v1/sessions/${seeded.a.sessionId}/bot/deliveries?limit=1`;
    const first = await app.inject({ method: 'GET', url, headers: bearer(admin) });
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json().items).toEqual([
      expect.objectContaining({ id: rows[0]!.id, status: 'succeeded', attempts: 1, replies: 2 }),
    ]);
    const second = await app.inject({
      method: 'GET',
      url: `${url}&cursor=${encodeURIComponent(first.json().nextCursor)}`,
      headers: bearer(admin),
    });
    expect(second.json().items).toEqual([
      expect.objectContaining({ id: rows[1]!.id, status: 'failed', attempts: 15, lastError: 'HTTP 503' }),
    ]);
    expect(
      (await app.inject({ method: 'GET', url, headers: bearer(await tokenFor('a', 'agent')) })).statusCode,
    ).toBe(403);
    const other = await app.inject({
      method: 'GET',
      url: `/v1/sessions/${seeded.b.sessionId}/bot/deliveries`,
      headers: bearer(admin),
    });
    expect(other.statusCode).toBe(404);
  });
});
