// The AI assistant's replies: a customer's text message in a conversation whose session has the
// assistant on is answered through the tenant's chat provider, under governance checked
// atomically in Redis (kill switches, model allow-list, burst, daily and monthly limits), with
// the guardrails (blocked topics, hand-off, contact-detail redaction), through the normal outbound
// path (a queued message row with its job on the session's outbound queue: rate limits, typing
// delay, retries), exactly once per customer message, and logged in assistant_usage.
import { randomUUID } from 'node:crypto';
import {
  asksForHuman,
  blockedTopicOf,
  buildPrompt,
  type ChatProvider,
  DEFAULT_HANDOFF_KEYWORDS,
  estimateCostMicros,
  estimateTokens,
  type GovernanceRequest,
  modelHandsOff,
  OpenAiCompatibleProvider,
  ProviderError,
  ProviderRateLimitedError,
  peekCall,
  reserveCall,
  setProviderCooldown,
  settle,
} from '@switchboard/assistant';
import { type Db, type TenantTx, withTenant } from '@switchboard/db';
import {
  isWithinBusinessHours,
  outboundCreatedEffect,
  readBusinessHours,
  SendJobs,
  stopAutomation,
  writeOutbox,
} from '@switchboard/messaging';
import type { SecretResolver } from '@switchboard/secrets';
import type { Redis } from 'ioredis';
import type { AssistantMetrics } from './assistant-metrics.ts';

/** What the platform team set for the tenant (chart value and WhatsAppTenant spec.assistant). */
export interface AssistantPlatformSettings {
  /** The platform kill switch: false stops every call of the tenant. */
  enabled: boolean;
  /** The models the tenant may use; undefined: any. */
  allowedModels: readonly string[] | undefined;
}

/** Options of {@link AssistantReplier}. */
export interface AssistantReplierOptions {
  db: Db;
  /** A command-role connection: governance and the outbound queues. */
  redis: Redis;
  tenantId: string;
  keyPrefix: string;
  platform: AssistantPlatformSettings;
  /** Resolves the tenant's `secret://` API key reference. */
  secrets: SecretResolver;
  metrics?: AssistantMetrics;
  /** The clock of windows, days and business hours (tests inject one). */
  now?: () => Date;
  /** Kicked with the reply's outbox row (its realtime `message.created`). */
  relay?: { kick(ids: readonly string[]): Promise<void> };
  /** Makes the provider of a tenant's settings (default: the OpenAI-compatible adapter). */
  providerFor?: (settings: { baseUrl: string; apiKey: string | undefined }) => ChatProvider;
  onError?: (error: unknown, context: { what: string; messageId?: string }) => void;
}

/** What {@link AssistantReplier.answer} did with a message. */
export type AssistantOutcome =
  | { outcome: 'replied' | 'handed_off' | 'blocked_topic'; replyId: string }
  | { outcome: 'refused'; reason: string }
  | { outcome: 'failed'; reason: string }
  | { outcome: 'not-eligible'; reason: string }
  | { outcome: 'duplicate' };

/**
 * Transaction bounds of the replier: a background path, so a busy database makes it wait longer
 * than a request would (Prisma's defaults are 2 s for a connection and 5 s for the transaction).
 */
const TX_OPTIONS = { maxWait: 10_000, timeout: 20_000 };

/** The author marker of automated replies (messages.automated_by). */
export const ASSISTANT_AUTHOR = 'assistant';

/**
 * Answers customers' messages with the tenant's assistant. Every worker replica is handed every
 * customer message (customer-messages.ts); governance's claim of the inbound message (in the same Redis script as the
 * checks) decides which replica answers, and the usage row's unique inbound message id makes the
 * reply's transaction happen once even if a claim were lost with a Redis failover.
 */
export class AssistantReplier {
  private readonly options: AssistantReplierOptions;
  private readonly sends: SendJobs;

  constructor(options: AssistantReplierOptions) {
    this.options = options;
    this.sends = new SendJobs({
      connection: options.redis,
      keyPrefix: options.keyPrefix,
      relay: options.relay,
      onError: options.onError,
    });
  }

  async close(): Promise<void> {
    await this.sends.close();
  }

