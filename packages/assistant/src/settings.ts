// The assistant's settings as the API validates them and the worker reads them: per session (on
// or off, prompt, knowledge, history window, when it answers) and per tenant (the provider, the
// kill switch, limits, burst, guardrails and hand-off).
import { z } from 'zod';

/** When a session's assistant answers. */
export const ANSWER_MODES = ['always', 'outside_business_hours', 'until_agent'] as const;
/** One of {@link ANSWER_MODES}. */
export type AnswerMode = (typeof ANSWER_MODES)[number];

/** A session's assistant settings. */
export const sessionAssistantSettingsSchema = z.strictObject({
  enabled: z.boolean().describe('The assistant answers customers of this session.'),
  systemPrompt: z
    .string()
    .trim()
    .min(1)
    .max(8000)
    .nullable()
    .describe("The model's instructions (its role, tone, what it must not do); null: a short default."),
  knowledge: z
    .string()
    .trim()
    .min(1)
    .max(50_000)
    .nullable()
    .describe('What the assistant may use to answer (prices, opening times, policies); null: none.'),
  historyMaxMessages: z
    .int()
    .min(1)
    .max(100)
    .describe('At most this many latest messages of the conversation are sent.'),
  historyMaxTokens: z
    .int()
    .min(100)
    .max(100_000)
    .describe('The prompt is cut to about this many tokens (older messages go first).'),
  answerMode: z
    .enum(ANSWER_MODES)
    .describe(
      'always; outside_business_hours (only when the tenant is closed); until_agent (until an agent is assigned or replies).',
    ),
});
/** A session's assistant settings. */
export type SessionAssistantSettings = z.infer<typeof sessionAssistantSettingsSchema>;

/** The settings of a session that never saved any. */
export const DEFAULT_SESSION_ASSISTANT_SETTINGS: SessionAssistantSettings = {
  enabled: false,
  systemPrompt: null,
  knowledge: null,
  historyMaxMessages: 20,
  historyMaxTokens: 4000,
  answerMode: 'always',
};

const limit = (what: string) =>
  z.int().min(1).max(1_000_000_000).nullable().describe(`${what}; null: no limit.`);
const phrases = (what: string) => z.array(z.string().trim().min(1).max(100)).max(100).describe(what);

/** A tenant's provider, limits and guardrails. */
export const tenantAssistantConfigSchema = z.strictObject({
  baseUrl: z
    .url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' })
    .max(2000)
    .describe(
      'The OpenAI-compatible API base, e.g. https://api.openai.com/v1 (`/chat/completions` is appended).',
    ),
  model: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .describe('The model asked, e.g. gpt-4o-mini (must be on the platform allow-list).'),
  apiKeyRef: z
    .string()
    .regex(/^secret:\/\/[a-z][a-z0-9-]*\/.+$/, 'expected a secret:// reference')
    .max(500)
    .nullable()
    .describe('The API key as a secret:// reference (never the key itself); null: no key sent.'),
  dailyMessageLimit: limit('Automated replies per UTC day'),
  dailyTokenLimit: limit('Tokens (in + out) per UTC day'),
  monthlyMessageLimit: limit('Automated replies per UTC month'),
  monthlyTokenLimit: limit('Tokens (in + out) per UTC month'),
  maxReplyTokens: z
    .int()
    .min(16)
    .max(16_000)
    .describe("Most tokens of one answer (the provider's max_tokens)."),
  burstMaxReplies: z
    .int()
    .min(1)
    .max(1000)
    .describe('At most this many automated replies per conversation per burst window.'),
  burstWindowSeconds: z.int().min(10).max(86_400).describe('The burst window, in seconds.'),
  timeoutSeconds: z.int().min(1).max(300).describe('A provider call taking longer is abandoned.'),
  blockedTopics: phrases(
    'Words or phrases the assistant refuses to discuss (answered with blockedTopicReply).',
  ),
  blockedTopicReply: z.string().trim().min(1).max(4096).describe('The fixed answer to a blocked topic.'),
  handoffKeywords: phrases('Words with which a customer asks for a person; empty: a default English list.'),
  handoffMessage: z
    .string()
    .trim()
    .min(1)
    .max(4096)
    .describe('Sent to the customer when the conversation goes to the team.'),
  allowContactDetails: z
    .boolean()
    .describe('Send phone numbers and e-mail addresses to the provider as written (else they are redacted).'),
});
/** A tenant's provider, limits and guardrails. */
export type TenantAssistantConfig = z.infer<typeof tenantAssistantConfigSchema>;

/** Defaults of the tenant settings other than the provider. */
export const DEFAULT_TENANT_ASSISTANT_LIMITS = {
  dailyMessageLimit: 500,
  dailyTokenLimit: 500_000,
  monthlyMessageLimit: 10_000,
  monthlyTokenLimit: 10_000_000,
  maxReplyTokens: 500,
  burstMaxReplies: 5,
  burstWindowSeconds: 600,
  timeoutSeconds: 30,
  blockedTopics: [] as string[],
  blockedTopicReply: 'Sorry, I cannot help with that topic.',
  handoffKeywords: [] as string[],
  handoffMessage: 'I am passing you to a member of our team, who will answer here shortly.',
  allowContactDetails: false,
} satisfies Partial<TenantAssistantConfig>;
