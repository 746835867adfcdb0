// The assistant in the worker with real Postgres, Redis and BullMQ, the chat-completions stand-in
// on loopback and a memory channel behind the real outbound consumer: a customer's question is
// answered through the provider and the reply is sent once (two replicas racing); each rule
// refuses or hands off (kill switches, allow-list, limits, burst, blocked topic, customer's and
// model's hand-off, an agent taking over); contact details are redacted; the usage log adds up
// to the budget's counters.
import { readBudget } from '@switchboard/assistant';
import { type ChatCompletionsServer, startChatCompletionsServer } from '@switchboard/assistant/testing';
import { type Db, withTenant } from '@switchboard/db';
import { NO_HUMAN_DELAY, OutboundConsumer, storeInbound } from '@switchboard/messaging';
import { EnvSecretProvider, SecretResolver } from '@switchboard/secrets';
import { createMetricsRegistry } from '@switchboard/telemetry';
import {
  createTestDatabase,
  deleteKeysWithPrefix,
  redisOptions,
  type TestDatabase,
  uniquePrefix,
} from '@switchboard/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, inboundMessage } from '../../../packages/messaging/src/testing/fixtures.ts';
import { MemoryChannel } from '../../../packages/messaging/src/testing/memory-channel.ts';
import { seedTenant } from '../../../packages/sessions/src/testing/tenant-fixture.ts';
import { registerAssistantMetrics } from './assistant-metrics.ts';
import { AssistantReplier, type AssistantReplierOptions } from './assistant-replies.ts';

let database: TestDatabase;
let db: Db;
let tenantId: string;
let sessionId: string;
let redis: Redis;
let provider: ChatCompletionsServer;
let channel: MemoryChannel;
let consumer: OutboundConsumer;
const keyPrefix = `${uniquePrefix('assistant')}:`;
const closers: (() => Promise<void>)[] = [];
const NOW = new Date('2026-03-23T10:00:00Z');
const secrets = new SecretResolver({
  providers: [new EnvSecretProvider({ env: { ASSISTANT_KEY: 'sk-live-123' } })],
});
const metrics = createMetricsRegistry({ service: 'worker-test', collectDefaultMetrics: false });
const assistantMetrics = registerAssistantMetrics(metrics);

beforeAll(async () => {
  database = await createTestDatabase({ label: 'worker-assistant' });
  const seeded = await seedTenant(database, 1);
  ({ db, tenantId } = seeded);
  sessionId = seeded.sessionIds[0]!;
  redis = new Redis({ ...redisOptions(), maxRetriesPerRequest: null });
  provider = await startChatCompletionsServer();
  await withTenant(db, tenantId, async (tx) => {
    await tx.assistantTenantSettings.create({
      data: {
        tenantId,
        baseUrl: provider.baseUrl,
        model: 'gpt-4o-mini',
        apiKeyRef: 'secret://env/ASSISTANT_KEY',
        burstMaxReplies: 2,
        burstWindowSeconds: 600,
        blockedTopics: ['politics'],
        blockedTopicReply: 'I cannot talk about that.',
        handoffKeywords: ['human'],
        handoffMessage: 'A colleague will answer you here.',
      },
    });
    await tx.sessionAssistantSettings.create({
      data: {
        tenantId,
        sessionId,
        enabled: true,
        systemPrompt: 'You answer for Acme Bakery.',
        knowledge: 'We open at 09:00 and close at 18:00.',
      },
    });
  });
  channel = new MemoryChannel(sessionId);
  consumer = new OutboundConsumer({
    db,
    tenantId,
    sessionId,
    epoch: 1n,
    channel,
    connection: redis,
    keyPrefix,
    humanDelay: NO_HUMAN_DELAY,
  });
  await consumer.start();
});

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await consumer?.close();
  await provider?.close();
  await deleteKeysWithPrefix(redis, keyPrefix);
  redis?.disconnect();
  await db?.$disconnect();
  await database?.drop();
});

function replier(overrides: Partial<AssistantReplierOptions> = {}): AssistantReplier {
  const r = new AssistantReplier({
    db,
    redis,
    tenantId,
    keyPrefix,
    platform: { enabled: true, allowedModels: ['gpt-4o-mini'] },
    secrets,
    metrics: assistantMetrics,
    now: () => NOW,
    ...overrides,
  });
  closers.push(() => r.close());
  return r;
}

