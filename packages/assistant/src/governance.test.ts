// Governance against a real Redis: each rule refuses the call (kill switches, allow-list, burst,
// daily and monthly limits in messages and tokens), a message is answered once, and settling
// leaves the counters equal to what the provider reported.
import { redisNamespace, redisOptions } from '@switchboard/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type GovernanceRequest,
  peekCall,
  readBudget,
  reserveCall,
  setProviderCooldown,
  setTenantPaused,
  settle,
} from './governance.ts';

const namespace = redisNamespace('assistant-governance');
let redis: Redis;
let counter = 0;

beforeAll(() => {
  redis = new Redis(redisOptions());
});
afterAll(async () => {
  await namespace.cleanup();
  redis.disconnect();
});

/** A request of its own tenant prefix and conversation, every rule passing unless overridden. */
function request(overrides: Partial<GovernanceRequest> = {}): GovernanceRequest {
  counter += 1;
  return {
    keyPrefix: `${namespace.prefix}:t${counter}:`,
    platformEnabled: true,
    tenantPaused: false,
    model: 'gpt-4o-mini',
    allowedModels: undefined,
    messageId: `m-${counter}`,
    conversationId: `c-${counter}`,
    burstMaxReplies: 5,
    burstWindowMs: 600_000,
    reserveTokens: 100,
    callsProvider: true,
    dailyMessageLimit: null,
    dailyTokenLimit: null,
    monthlyMessageLimit: null,
    monthlyTokenLimit: null,
    now: new Date('2026-03-10T12:00:00Z'),
    ...overrides,
  };
}

describe('reserveCall', () => {
  it('allows a call, claims the message once, and counts it', async () => {
    const base = request();
    const first = await reserveCall(redis, base);
    expect(first).toMatchObject({
      allowed: true,
      day: { messages: 1, tokens: 100 },
      month: { messages: 1, tokens: 100 },
    });
    expect(await reserveCall(redis, base)).toEqual({ allowed: false, reason: 'duplicate' });
  });

  it('refuses when the platform kill switch is off', async () => {
    expect(await reserveCall(redis, request({ platformEnabled: false }))).toEqual({
      allowed: false,
      reason: 'platform_disabled',
    });
  });

  it('refuses when the tenant kill switch is on, in Redis or in the database', async () => {
    const flagged = request();
    await setTenantPaused(redis, flagged.keyPrefix, true);
    expect(await reserveCall(redis, flagged)).toEqual({ allowed: false, reason: 'tenant_paused' });
    await setTenantPaused(redis, flagged.keyPrefix, false);
    expect((await reserveCall(redis, { ...flagged, messageId: 'after-resume' })).allowed).toBe(true);
    expect(await reserveCall(redis, request({ tenantPaused: true }))).toEqual({
      allowed: false,
      reason: 'tenant_paused',
    });
  });

  it('refuses a model off the allow-list', async () => {
    const allowedModels = ['gpt-4o-mini', 'llama3'];
    expect(await reserveCall(redis, request({ model: 'gpt-4o', allowedModels }))).toEqual({
      allowed: false,
      reason: 'model_not_allowed',
    });
    expect((await reserveCall(redis, request({ model: 'llama3', allowedModels }))).allowed).toBe(true);
    expect(await reserveCall(redis, request({ model: 'x', allowedModels: [] }))).toEqual({
      allowed: false,
      reason: 'model_not_allowed',
    });
  });

  it("holds provider calls after a 429 for the provider's Retry-After, not fixed answers", async () => {
    const base = request();
    await setProviderCooldown(redis, base.keyPrefix, 30_000);
    expect(await reserveCall(redis, base)).toEqual({ allowed: false, reason: 'provider_cooling_down' });
    const fixed = { ...base, messageId: 'fixed', callsProvider: false, reserveTokens: 0 };
    expect((await reserveCall(redis, fixed)).allowed).toBe(true);
    expect(await redis.pttl(`${base.keyPrefix}assistant:cooldown`)).toBeGreaterThan(0);
  });

  it('refuses the N+1th reply of a conversation within the window, and allows it after', async () => {
    const base = request({ burstMaxReplies: 2, burstWindowMs: 60_000 });
    const at = (offsetMs: number, id: string) => ({
      ...base,
      messageId: id,
      now: new Date(base.now.getTime() + offsetMs),
    });
    expect((await reserveCall(redis, at(0, 'a'))).allowed).toBe(true);
    expect((await reserveCall(redis, at(1_000, 'b'))).allowed).toBe(true);
    expect(await reserveCall(redis, at(2_000, 'c'))).toEqual({ allowed: false, reason: 'burst_limit' });
    // Another conversation of the same tenant is not held back.
    expect((await reserveCall(redis, { ...at(2_000, 'd'), conversationId: 'other' })).allowed).toBe(true);
    // Past the window, the first two replies no longer count.
    expect((await reserveCall(redis, at(61_001, 'e'))).allowed).toBe(true);
  });

  it('refuses past the daily and monthly limits in messages and tokens', async () => {
    const daily = request({ dailyMessageLimit: 1 });
    expect((await reserveCall(redis, daily)).allowed).toBe(true);
    expect(await reserveCall(redis, { ...daily, messageId: 'next' })).toEqual({
      allowed: false,
      reason: 'daily_message_limit',
    });
    // The next UTC day starts a new count.
    expect(
      (await reserveCall(redis, { ...daily, messageId: 'tomorrow', now: new Date('2026-03-11T00:00:01Z') }))
        .allowed,
    ).toBe(true);

    const dayTokens = request({ dailyTokenLimit: 150 });
    expect((await reserveCall(redis, dayTokens)).allowed).toBe(true);
    expect(await reserveCall(redis, { ...dayTokens, messageId: 'next' })).toEqual({
      allowed: false,
      reason: 'daily_token_limit',
    });

    const monthly = request({ monthlyMessageLimit: 1 });
    expect((await reserveCall(redis, monthly)).allowed).toBe(true);
    expect(
      await reserveCall(redis, { ...monthly, messageId: 'later', now: new Date('2026-03-20T00:00:00Z') }),
    ).toEqual({ allowed: false, reason: 'monthly_message_limit' });

    const monthTokens = request({ monthlyTokenLimit: 100 });
    expect((await reserveCall(redis, monthTokens)).allowed).toBe(true);
    expect(await reserveCall(redis, { ...monthTokens, messageId: 'later', reserveTokens: 1 })).toEqual({
      allowed: false,
      reason: 'monthly_token_limit',
    });
  });

  it('counts nothing for a refused call, and decides on it once', async () => {
    const base = request({ dailyMessageLimit: 1 });
    expect((await reserveCall(redis, base)).allowed).toBe(true);
    const refused = { ...base, messageId: 'refused' };
    expect((await reserveCall(redis, refused)).allowed).toBe(false);
    const budget = await readBudget(redis, base.keyPrefix, base, base.now);
    expect(budget.day.messages).toEqual({ used: 1, limit: 1, remaining: 0 });
    // Another replica seeing the same message finds it decided.
    expect(await reserveCall(redis, { ...refused, dailyMessageLimit: null })).toEqual({
      allowed: false,
      reason: 'duplicate',
    });
  });
});

