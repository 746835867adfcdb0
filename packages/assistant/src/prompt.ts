// The prompt of one call: the tenant's system prompt, the session's knowledge text and the
// hand-off instruction, then the conversation's latest messages within the session's window
// (at most N messages and about M tokens), oldest first.
import { HANDOFF_INSTRUCTION, redactContactDetails } from './guardrails.ts';
import type { ChatMessage } from './provider.ts';

/** A message of the conversation, newest last. */
export interface HistoryMessage {
  direction: 'inbound' | 'outbound';
  body: string;
}

/** Options of {@link buildPrompt}. */
export interface BuildPromptOptions {
  systemPrompt: string | null;
  knowledge: string | null;
  /** The conversation's text messages, oldest first, ending with the one being answered. */
  history: readonly HistoryMessage[];
  maxMessages: number;
  maxTokens: number;
  /** Replace e-mail addresses and phone numbers in everything sent (the tenant did not allow them). */
  redact: boolean;
}

/** A rough token count (4 characters a token, the providers' own rule of thumb for English). */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** The messages sent to the provider, and their estimated tokens. */
export function buildPrompt(options: BuildPromptOptions): {
  messages: ChatMessage[];
  estimatedTokens: number;
} {
  const clean = (text: string) => (options.redact ? redactContactDetails(text) : text);
  const parts = [
    options.systemPrompt?.trim() || 'You are a helpful customer service assistant. Answer briefly.',
  ];
  if (options.knowledge?.trim()) parts.push(`What you know:\n${options.knowledge.trim()}`);
  parts.push(HANDOFF_INSTRUCTION);
  const system: ChatMessage = { role: 'system', content: clean(parts.join('\n\n')) };
  let tokens = estimateTokens(system.content);
  const window: ChatMessage[] = [];
  for (let index = options.history.length - 1; index >= 0 && window.length < options.maxMessages; index--) {
    const message = options.history[index] as HistoryMessage;
    const content = clean(message.body);
    const cost = estimateTokens(content);
    // The message being answered always goes; older ones only while they fit.
    if (window.length > 0 && tokens + cost > options.maxTokens) break;
    tokens += cost;
    window.unshift({ role: message.direction === 'inbound' ? 'user' : 'assistant', content });
  }
  return { messages: [system, ...window], estimatedTokens: tokens };
}