  /** Reads what deciding on message `messageId` needs, or why it is not to be answered. */
  async load(messageId: string, now: Date): Promise<{ reason: string } | { loaded: LoadedData }> {
    const { db, tenantId } = this.options;
    return await withTenant(
      db,
      tenantId,
      async (tx) => {
        const message = await tx.message.findUnique({ where: { id: messageId } });
        if (!message) return { reason: 'not_customer_text' };
        const eligible = await assistantEligibility(tx, tenantId, message, now);
        if ('reason' in eligible) return eligible;
        const { session, tenant, conversation } = eligible;
        // The latest text messages up to the one answered (Postgres keeps microseconds, a JS Date
        // milliseconds: the cut is made by position, not by comparing its createdAt).
        const latest = await tx.message.findMany({
          where: { conversationId: conversation.id, type: 'text', body: { not: null }, deletedAt: null },
          orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
          take: session.historyMaxMessages + 20,
          select: { id: true, direction: true, body: true },
        });
        const at = latest.findIndex((m) => m.id === message.id);
        const history = (at >= 0 ? latest.slice(at, at + session.historyMaxMessages) : [message]).reverse();
        return {
          loaded: {
            message: {
              id: message.id,
              body: message.body ?? '',
              sessionId: message.sessionId,
              conversationId: conversation.id,
            },
            session,
            tenant,
            history: history.map((m) => ({ direction: m.direction, body: m.body ?? '' })),
          },
        };
      },
      TX_OPTIONS,
    );
  }

  /**
   * Decides on message `messageId` and acts: a governance refusal is logged; a hand-off request
   * or a blocked topic gets the tenant's fixed answer; otherwise the provider is asked, and its
   * answer (or, when it cannot help, the hand-off) goes out through the outbound queue.
   */
  async answer(messageId: string): Promise<AssistantOutcome> {
    const now = this.options.now?.() ?? new Date();
    const found = await this.load(messageId, now);
    if ('reason' in found) return { outcome: 'not-eligible', reason: found.reason };
    const data = found.loaded;
    const { tenant, session, message } = data;
    const text = message.body;
    const { action, topic } = actionFor(text, tenant);
    const prompt = buildPrompt({
      systemPrompt: session.systemPrompt,
      knowledge: session.knowledge,
      history: data.history,
      maxMessages: session.historyMaxMessages,
      maxTokens: session.historyMaxTokens,
      redact: !tenant.allowContactDetails,
    });
    const decision = await reserveCall(
      this.options.redis,
      governanceRequest(this.options, tenant, {
        messageId,
        conversationId: message.conversationId,
        action,
        reserveTokens: action === 'provider' ? prompt.estimatedTokens + tenant.maxReplyTokens : 0,
        now,
      }),
    );
    if (!decision.allowed) {
      if (decision.reason === 'duplicate') return { outcome: 'duplicate' };
      await this.record(data, { outcome: 'refused', reason: decision.reason });
      return { outcome: 'refused', reason: decision.reason };
    }
    const { reservation } = decision;
    if (action === 'handoff' || action === 'blocked') {
      const outcome = action === 'handoff' ? 'handed_off' : 'blocked_topic';
      const sent = await this.reply(data, {
        outcome,
        reason: action === 'handoff' ? 'customer_asked' : (topic ?? '').slice(0, 64),
        body: action === 'handoff' ? tenant.handoffMessage : tenant.blockedTopicReply,
        handOff: action === 'handoff',
      });
      await settle(this.options.redis, reservation, { sent: sent !== undefined, usedTokens: 0 });
      return sent === undefined ? { outcome: 'duplicate' } : { outcome, replyId: sent };
    }

    const started = performance.now();
    let completion: Awaited<ReturnType<ChatProvider['complete']>>;
    try {
      const apiKey = tenant.apiKeyRef ? await this.options.secrets.resolve(tenant.apiKeyRef) : undefined;
      const provider =
        this.options.providerFor?.({ baseUrl: tenant.baseUrl, apiKey }) ??
        new OpenAiCompatibleProvider(
          apiKey === undefined ? { baseUrl: tenant.baseUrl } : { baseUrl: tenant.baseUrl, apiKey },
        );
      completion = await provider.complete({
        model: tenant.model,
        messages: prompt.messages,
        maxTokens: tenant.maxReplyTokens,
        signal: AbortSignal.timeout(tenant.timeoutSeconds * 1000),
      });
    } catch (error) {
      const latencyMs = Math.round(performance.now() - started);
      const reason = error instanceof ProviderError ? error.code : 'PROVIDER_KEY_UNAVAILABLE';
      await settle(this.options.redis, reservation, { sent: false, usedTokens: 0 });
      // The provider asked to wait: no call of this tenant until then (30 s when it did not say).
      if (error instanceof ProviderRateLimitedError)
        await setProviderCooldown(this.options.redis, this.options.keyPrefix, error.retryAfterMs ?? 30_000);
      this.options.metrics?.callDuration
        .labels({ model: tenant.model, outcome: 'failed' })
        .observe(latencyMs / 1000);
      await this.record(data, { outcome: 'failed', reason, latencyMs });
      this.options.onError?.(error, { what: 'assistant provider call', messageId });
      return { outcome: 'failed', reason };
    }
    const latencyMs = Math.round(performance.now() - started);
    // Without the provider's usage, the estimate stands in (and is what the log and budget count).
    const tokensIn = completion.usage?.promptTokens ?? prompt.estimatedTokens;
    const tokensOut = completion.usage?.completionTokens ?? estimateTokens(completion.content);
    const handOff = modelHandsOff(completion.content);
    const outcome = handOff ? 'handed_off' : 'replied';
    const sent = await this.reply(data, {
      outcome,
      reason: handOff ? 'model_cannot_help' : null,
      body: handOff ? tenant.handoffMessage : completion.content.trim(),
      handOff,
      tokensIn,
      tokensOut,
      latencyMs,
    });
    await settle(this.options.redis, reservation, {
      sent: sent !== undefined,
      usedTokens: tokensIn + tokensOut,
    });
    this.options.metrics?.callDuration.labels({ model: tenant.model, outcome }).observe(latencyMs / 1000);
    if (sent === undefined) return { outcome: 'duplicate' };
    const metrics = this.options.metrics;
    if (metrics) {
      metrics.tokens.labels({ direction: 'in', model: tenant.model }).inc(tokensIn);
      metrics.tokens.labels({ direction: 'out', model: tenant.model }).inc(tokensOut);
      const cost = estimateCostMicros(tenant.model, tokensIn, tokensOut);
      if (cost !== null) metrics.cost.labels({ model: tenant.model }).inc(cost / 1_000_000);
    }
    return { outcome, replyId: sent };
  }

