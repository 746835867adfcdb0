/** The AI assistant: the chat provider port and its adapter, governance, guardrails, prompt, prices. */
export {
  type AssistantLimits,
  type Budget,
  type BudgetLine,
  type GovernanceDecision,
  type GovernanceRefusal,
  type GovernanceRequest,
  type PeriodUsage,
  peekCall,
  providerCooldownKey,
  type Reservation,
  readBudget,
  reserveCall,
  setProviderCooldown,
  setTenantPaused,
  settle,
  tenantPausedKey,
  type UsageKeys,
  usageKeys,
} from './governance.ts';
export {
  asksForHuman,
  blockedTopicOf,
  DEFAULT_HANDOFF_KEYWORDS,
  HANDOFF_INSTRUCTION,
  HANDOFF_SENTINEL,
  modelHandsOff,
  redactContactDetails,
} from './guardrails.ts';
export {
  OpenAiCompatibleProvider,
  type OpenAiCompatibleProviderOptions,
  retryAfterMs,
} from './openai-compatible.ts';
export { estimateCostMicros, MODEL_PRICES, type ModelPrice, priceOf } from './prices.ts';
export { type BuildPromptOptions, buildPrompt, estimateTokens, type HistoryMessage } from './prompt.ts';
export {
  type ChatCompletion,
  type ChatMessage,
  type ChatProvider,
  type ChatRequest,
  type ChatUsage,
  ProviderError,
  type ProviderErrorCode,
  ProviderRateLimitedError,
} from './provider.ts';
export {
  ANSWER_MODES,
  type AnswerMode,
  DEFAULT_SESSION_ASSISTANT_SETTINGS,
  DEFAULT_TENANT_ASSISTANT_LIMITS,
  type SessionAssistantSettings,
  sessionAssistantSettingsSchema,
  type TenantAssistantConfig,
  tenantAssistantConfigSchema,
} from './settings.ts';
