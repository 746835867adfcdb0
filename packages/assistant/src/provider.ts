/**
 * The chat provider port: what the assistant needs from a language model. One adapter speaks the
 * OpenAI-compatible chat-completions wire format (openai-compatible.ts), which OpenAI, Azure
 * OpenAI, vLLM, Ollama and LiteLLM all serve.
 */

/** One message of a chat, as the provider takes it. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** One completion request. */
export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  /** Upper bound of the answer's tokens (the reservation counts on it). */
  maxTokens?: number;
  /** Aborts the request: a timeout (`AbortSignal.timeout`) or the caller's shutdown. */
  signal?: AbortSignal;
}

/** Tokens the provider counted for one request (its `usage`). */
export interface ChatUsage {
  promptTokens: number;
  completionTokens: number;
}

/** A finished completion. */
export interface ChatCompletion {
  content: string;
  /** The model that answered, as the provider names it. */
  model: string;
  /** Absent when the provider reports none (some servers omit `usage` when streaming). */
  usage?: ChatUsage;
  finishReason: string | null;
}

/** A chat model behind some API. */
export interface ChatProvider {
  /** One answer, whole. */
  complete(request: ChatRequest): Promise<ChatCompletion>;
  /** One answer as it is produced: `onDelta` gets each piece; resolves with the whole. */
  stream(request: ChatRequest, onDelta: (text: string) => void): Promise<ChatCompletion>;
}

/** Stable codes of the ways a provider call fails. */
export type ProviderErrorCode =
  | 'PROVIDER_RATE_LIMITED'
  | 'PROVIDER_TIMEOUT'
  | 'PROVIDER_HTTP_ERROR'
  | 'PROVIDER_BAD_RESPONSE'
  | 'PROVIDER_UNREACHABLE';

/** A provider call that failed; `message` never contains the API key. */
export class ProviderError extends Error {
  readonly code: ProviderErrorCode;
  /** The provider's HTTP status, when it answered. */
  readonly status: number | undefined;
  constructor(code: ProviderErrorCode, message: string, status?: number, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ProviderError';
    this.code = code;
    this.status = status;
  }
}

/** A 429: the provider asks to wait `retryAfterMs` (from Retry-After) before the next call. */
export class ProviderRateLimitedError extends ProviderError {
  readonly retryAfterMs: number | undefined;
  constructor(message: string, retryAfterMs: number | undefined) {
    super('PROVIDER_RATE_LIMITED', message, 429);
    this.name = 'ProviderRateLimitedError';
    this.retryAfterMs = retryAfterMs;
  }
}
