// The assistant's API with real Postgres and Redis: tenant settings (admins write, audited, bad
// input a 400 on its field), the kill switch reaching the Redis flag governance reads, the budget
// read from governance's counters, the usage log paged newest first, and per-session settings
// (another tenant's session a 404).
import { reserveCall, settle, tenantPausedKey } from '@switchboard/assistant';
import { withTenant } from '@switchboard/db';
import { redisOptions } from '@switchboard/testing';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import {
  app,
  auditCount,
  bearer,
  db,
  redis,
  seeded,
  setupApi,
  slugA,
  tokenFor,
} from '../testing/api-fixture.ts';

setupApi();

// The workers' side of governance (claims, burst windows) is not the API user's: a connection of
// the test's own plays the worker.
const worker = new Redis(redisOptions());
afterAll(() => worker.disconnect());

const settings = {
  baseUrl: 'https://llm.example.com/v1',
  model: 'gpt-4o-mini',
  apiKeyRef: 'secret://env/OPENAI_KEY',
  dailyMessageLimit: 100,
  dailyTokenLimit: 50_000,
  monthlyMessageLimit: null,
  monthlyTokenLimit: 1_000_000,
  maxReplyTokens: 300,
  burstMaxReplies: 3,
  burstWindowSeconds: 600,
  timeoutSeconds: 20,
  blockedTopics: ['politics'],
  blockedTopicReply: 'I cannot help with that.',
  handoffKeywords: ['human'],
  handoffMessage: 'A colleague will answer.',
  allowContactDetails: false,
};