describe('peekCall', () => {
  it('answers what reserveCall would decide, and claims, counts and reserves nothing', async () => {
    const base = request({ dailyMessageLimit: 1, burstMaxReplies: 1 });
    expect(await peekCall(redis, base)).toBeNull();
    expect(await peekCall(redis, base)).toBeNull();
    // Nothing claimed: the message is still decided on once, by the call itself.
    expect((await reserveCall(redis, base)).allowed).toBe(true);
    expect(await peekCall(redis, { ...base, messageId: 'next' })).toBe('burst_limit');
    expect(await peekCall(redis, { ...base, messageId: 'next', conversationId: 'other' })).toBe(
      'daily_message_limit',
    );
    expect(await peekCall(redis, request({ platformEnabled: false }))).toBe('platform_disabled');
    expect(await peekCall(redis, request({ allowedModels: ['gpt-4.1'] }))).toBe('model_not_allowed');
    const cooling = request();
    await setProviderCooldown(redis, cooling.keyPrefix, 60_000);
    expect(await peekCall(redis, cooling)).toBe('provider_cooling_down');
    expect(await peekCall(redis, { ...cooling, callsProvider: false })).toBeNull();
    // A peek counted nothing: one message and its 100 tokens, from the call alone.
    const budget = await readBudget(
      redis,
      base.keyPrefix,
      { dailyMessageLimit: 1, dailyTokenLimit: null, monthlyMessageLimit: null, monthlyTokenLimit: null },
      base.now,
    );
    expect(budget.day.messages.used).toBe(1);
    expect(budget.day.tokens.used).toBe(100);
  });
});

describe('settle and readBudget', () => {
  it("replaces the reservation with the provider's usage, or gives it back", async () => {
    const base = request({ dailyTokenLimit: 1_000, monthlyMessageLimit: 10 });
    const first = await reserveCall(redis, { ...base, reserveTokens: 300 });
    if (!first.allowed) throw new Error('refused');
    await settle(redis, first.reservation, { sent: true, usedTokens: 120 });
    const second = await reserveCall(redis, { ...base, messageId: 'second', reserveTokens: 300 });
    if (!second.allowed) throw new Error('refused');
    expect(second.day.tokens).toBe(420);
    await settle(redis, second.reservation, { sent: false, usedTokens: 0 });
    const budget = await readBudget(redis, base.keyPrefix, base, base.now);
    expect(budget).toEqual({
      day: {
        date: '2026-03-10',
        messages: { used: 1, limit: null, remaining: null },
        tokens: { used: 120, limit: 1_000, remaining: 880 },
      },
      month: {
        month: '2026-03',
        messages: { used: 1, limit: 10, remaining: 9 },
        tokens: { used: 120, limit: null, remaining: null },
      },
    });
    // The failed call's burst entry is gone too: only the sent reply is in the window.
    expect(await redis.zcard(first.reservation.burstKey)).toBe(1);
  });
});