  /** Logs a decision that sent nothing (a refusal, a failed call). */
  private async record(
    data: LoadedData,
    entry: { outcome: 'refused' | 'failed'; reason: string; latencyMs?: number },
  ): Promise<void> {
    await withTenant(
      this.options.db,
      this.options.tenantId,
      (tx) =>
        insertUsage(tx, this.options.tenantId, data, { ...entry, replyId: null, tokensIn: 0, tokensOut: 0 }),
      TX_OPTIONS,
    );
    this.options.metrics?.decisions.labels({ outcome: entry.outcome, reason: entry.reason }).inc();
  }

  /**
   * Queues `body` as the automated reply to the customer's message, with its usage row, in one
   * transaction; with `handOff`, the conversation goes to the team (unassigned, open, automation
   * stopped). Returns the reply's id, or undefined when the message had been decided on already.
   */
  private async reply(
    data: LoadedData,
    reply: {
      outcome: 'replied' | 'handed_off' | 'blocked_topic';
      reason: string | null;
      body: string;
      handOff: boolean;
      tokensIn?: number;
      tokensOut?: number;
      latencyMs?: number;
    },
  ): Promise<string | undefined> {
    const { tenantId } = this.options;
    const { message } = data;
    const now = this.options.now?.() ?? new Date();
    const replyId = randomUUID();
    const result = await withTenant(
      this.options.db,
      tenantId,
      async (tx) => {
        const logged = await insertUsage(tx, tenantId, data, {
          outcome: reply.outcome,
          reason: reply.reason,
          replyId,
          tokensIn: reply.tokensIn ?? 0,
          tokensOut: reply.tokensOut ?? 0,
          latencyMs: reply.latencyMs ?? 0,
        });
        if (!logged) return undefined;
        const created = await tx.message.create({
          data: {
            id: replyId,
            tenantId,
            sessionId: message.sessionId,
            conversationId: message.conversationId,
            direction: 'outbound',
            status: 'queued',
            type: 'text',
            body: reply.body.slice(0, 4096),
            // The contract's idempotency: one automated reply per customer message.
            idempotencyKey: `assistant:${message.id}`,
            automatedBy: ASSISTANT_AUTHOR,
          },
        });
        await tx.conversation.update({
          where: { id: message.conversationId },
          // A hand-off goes to the unassigned queue, whoever had it.
          data: reply.handOff
            ? { lastMessageAt: created.createdAt, assigneeId: null }
            : { lastMessageAt: created.createdAt },
        });
        const stopped = reply.handOff
          ? await stopAutomation(
              tx,
              tenantId,
              message.conversationId,
              `assistant:${reply.reason ?? 'handoff'}`,
              now,
            )
          : { outboxIds: [] };
        return [
          ...(await writeOutbox(tx, tenantId, [
            outboundCreatedEffect({ ...created, conversationId: message.conversationId }),
          ])),
          ...stopped.outboxIds,
        ];
      },
      TX_OPTIONS,
    );
    if (result === undefined) return undefined;
    this.options.metrics?.decisions.labels({ outcome: reply.outcome, reason: reply.reason ?? '' }).inc();
    await this.sends.afterCommit(tenantId, message.sessionId, [replyId], result);
    return replyId;
  }
}

