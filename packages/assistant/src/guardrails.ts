// Guardrails applied around every provider call: contact details redacted from what leaves for
// the provider, blocked topics refused with a fixed answer, and the two hand-off signals (the
// customer asks for a person; the model answers with the hand-off sentinel).

/**
 * What the system prompt tells the model to answer, alone, when it cannot help: the reply is then
 * not sent, and the conversation goes to the team.
 */
export const HANDOFF_SENTINEL = '[[HANDOFF]]';

/** The instruction appended to every system prompt so the model knows the sentinel. */
export const HANDOFF_INSTRUCTION = `If you cannot answer from what you know here, or the customer needs a person, answer exactly ${HANDOFF_SENTINEL} and nothing else.`;

/** Phrases that hand a conversation to the team when no tenant list is set. */
export const DEFAULT_HANDOFF_KEYWORDS = ['human', 'agent', 'real person', 'operator', 'talk to someone'];

const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g;
// Seven or more digits, possibly with a leading +, spaces, dots, dashes or parentheses between
// them: phone numbers in the forms customers write them (order numbers of 7+ digits go too, which
// is the safe side).
const PHONE = /[+(]?\d(?:[\s().-]*\d){6,}/g;

/** `text` with e-mail addresses and phone numbers replaced by `[email]` and `[phone]`. */
export function redactContactDetails(text: string): string {
  return text.replace(EMAIL, '[email]').replace(PHONE, '[phone]');
}

function normalise(text: string): string {
  return text.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();
}

function containsPhrase(text: string, phrase: string): boolean {
  const wanted = normalise(phrase).trim();
  if (wanted.length === 0) return false;
  const escaped = wanted.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\s+/g, '\\s+');
  return new RegExp(`(^|[^\\p{L}\\p{N}])${escaped}($|[^\\p{L}\\p{N}])`, 'u').test(normalise(text));
}

/** The first of `topics` the text mentions (whole words, case and accents ignored), or null. */
export function blockedTopicOf(text: string, topics: readonly string[]): string | null {
  return topics.find((topic) => containsPhrase(text, topic)) ?? null;
}

/** Whether the customer asks for a person (one of `keywords`, whole words, case ignored). */
export function asksForHuman(text: string, keywords: readonly string[]): boolean {
  return keywords.some((keyword) => containsPhrase(text, keyword));
}

/** Whether the model's answer is the hand-off sentinel (it could not help). */
export function modelHandsOff(answer: string): boolean {
  return answer.includes(HANDOFF_SENTINEL) || answer.trim().length === 0;
}
