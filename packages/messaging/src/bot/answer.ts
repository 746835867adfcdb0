import { z } from 'zod';

/**
 * The flow engine's side of a session bot: what Switchboard POSTs to it (one customer message,
 * signed like a tenant webhook) and what its answer may say (replies to send, a hand-off).
 */

/** The `X-Switchboard-Event-Type` of a bot delivery, and the payload's `type`. */
export const BOT_EVENT_TYPE = 'bot.message';

/** The purpose a bot's sealed secret is bound to (SEALING_KEYS), apart from webhook secrets'. */
export const BOT_SECRET_PURPOSE = 'bot-secret';

/** The largest answer body read from a flow engine (64 KiB): more fails the attempt. */
export const BOT_MAX_ANSWER_BYTES = 65_536;

/** The most replies one answer (or one API call) may send. */
export const BOT_MAX_REPLIES = 10;

/** One reply of a flow engine: a text message to the customer. */
export const botReplySchema = z.strictObject({
  type: z.literal('text'),
  text: z.string().trim().min(1, 'must not be empty').max(4096, 'must be at most 4096 characters'),
});
export type BotReply = z.infer<typeof botReplySchema>;

/**
 * A flow engine's answer to a delivery (a 2xx body; an empty body is no replies):
 * `{ "replies": [{ "type": "text", "text": "..." }], "handoff": true }`. `handoff` stops the bot
 * for the conversation after its replies, leaving it unassigned for the team.
 */
export const botAnswerSchema = z.strictObject({
  replies: z.array(botReplySchema).max(BOT_MAX_REPLIES, `at most ${BOT_MAX_REPLIES} replies`).default([]),
  handoff: z.boolean().default(false),
});
export type BotAnswer = z.infer<typeof botAnswerSchema>;

/**
 * Parses an engine's answer body: `{ ok: false, reason }` names what was wrong (never the body,
 * which may hold customer data).
 */
export function parseBotAnswer(
  body: string,
): { ok: true; answer: BotAnswer } | { ok: false; reason: string } {
  if (body.trim() === '') return { ok: true, answer: { replies: [], handoff: false } };
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, reason: 'the answer is not JSON' };
  }
  const parsed = botAnswerSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'answer'}: ${i.message}`).join('; ');
    return { ok: false, reason: `the answer is invalid: ${issues}` };
  }
  return { ok: true, answer: parsed.data };
}

/** Whether a customer's text is `keyword` (the whole message, trimmed, case-insensitively). */
export function matchesKeyword(text: string | null, keyword: string | null): boolean {
  if (text === null || keyword === null) return false;
  return text.trim().toLocaleLowerCase() === keyword.trim().toLocaleLowerCase();
}

/** What a bot delivery POSTs (the JSON body, signed). */
export interface BotDeliveryPayload {
  /** The delivery's id (also X-Switchboard-Event-Id): the same on every retry. */
  id: string;
  type: typeof BOT_EVENT_TYPE;
  createdAt: string;
  data: {
    sessionId: string;
    conversationId: string;
    message: { id: string; type: string; body: string | null; createdAt: string };
    contact: { id: string; name: string | null; phoneNumber: string | null };
  };
}