/** What {@link AssistantReplier.load} reads for one message. */
interface LoadedData {
  message: { id: string; body: string; sessionId: string; conversationId: string };
  session: NonNullable<Awaited<ReturnType<TenantTx['sessionAssistantSettings']['findUnique']>>>;
  tenant: NonNullable<Awaited<ReturnType<TenantTx['assistantTenantSettings']['findUnique']>>>;
  history: { direction: 'inbound' | 'outbound'; body: string }[];
}

type SessionSettings = LoadedData['session'];
type TenantSettings = LoadedData['tenant'];

/** A stored message as the assistant's rules read it. */
interface StoredMessage {
  id: string;
  direction: 'inbound' | 'outbound';
  type: string;
  body: string | null;
  sessionId: string;
  conversationId: string;
}

/**
 * The rules that say whether the session's assistant answers `message` at `now`, before
 * governance: a customer's text, the session's assistant on, a provider set for the tenant, the
 * conversation not handed off, in `until_agent` mode no agent on it (assigned, or an agent's
 * message in it), in `outside_business_hours` mode outside the tenant's hours. The replier and
 * the away replier both ask this, so they cannot disagree on who answers.
 */
export async function assistantEligibility(
  tx: TenantTx,
  tenantId: string,
  message: StoredMessage,
  now: Date,
): Promise<
  { reason: string } | { session: SessionSettings; tenant: TenantSettings; conversation: { id: string } }
> {
  if (message.direction !== 'inbound' || message.type !== 'text' || !message.body?.trim())
    return { reason: 'not_customer_text' };
  const session = await tx.sessionAssistantSettings.findUnique({
    where: { tenantId_sessionId: { tenantId, sessionId: message.sessionId } },
  });
  if (!session?.enabled) return { reason: 'assistant_off' };
  const tenant = await tx.assistantTenantSettings.findUnique({ where: { tenantId } });
  if (!tenant) return { reason: 'no_provider' };
  const conversation = await tx.conversation.findUniqueOrThrow({ where: { id: message.conversationId } });
  if (conversation.automationStoppedAt) return { reason: 'handed_off' };
  if (session.answerMode === 'until_agent') {
    const agentReplied = await tx.message.findFirst({
      where: { conversationId: conversation.id, direction: 'outbound', sentById: { not: null } },
      select: { id: true },
    });
    if (conversation.assigneeId !== null || agentReplied) return { reason: 'agent_took_over' };
  }
  if (session.answerMode === 'outside_business_hours' && (await withinHours(tx, tenantId, now)))
    return { reason: 'within_business_hours' };
  return { session, tenant, conversation };
}

/** What the assistant does with a customer's text: hand off (asked for a human), a blocked topic's fixed answer, or ask the provider. */
function actionFor(
  text: string,
  tenant: TenantSettings,
): { action: 'handoff' | 'blocked' | 'provider'; topic: string | null } {
  const keywords = tenant.handoffKeywords.length > 0 ? tenant.handoffKeywords : DEFAULT_HANDOFF_KEYWORDS;
  const topic = blockedTopicOf(text, tenant.blockedTopics);
  if (asksForHuman(text, keywords)) return { action: 'handoff', topic };
  return { action: topic !== null ? 'blocked' : 'provider', topic };
}

