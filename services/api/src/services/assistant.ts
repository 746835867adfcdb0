// The AI assistant's settings, kill switch, budget and usage log as the API reads and writes them
// (the worker's assistant-replies.ts acts on them). Writes are audited; the tenant kill switch is
// set in Redis first (where governance reads it, so pausing takes effect on the next call) and
// then stored with the settings.
import {
  type Budget,
  DEFAULT_SESSION_ASSISTANT_SETTINGS,
  readBudget,
  type SessionAssistantSettings,
  setTenantPaused,
  type TenantAssistantConfig,
  tenantPausedKey,
} from '@switchboard/assistant';
import type { TenantTx } from '@switchboard/db';
import type { FastifyRequest } from 'fastify';
import { audit } from '../audit.ts';
import { type ApiContext, keyPrefixOf, tenantTx } from '../context.ts';
import { notFound } from '../errors.ts';
import { decodeCursor, rowsAfter } from '../schemas.ts';

/** The tenant's assistant as the API shows it: its provider settings (null: not set up) and kill switch. */
export interface TenantAssistantView {
  settings: TenantAssistantConfig | null;
  paused: boolean;
}

/** A row of assistant_tenant_settings. */
type TenantSettingsRow = NonNullable<Awaited<ReturnType<TenantTx['assistantTenantSettings']['findUnique']>>>;
/** A row of the usage log. */
export type UsageRow = Awaited<ReturnType<TenantTx['assistantUsage']['findMany']>>[number];

function configOf(row: TenantSettingsRow): TenantAssistantConfig {
  return {
    baseUrl: row.baseUrl,
    model: row.model,
    apiKeyRef: row.apiKeyRef,
    dailyMessageLimit: row.dailyMessageLimit,
    dailyTokenLimit: row.dailyTokenLimit,
    monthlyMessageLimit: row.monthlyMessageLimit,
    monthlyTokenLimit: row.monthlyTokenLimit,
    maxReplyTokens: row.maxReplyTokens,
    burstMaxReplies: row.burstMaxReplies,
    burstWindowSeconds: row.burstWindowSeconds,
    timeoutSeconds: row.timeoutSeconds,
    blockedTopics: row.blockedTopics,
    blockedTopicReply: row.blockedTopicReply,
    handoffKeywords: row.handoffKeywords,
    handoffMessage: row.handoffMessage,
    allowContactDetails: row.allowContactDetails,
  };
}

async function pausedInRedis(ctx: ApiContext, request: FastifyRequest): Promise<boolean> {
  return (await ctx.redis.exists(tenantPausedKey(keyPrefixOf(request)))) === 1;
}

/** The tenant's provider settings and kill switch. */
export async function getTenantAssistant(
  ctx: ApiContext,
  request: FastifyRequest,
): Promise<TenantAssistantView> {
  const row = await tenantTx(ctx, request, (tx) =>
    tx.assistantTenantSettings.findUnique({ where: { tenantId: request.principal.tenantId } }),
  );
  return {
    settings: row ? configOf(row) : null,
    paused: (row?.paused ?? false) || (await pausedInRedis(ctx, request)),
  };
}

/** Replaces the tenant's provider settings, audited (the key reference, never a key, is stored). */
export async function putTenantAssistant(
  ctx: ApiContext,
  request: FastifyRequest,
  settings: TenantAssistantConfig,
): Promise<TenantAssistantView> {
  const tenantId = request.principal.tenantId;
  const row = await tenantTx(ctx, request, async (tx) => {
    const saved = await tx.assistantTenantSettings.upsert({
      where: { tenantId },
      create: { tenantId, ...settings },
      update: settings,
    });
    await audit(
      tx,
      request,
      'assistant.settings_updated',
      { type: 'tenant', id: tenantId },
      {
        baseUrl: settings.baseUrl,
        model: settings.model,
      },
    );
    return saved;
  });
  return { settings: configOf(row), paused: row.paused || (await pausedInRedis(ctx, request)) };
}