describe('assistant API', () => {
  it('saves the provider settings (admins only, audited) and refuses bad input on its field', async () => {
    const admin = await tokenFor('a', 'admin');
    const initial = await app.inject({
      method: 'GET',
      url: '/v1/assistant',
      headers: bearer(await tokenFor('a', 'viewer')),
    });
    expect(initial.statusCode).toBe(200);
    expect(initial.json()).toEqual({ settings: null, paused: false });
    const agent = await app.inject({
      method: 'PUT',
      url: '/v1/assistant',
      headers: bearer(await tokenFor('a', 'agent')),
      payload: settings,
    });
    expect(agent.statusCode).toBe(403);
    const plainKey = await app.inject({
      method: 'PUT',
      url: '/v1/assistant',
      headers: bearer(admin),
      payload: { ...settings, apiKeyRef: 'sk-live-not-a-reference' },
    });
    expect(plainKey.statusCode).toBe(400);
    expect(plainKey.json().error.issues[0].path).toBe('body.apiKeyRef');
    const badUrl = await app.inject({
      method: 'PUT',
      url: '/v1/assistant',
      headers: bearer(admin),
      payload: { ...settings, baseUrl: 'ftp://x' },
    });
    expect(badUrl.statusCode).toBe(400);
    expect(badUrl.json().error.issues[0].path).toBe('body.baseUrl');
    const saved = await app.inject({
      method: 'PUT',
      url: '/v1/assistant',
      headers: bearer(admin),
      payload: settings,
    });
    expect(saved.statusCode, saved.body).toBe(200);
    expect(saved.json()).toEqual({ settings, paused: false });
    expect(await auditCount('assistant.settings_updated', seeded.a.tenantId)).toBe(1);
    // Tenant B sees none of it.
    const other = await app.inject({
      method: 'GET',
      url: '/v1/assistant',
      headers: bearer(await tokenFor('b', 'admin')),
    });
    expect(other.json()).toEqual({ settings: null, paused: false });
  });

  it('turns the kill switch on and off where governance reads it', async () => {
    const admin = await tokenFor('a', 'admin');
    const key = tenantPausedKey(`sb:${slugA}:`);
    const on = await app.inject({
      method: 'PUT',
      url: '/v1/assistant/kill-switch',
      headers: bearer(admin),
      payload: { paused: true },
    });
    expect(on.statusCode, on.body).toBe(200);
    expect(await redis.exists(key)).toBe(1);
    expect(
      (await app.inject({ method: 'GET', url: '/v1/assistant', headers: bearer(admin) })).json().paused,
    ).toBe(true);
    const refused = await reserveCall(worker, {
      keyPrefix: `sb:${slugA}:`,
      platformEnabled: true,
      tenantPaused: false,
      model: 'gpt-4o-mini',
      allowedModels: undefined,
      messageId: 'kill-switch-probe',
      conversationId: 'c',
      burstMaxReplies: 5,
      burstWindowMs: 60_000,
      reserveTokens: 0,
      callsProvider: false,
      dailyMessageLimit: null,
      dailyTokenLimit: null,
      monthlyMessageLimit: null,
      monthlyTokenLimit: null,
      now: new Date(),
    });
    expect(refused).toEqual({ allowed: false, reason: 'tenant_paused' });
    const viewer = await app.inject({
      method: 'PUT',
      url: '/v1/assistant/kill-switch',
      headers: bearer(await tokenFor('a', 'viewer')),
      payload: { paused: false },
    });
    expect(viewer.statusCode).toBe(403);
    const off = await app.inject({
      method: 'PUT',
      url: '/v1/assistant/kill-switch',
      headers: bearer(admin),
      payload: { paused: false },
    });
    expect(off.json()).toEqual({ paused: false });
    expect(await redis.exists(key)).toBe(0);
    expect(await auditCount('assistant.paused', seeded.a.tenantId)).toBe(1);
    expect(await auditCount('assistant.resumed', seeded.a.tenantId)).toBe(1);
  });

  it("reads the remaining budget from governance's counters", async () => {
    const now = new Date();
    const decision = await reserveCall(worker, {
      keyPrefix: `sb:${slugA}:`,
      platformEnabled: true,
      tenantPaused: false,
      model: 'gpt-4o-mini',
      allowedModels: undefined,
      messageId: 'budget-probe',
      conversationId: 'c-budget',
      burstMaxReplies: 5,
      burstWindowMs: 60_000,
      reserveTokens: 900,
      callsProvider: true,
      dailyMessageLimit: null,
      dailyTokenLimit: null,
      monthlyMessageLimit: null,
      monthlyTokenLimit: null,
      now,
    });
    if (!decision.allowed) throw new Error(decision.reason);
    await settle(worker, decision.reservation, { sent: true, usedTokens: 250 });
    const response = await app.inject({
      method: 'GET',
      url: '/v1/assistant/budget',
      headers: bearer(await tokenFor('a', 'viewer')),
    });
    expect(response.statusCode, response.body).toBe(200);
    const budget = response.json();
    expect(budget.day.messages).toEqual({ used: 1, limit: 100, remaining: 99 });
    expect(budget.day.tokens).toEqual({ used: 250, limit: 50_000, remaining: 49_750 });
    expect(budget.month.messages).toEqual({ used: 1, limit: null, remaining: null });
    expect(budget.month.tokens).toEqual({ used: 250, limit: 1_000_000, remaining: 999_750 });
  });

  it('pages the usage log newest first', async () => {
    const { tenantId, sessionId, conversationId } = seeded.a;
    await withTenant(db, tenantId, async (tx) => {
      for (let i = 0; i < 3; i++)
        await tx.assistantUsage.create({
          data: {
            tenantId,
            sessionId,
            conversationId,
            inboundMessageId: `00000000-0000-4000-8000-00000000000${i}`,
            outcome: i === 0 ? 'refused' : 'replied',
            reason: i === 0 ? 'burst_limit' : null,
            model: 'gpt-4o-mini',
            tokensIn: 100 * i,
            tokensOut: 10 * i,
            latencyMs: 50,
            costMicros: BigInt(21 * i),
            createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)),
          },
        });
    });
    const viewer = bearer(await tokenFor('a', 'viewer'));
    const first = await app.inject({ method: 'GET', url: '/v1/assistant/usage?limit=2', headers: viewer });
    expect(first.statusCode, first.body).toBe(200);
    const body = first.json();
    expect(body.items.map((u: { tokensIn: number }) => u.tokensIn)).toEqual([200, 100]);
    expect(body.items[0]).toMatchObject({
      outcome: 'replied',
      model: 'gpt-4o-mini',
      tokensOut: 20,
      costMicros: 42,
    });
    const second = await app.inject({
      method: 'GET',
      url: `/v1/assistant/usage?limit=2&cursor=${body.nextCursor}`,
      headers: viewer,
    });
    expect(second.json()).toMatchObject({
      items: [{ outcome: 'refused', reason: 'burst_limit', tokensIn: 0 }],
      nextCursor: null,
    });
    const bad = await app.inject({
      method: 'GET',
      url: '/v1/assistant/usage?sessionId=nope',
      headers: viewer,
    });
    expect(bad.statusCode).toBe(400);
    const otherTenant = await app.inject({
      method: 'GET',
      url: '/v1/assistant/usage',
      headers: bearer(await tokenFor('b', 'viewer')),
    });
    expect(otherTenant.json().items).toEqual([]);
  });

  it("reads and replaces a session's assistant settings", async () => {
    const admin = await tokenFor('a', 'admin');
    const url = `/v1/sessions/${seeded.a.sessionId}/assistant`;
    const initial = await app.inject({ method: 'GET', url, headers: bearer(await tokenFor('a', 'viewer')) });
    expect(initial.json()).toEqual({
      enabled: false,
      systemPrompt: null,
      knowledge: null,
      historyMaxMessages: 20,
      historyMaxTokens: 4000,
      answerMode: 'always',
    });
    const body = {
      enabled: true,
      systemPrompt: 'You answer for Acme.',
      knowledge: 'Open 9-18.',
      historyMaxMessages: 10,
      historyMaxTokens: 2000,
      answerMode: 'outside_business_hours',
    };
    const agent = await app.inject({
      method: 'PUT',
      url,
      headers: bearer(await tokenFor('a', 'agent')),
      payload: body,
    });
    expect(agent.statusCode).toBe(403);
    const badMode = await app.inject({
      method: 'PUT',
      url,
      headers: bearer(admin),
      payload: { ...body, answerMode: 'sometimes' },
    });
    expect(badMode.statusCode).toBe(400);
    expect(badMode.json().error.issues[0].path).toBe('body.answerMode');
    const saved = await app.inject({ method: 'PUT', url, headers: bearer(admin), payload: body });
    expect(saved.statusCode, saved.body).toBe(200);
    expect(saved.json()).toEqual(body);
    expect((await app.inject({ method: 'GET', url, headers: bearer(admin) })).json()).toEqual(body);
    expect(await auditCount('session.assistant_updated', seeded.a.sessionId)).toBe(1);
    const other = await app.inject({
      method: 'PUT',
      url: `/v1/sessions/${seeded.b.sessionId}/assistant`,
      headers: bearer(admin),
      payload: body,
    });
    expect(other.statusCode).toBe(404);
  });
});