/** Governance's question for one answer to a message of `conversationId`. */
function governanceRequest(
  options: { keyPrefix: string; platform: AssistantPlatformSettings },
  tenant: TenantSettings,
  call: {
    messageId: string;
    conversationId: string;
    action: 'handoff' | 'blocked' | 'provider';
    reserveTokens: number;
    now: Date;
  },
): GovernanceRequest {
  return {
    keyPrefix: options.keyPrefix,
    platformEnabled: options.platform.enabled,
    tenantPaused: tenant.paused,
    model: tenant.model,
    allowedModels: options.platform.allowedModels,
    messageId: call.messageId,
    conversationId: call.conversationId,
    burstMaxReplies: tenant.burstMaxReplies,
    burstWindowMs: tenant.burstWindowSeconds * 1000,
    reserveTokens: call.reserveTokens,
    callsProvider: call.action === 'provider',
    dailyMessageLimit: tenant.dailyMessageLimit,
    dailyTokenLimit: tenant.dailyTokenLimit,
    monthlyMessageLimit: tenant.monthlyMessageLimit,
    monthlyTokenLimit: tenant.monthlyTokenLimit,
    now: call.now,
  };
}

/**
 * Whether the session's assistant answers `message` now: it is eligible
 * ({@link assistantEligibility}) and governance would let its call through (a peek: nothing
 * claimed or reserved; the tokens asked are the message's and the longest reply's, a lower bound
 * of the call's own reservation). The away replier asks it to leave the customer to the assistant.
 */
export async function assistantAnswers(
  tx: TenantTx,
  options: { redis: Redis; tenantId: string; keyPrefix: string; platform: AssistantPlatformSettings },
  message: StoredMessage,
  now: Date,
): Promise<boolean> {
  const eligible = await assistantEligibility(tx, options.tenantId, message, now);
  if ('reason' in eligible) return false;
  const { tenant } = eligible;
  const text = message.body ?? '';
  const { action } = actionFor(text, tenant);
  const refusal = await peekCall(
    options.redis,
    governanceRequest(options, tenant, {
      messageId: message.id,
      conversationId: message.conversationId,
      action,
      reserveTokens: action === 'provider' ? estimateTokens(text) + tenant.maxReplyTokens : 0,
      now,
    }),
  );
  return refusal === null;
}

/** Whether the tenant is open now (business hours off or unset count as open: never "outside"). */
async function withinHours(tx: TenantTx, tenantId: string, now: Date): Promise<boolean> {
  const hours = await readBusinessHours(tx, tenantId);
  if (!hours?.enabled) return true;
  return isWithinBusinessHours(hours, now);
}

/** Inserts the usage row of a decision; false when the message already has one (decided once). */
async function insertUsage(
  tx: TenantTx,
  tenantId: string,
  data: LoadedData,
  entry: {
    outcome: string;
    reason: string | null;
    replyId: string | null;
    tokensIn: number;
    tokensOut: number;
    latencyMs?: number;
  },
): Promise<boolean> {
  const model = data.tenant.model;
  const cost =
    entry.tokensIn + entry.tokensOut > 0 ? estimateCostMicros(model, entry.tokensIn, entry.tokensOut) : 0;
  const rows = await tx.$queryRaw<{ id: string }[]>`
    INSERT INTO assistant_usage (tenant_id, session_id, conversation_id, inbound_message_id, reply_message_id,
                                 outcome, reason, model, tokens_in, tokens_out, latency_ms, cost_micros)
    VALUES (${tenantId}::uuid, ${data.message.sessionId}::uuid, ${data.message.conversationId}::uuid,
            ${data.message.id}::uuid, ${entry.replyId}::uuid, ${entry.outcome}, ${entry.reason}, ${model},
            ${entry.tokensIn}, ${entry.tokensOut}, ${entry.latencyMs ?? 0}, ${cost === null ? null : BigInt(cost)})
    ON CONFLICT (tenant_id, inbound_message_id) DO NOTHING
    RETURNING id::text`;
  return rows.length > 0;
}