/** Turns the tenant kill switch on or off, audited. */
export async function putKillSwitch(
  ctx: ApiContext,
  request: FastifyRequest,
  paused: boolean,
): Promise<{ paused: boolean }> {
  const tenantId = request.principal.tenantId;
  // Pausing reaches governance before the audit commits: the safe order for a kill switch.
  if (paused) await setTenantPaused(ctx.redis, keyPrefixOf(request), true);
  await tenantTx(ctx, request, async (tx) => {
    await tx.assistantTenantSettings.updateMany({ where: { tenantId }, data: { paused } });
    await audit(tx, request, paused ? 'assistant.paused' : 'assistant.resumed', {
      type: 'tenant',
      id: tenantId,
    });
  });
  if (!paused) await setTenantPaused(ctx.redis, keyPrefixOf(request), false);
  return { paused };
}

/** What the tenant used and has left today and this month (UTC). */
export async function getBudget(ctx: ApiContext, request: FastifyRequest, now = new Date()): Promise<Budget> {
  const row = await tenantTx(ctx, request, (tx) =>
    tx.assistantTenantSettings.findUnique({ where: { tenantId: request.principal.tenantId } }),
  );
  const limits = {
    dailyMessageLimit: row?.dailyMessageLimit ?? null,
    dailyTokenLimit: row?.dailyTokenLimit ?? null,
    monthlyMessageLimit: row?.monthlyMessageLimit ?? null,
    monthlyTokenLimit: row?.monthlyTokenLimit ?? null,
  };
  return await readBudget(ctx.redis, keyPrefixOf(request), limits, now);
}

/** A page of the usage log, newest first (`limit + 1` rows: the caller cuts the page). */
export async function listUsage(
  ctx: ApiContext,
  request: FastifyRequest,
  query: { cursor?: string | undefined; limit: number; sessionId?: string | undefined },
): Promise<UsageRow[]> {
  const cursor = decodeCursor(query.cursor);
  return await tenantTx(ctx, request, (tx) =>
    rowsAfter(cursor, 'createdAt', query.limit, (page) =>
      tx.assistantUsage.findMany({
        ...page,
        where: { ...page.where, ...(query.sessionId ? { sessionId: query.sessionId } : {}) },
      }),
    ),
  );
}

/** The assistant settings of session `sessionId` (off when never saved); not_found without the session. */
export async function getSessionAssistant(
  ctx: ApiContext,
  request: FastifyRequest,
  sessionId: string,
): Promise<SessionAssistantSettings> {
  return await tenantTx(ctx, request, async (tx) => {
    if (!(await tx.session.findUnique({ where: { id: sessionId } }))) throw notFound('session');
    const row = await tx.sessionAssistantSettings.findUnique({
      where: { tenantId_sessionId: { tenantId: request.principal.tenantId, sessionId } },
    });
    return row ? sessionSettingsOf(row) : DEFAULT_SESSION_ASSISTANT_SETTINGS;
  });
}

/** Replaces the assistant settings of session `sessionId`, audited. */
export async function putSessionAssistant(
  ctx: ApiContext,
  request: FastifyRequest,
  sessionId: string,
  settings: SessionAssistantSettings,
): Promise<SessionAssistantSettings> {
  const tenantId = request.principal.tenantId;
  return await tenantTx(ctx, request, async (tx) => {
    if (!(await tx.session.findUnique({ where: { id: sessionId } }))) throw notFound('session');
    const row = await tx.sessionAssistantSettings.upsert({
      where: { tenantId_sessionId: { tenantId, sessionId } },
      create: { tenantId, sessionId, ...settings },
      update: settings,
    });
    await audit(
      tx,
      request,
      'session.assistant_updated',
      { type: 'session', id: sessionId },
      {
        enabled: settings.enabled,
        answerMode: settings.answerMode,
      },
    );
    return sessionSettingsOf(row);
  });
}

function sessionSettingsOf(row: {
  enabled: boolean;
  systemPrompt: string | null;
  knowledge: string | null;
  historyMaxMessages: number;
  historyMaxTokens: number;
  answerMode: string;
}): SessionAssistantSettings {
  return {
    enabled: row.enabled,
    systemPrompt: row.systemPrompt,
    knowledge: row.knowledge,
    historyMaxMessages: row.historyMaxMessages,
    historyMaxTokens: row.historyMaxTokens,
    answerMode: row.answerMode as SessionAssistantSettings['answerMode'],
  };
}