let counter = 0;
/** A customer's text message from `pn`, stored as the inbound pipeline stores it. */
async function customer(pn: string, text: string): Promise<string> {
  const stored = await storeInbound(
    db,
    tenantId,
    inboundMessage(sessionId, `ASSIST-${++counter}`, { pn }, { type: 'text', text }),
  );
  if (stored.outcome !== 'created') throw new Error(`not stored: ${stored.outcome}`);
  return stored.messageId;
}

async function conversationOf(messageId: string) {
  return await withTenant(db, tenantId, async (tx) => {
    const message = await tx.message.findUniqueOrThrow({ where: { id: messageId } });
    return await tx.conversation.findUniqueOrThrow({ where: { id: message.conversationId } });
  });
}

async function usage() {
  return await withTenant(db, tenantId, (tx) =>
    tx.assistantUsage.findMany({ orderBy: { createdAt: 'asc' } }),
  );
}

describe('assistant replies', () => {
  it("answers a customer's question through the provider, once, through the outbound path", async () => {
    const pn = '4915200000101';
    provider.script({ kind: 'answer', content: 'We open at 09:00.', promptTokens: 120, completionTokens: 8 });
    const question = await customer(
      pn,
      'When do you open? Mail me at ana@example.com or call +49 152 0000 0101',
    );
    const calls = provider.requests.length;
    // Two replicas see the same message: one answers, the other finds it claimed.
    const [a, b] = await Promise.all([replier().answer(question), replier().answer(question)]);
    const outcomes = [a.outcome, b.outcome].sort();
    expect(outcomes).toEqual(['duplicate', 'replied']);
    expect(provider.requests.length).toBe(calls + 1);
    const sent = provider.requests.at(-1)!;
    expect(sent.authorization).toBe('Bearer sk-live-123');
    expect(sent.body.model).toBe('gpt-4o-mini');
    expect(sent.body.messages[0]?.content).toContain('Acme Bakery');
    expect(sent.body.messages[0]?.content).toContain('We open at 09:00 and close at 18:00.');
    // Contact details never reach the provider.
    expect(sent.body.messages.at(-1)?.content).toBe('When do you open? Mail me at [email] or call [phone]');

    const replyId = (a.outcome === 'replied' ? a : b) as { replyId: string };
    await eventually(() => channel.sent.some((m) => m.callbackData === replyId.replyId));
    const reply = await withTenant(db, tenantId, (tx) =>
      tx.message.findUniqueOrThrow({ where: { id: replyId.replyId } }),
    );
    expect(reply).toMatchObject({
      body: 'We open at 09:00.',
      automatedBy: 'assistant',
      idempotencyKey: `assistant:${question}`,
    });
    await eventually(
      async () =>
        (
          await withTenant(db, tenantId, (tx) =>
            tx.message.findUniqueOrThrow({ where: { id: replyId.replyId } }),
          )
        ).status === 'sent',
    );
    expect(channel.sent.filter((m) => m.callbackData === replyId.replyId)).toHaveLength(1);
    // Answering it again (a replayed stream entry) does nothing.
    expect(await replier().answer(question)).toEqual({ outcome: 'duplicate' });
    const row = (await usage()).find((u) => u.inboundMessageId === question);
    // 120 in × $0.15/M + 8 out × $0.60/M = 18 + 4.8 → 23 micro-dollars (rounded up).
    expect(row).toMatchObject({
      outcome: 'replied',
      model: 'gpt-4o-mini',
      tokensIn: 120,
      tokensOut: 8,
      costMicros: 23n,
      replyMessageId: replyId.replyId,
    });
  });

  it('hands off when the customer asks for a person: unassigned, automation stopped, the fixed message', async () => {
    const pn = '4915200000102';
    const calls = provider.requests.length;
    const ask = await customer(pn, 'Can I speak to a HUMAN please?');
    const conversation = await conversationOf(ask);
    const someone = await withTenant(db, tenantId, async (tx) => {
      const user = await tx.user.create({
        data: { tenantId, email: `agent-${counter}@example.com`, displayName: 'Agent' },
      });
      await tx.conversation.update({ where: { id: conversation.id }, data: { assigneeId: user.id } });
      return user.id;
    });
    expect(someone).toBeTruthy();
    const handed = await replier().answer(ask);
    expect(handed.outcome).toBe('handed_off');
    expect(provider.requests.length).toBe(calls);
    const after = await conversationOf(ask);
    expect(after.assigneeId).toBeNull();
    expect(after.automationStoppedAt).toEqual(NOW);
    expect(after.automationStoppedReason).toBe('assistant:customer_asked');
    const reply = await withTenant(db, tenantId, (tx) =>
      tx.message.findUniqueOrThrow({ where: { id: (handed as { replyId: string }).replyId } }),
    );
    expect(reply.body).toBe('A colleague will answer you here.');
    // The assistant stays quiet in that conversation from now on.
    expect(await replier().answer(await customer(pn, 'Hello?'))).toEqual({
      outcome: 'not-eligible',
      reason: 'handed_off',
    });
  });

  it('hands off when the model answers the sentinel, counting its tokens', async () => {
    provider.script({ kind: 'answer', content: '[[HANDOFF]]', promptTokens: 90, completionTokens: 3 });
    const ask = await customer('4915200000103', 'Can you fix my oven?');
    const handed = await replier().answer(ask);
    expect(handed.outcome).toBe('handed_off');
    expect((await conversationOf(ask)).automationStoppedReason).toBe('assistant:model_cannot_help');
    expect((await usage()).find((u) => u.inboundMessageId === ask)).toMatchObject({
      outcome: 'handed_off',
      reason: 'model_cannot_help',
      tokensIn: 90,
      tokensOut: 3,
    });
  });

  it('refuses a blocked topic with the fixed answer, without calling the provider', async () => {
    const calls = provider.requests.length;
    const ask = await customer('4915200000104', 'What do you think about Politics?');
    const refused = await replier().answer(ask);
    expect(refused.outcome).toBe('blocked_topic');
    expect(provider.requests.length).toBe(calls);
    const reply = await withTenant(db, tenantId, (tx) =>
      tx.message.findUniqueOrThrow({ where: { id: (refused as { replyId: string }).replyId } }),
    );
    expect(reply.body).toBe('I cannot talk about that.');
  });

  it('refuses under the kill switches and a model off the allow-list, and logs why', async () => {
    const calls = provider.requests.length;
    const platformOff = await customer('4915200000105', 'Hi, open today?');
    expect(
      await replier({ platform: { enabled: false, allowedModels: undefined } }).answer(platformOff),
    ).toEqual({
      outcome: 'refused',
      reason: 'platform_disabled',
    });
    const wrongModel = await customer('4915200000106', 'Hi, open today?');
    expect(
      await replier({ platform: { enabled: true, allowedModels: ['llama3'] } }).answer(wrongModel),
    ).toEqual({
      outcome: 'refused',
      reason: 'model_not_allowed',
    });
    await withTenant(db, tenantId, (tx) =>
      tx.assistantTenantSettings.update({ where: { tenantId }, data: { paused: true } }),
    );
    const paused = await customer('4915200000107', 'Hi, open today?');
    expect(await replier().answer(paused)).toEqual({ outcome: 'refused', reason: 'tenant_paused' });
    await withTenant(db, tenantId, (tx) =>
      tx.assistantTenantSettings.update({ where: { tenantId }, data: { paused: false } }),
    );
    expect(provider.requests.length).toBe(calls);
    const reasons = (await usage())
      .filter((u) => [platformOff, wrongModel, paused].includes(u.inboundMessageId))
      .map((u) => [u.outcome, u.reason]);
    expect(reasons.sort()).toEqual([
      ['refused', 'model_not_allowed'],
      ['refused', 'platform_disabled'],
      ['refused', 'tenant_paused'],
    ]);
  });

  it('stops a loop: at most N automated replies per conversation per window', async () => {
    const pn = '4915200000108';
    provider.fallback = () => ({ kind: 'answer', content: 'Sure!', promptTokens: 10, completionTokens: 2 });
    try {
      expect((await replier().answer(await customer(pn, 'one'))).outcome).toBe('replied');
      expect((await replier().answer(await customer(pn, 'two'))).outcome).toBe('replied');
      // The history window: the earlier question and the assistant's answer, oldest first.
      expect(provider.requests.at(-1)?.body.messages.slice(1)).toEqual([
        { role: 'user', content: 'one' },
        { role: 'assistant', content: 'Sure!' },
        { role: 'user', content: 'two' },
      ]);
      expect(await replier().answer(await customer(pn, 'three'))).toEqual({
        outcome: 'refused',
        reason: 'burst_limit',
      });
    } finally {
      provider.fallback = () => ({
        kind: 'status',
        status: 500,
        body: { error: { message: 'nothing scripted' } },
      });
    }
  });

  it('refuses past the daily message limit, and stays quiet once an agent took over (until_agent)', async () => {
    const { day } = await readBudget(redis, keyPrefix, nullLimits, NOW);
    await withTenant(db, tenantId, (tx) =>
      tx.assistantTenantSettings.update({
        where: { tenantId },
        data: { dailyMessageLimit: day.messages.used },
      }),
    );
    const over = await customer('4915200000109', 'Are you open?');
    expect(await replier().answer(over)).toEqual({ outcome: 'refused', reason: 'daily_message_limit' });
    await withTenant(db, tenantId, (tx) =>
      tx.assistantTenantSettings.update({ where: { tenantId }, data: { dailyMessageLimit: null } }),
    );
    await withTenant(db, tenantId, (tx) =>
      tx.sessionAssistantSettings.update({
        where: { tenantId_sessionId: { tenantId, sessionId } },
        data: { answerMode: 'until_agent' },
      }),
    );
    try {
      const ask = await customer('4915200000110', 'Anyone?');
      const conversation = await conversationOf(ask);
      await withTenant(db, tenantId, async (tx) => {
        const user = await tx.user.create({
          data: { tenantId, email: 'taker@example.com', displayName: 'Taker' },
        });
        await tx.conversation.update({ where: { id: conversation.id }, data: { assigneeId: user.id } });
      });
      expect(await replier().answer(ask)).toEqual({ outcome: 'not-eligible', reason: 'agent_took_over' });
    } finally {
      await withTenant(db, tenantId, (tx) =>
        tx.sessionAssistantSettings.update({
          where: { tenantId_sessionId: { tenantId, sessionId } },
          data: { answerMode: 'always' },
        }),
      );
    }
  });

  it('gives the reservation back when the provider fails, and the usage log adds up to the budget', async () => {
    provider.script({
      kind: 'status',
      status: 429,
      headers: { 'retry-after': '120' },
      body: { error: { message: 'slow down' } },
    });
    const ask = await customer('4915200000111', 'Price of bread?');
    expect(await replier().answer(ask)).toEqual({ outcome: 'failed', reason: 'PROVIDER_RATE_LIMITED' });
    // Retry-After holds the next provider call (a fixed answer would still go).
    const calls = provider.requests.length;
    expect(await replier().answer(await customer('4915200000112', 'And cake?'))).toEqual({
      outcome: 'refused',
      reason: 'provider_cooling_down',
    });
    expect(provider.requests.length).toBe(calls);
    expect(await redis.pttl(`${keyPrefix}assistant:cooldown`)).toBeGreaterThan(60_000);
    const rows = await usage();
    const sentRows = rows.filter((u) => ['replied', 'handed_off', 'blocked_topic'].includes(u.outcome));
    const budget = await readBudget(redis, keyPrefix, nullLimits, NOW);
    expect(budget.day.tokens.used).toBe(rows.reduce((sum, u) => sum + u.tokensIn + u.tokensOut, 0));
    expect(budget.day.messages.used).toBe(sentRows.length);
    expect(budget.month.tokens.used).toBe(budget.day.tokens.used);
    const replies = await withTenant(db, tenantId, (tx) =>
      tx.message.count({ where: { automatedBy: 'assistant' } }),
    );
    expect(replies).toBe(sentRows.length);
    // The metrics count the same decisions (registered once per registry, however often wired).
    expect(registerAssistantMetrics(metrics).decisions).toBe(assistantMetrics.decisions);
    const text = await metrics.registry.metrics();
    expect(text).toContain(
      'switchboard_assistant_decisions_total{outcome="failed",reason="PROVIDER_RATE_LIMITED"',
    );
    expect(text).toMatch(/switchboard_assistant_tokens_total\{direction="in",model="gpt-4o-mini"[^}]*\} \d+/);
  });
});

const nullLimits = {
  dailyMessageLimit: null,
  dailyTokenLimit: null,
  monthlyMessageLimit: null,
  monthlyTokenLimit: null,
};
