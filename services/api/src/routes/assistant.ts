import {
  ANSWER_MODES,
  sessionAssistantSettingsSchema,
  tenantAssistantConfigSchema,
} from '@switchboard/assistant';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorBody, idParams, page, pageQuery, toPage } from '../schemas.ts';
import {
  getBudget,
  getSessionAssistant,
  getTenantAssistant,
  listUsage,
  putKillSwitch,
  putSessionAssistant,
  putTenantAssistant,
  type UsageRow,
} from '../services/assistant.ts';

const tenantView = z.strictObject({
  settings: tenantAssistantConfigSchema
    .nullable()
    .describe('The provider, limits and guardrails; null: not set up.'),
  paused: z.boolean().describe('The tenant kill switch: on, the assistant answers nobody.'),
});
const killSwitch = z.strictObject({ paused: z.boolean().describe('On: the assistant answers nobody.') });
const budgetLine = z.strictObject({
  used: z.number().int(),
  limit: z.number().int().nullable().describe('null: no limit.'),
  remaining: z.number().int().nullable().describe('null: no limit.'),
});
const budget = z.strictObject({
  day: z.strictObject({
    date: z.string().describe('The UTC day.'),
    messages: budgetLine,
    tokens: budgetLine,
  }),
  month: z.strictObject({
    month: z.string().describe('The UTC month.'),
    messages: budgetLine,
    tokens: budgetLine,
  }),
});
const usageEntry = z.strictObject({
  id: z.uuid(),
  sessionId: z.uuid(),
  conversationId: z.uuid(),
  inboundMessageId: z.uuid().describe('The customer message decided on.'),
  replyMessageId: z.uuid().nullable().describe('The automated reply sent, if any.'),
  outcome: z.enum(['replied', 'handed_off', 'blocked_topic', 'refused', 'failed']),
  reason: z
    .string()
    .nullable()
    .describe(
      'Why: the governance rule that refused, the provider error code, the hand-off cause, the topic.',
    ),
  model: z.string(),
  tokensIn: z.number().int(),
  tokensOut: z.number().int(),
  latencyMs: z.number().int(),
  costMicros: z
    .number()
    .int()
    .nullable()
    .describe('Estimated cost in millionths of a US dollar; null: unpriced model.'),
  createdAt: z.iso.datetime(),
});

function usageDto(row: UsageRow): z.infer<typeof usageEntry> {
  return {
    id: row.id,
    sessionId: row.sessionId,
    conversationId: row.conversationId,
    inboundMessageId: row.inboundMessageId,
    replyMessageId: row.replyMessageId,
    outcome: row.outcome as z.infer<typeof usageEntry>['outcome'],
    reason: row.reason,
    model: row.model,
    tokensIn: row.tokensIn,
    tokensOut: row.tokensOut,
    latencyMs: row.latencyMs,
    costMicros: row.costMicros === null ? null : Number(row.costMicros),
    createdAt: row.createdAt.toISOString(),
  };
}

/**
 * The tenant's AI assistant (`/v1/assistant`): the provider (an OpenAI-compatible API, its model
 * and a secret:// key reference), limits, burst and guardrails; the kill switch; the budget left
 * today and this month; the usage log. Writes are admins' and audited.
 */
export const assistantRoutes: FastifyPluginAsyncZod = async (app) => {
  const ctx = app.sb;

  app.get(
    '/',
    {
      config: { access: { role: 'viewer', scope: 'read' } },
      schema: {
        summary: "The tenant's assistant provider, limits, guardrails and kill switch",
        tags: ['assistant'],
        response: { 200: tenantView },
      },
    },
    async (request) => await getTenantAssistant(ctx, request),
  );

  app.put(
    '/',
    {
      config: { access: { role: 'admin', scope: 'manage' } },
      schema: {
        summary: "Replace the tenant's assistant provider, limits and guardrails",
        description:
          'The model must also be on the platform allow-list (WhatsAppTenant spec.assistant.allowedModels) ' +
          'or every call is refused with `model_not_allowed` in the usage log.',
        tags: ['assistant'],
        body: tenantAssistantConfigSchema,
        response: { 200: tenantView, 400: errorBody },
      },
    },
    async (request) => await putTenantAssistant(ctx, request, request.body),
  );

  app.put(
    '/kill-switch',
    {
      config: { access: { role: 'admin', scope: 'manage' } },
      schema: {
        summary: "Pause or resume the tenant's assistant (takes effect on the next call)",
        tags: ['assistant'],
        body: killSwitch,
        response: { 200: killSwitch, 400: errorBody },
      },
    },
    async (request) => await putKillSwitch(ctx, request, request.body.paused),
  );

  app.get(
    '/budget',
    {
      config: { access: { role: 'viewer', scope: 'read' } },
      schema: {
        summary: 'Automated replies and tokens used and remaining, today and this month (UTC)',
        tags: ['assistant'],
        response: { 200: budget },
      },
    },
    async (request) => await getBudget(ctx, request),
  );

  app.get(
    '/usage',
    {
      config: { access: { role: 'viewer', scope: 'read' } },
      schema: {
        summary: "The assistant's usage log, newest first",
        tags: ['assistant'],
        querystring: pageQuery.extend({ sessionId: z.uuid({ error: 'must be a uuid' }).optional() }),
        response: { 200: page(usageEntry), 400: errorBody },
      },
    },
    async (request) =>
      toPage(await listUsage(ctx, request, request.query), request.query.limit, (r) => r.createdAt, usageDto),
  );
};

/** A session's assistant (`/v1/sessions/:id/assistant`): on or off, prompt, knowledge, history window, when it answers. */
export const sessionAssistantRoutes: FastifyPluginAsyncZod = async (app) => {
  const ctx = app.sb;
  app.get(
    '/:id/assistant',
    {
      config: { access: { role: 'viewer', scope: 'read' } },
      schema: {
        summary: "A session's assistant settings",
        tags: ['sessions', 'assistant'],
        params: idParams,
        response: { 200: sessionAssistantSettingsSchema, 400: errorBody, 404: errorBody },
      },
    },
    async (request) => await getSessionAssistant(ctx, request, request.params.id),
  );
  app.put(
    '/:id/assistant',
    {
      config: { access: { role: 'admin', scope: 'manage' } },
      schema: {
        summary: "Replace a session's assistant settings",
        description: `answerMode: ${ANSWER_MODES.join(', ')}.`,
        tags: ['sessions', 'assistant'],
        params: idParams,
        body: sessionAssistantSettingsSchema,
        response: { 200: sessionAssistantSettingsSchema, 400: errorBody, 404: errorBody },
      },
    },
    async (request) => await putSessionAssistant(ctx, request, request.params.id, request.body),
  );
};
