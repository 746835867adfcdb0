import { RedisScript } from '@switchboard/redis';
import type { Redis } from 'ioredis';

/** Limits on sends, each over a sliding one-minute window. */
export interface OutboundLimits {
  /** Messages to one contact per minute (default 10). */
  perContactPerMinute: number;
  /** Messages from the session per minute (default 60). */
  perSessionPerMinute: number;
}

export const DEFAULT_OUTBOUND_LIMITS: OutboundLimits = { perContactPerMinute: 10, perSessionPerMinute: 60 };

const WINDOW_MS = 60_000;

/**
 * A sliding-window log in two sorted sets (one per contact, one per session), checked and taken
 * atomically with Redis' own clock, so every worker shares it and it survives restarts. A member
 * is the message id, so a redelivered job takes no second slot. Returns 0 when the send may go,
 * otherwise how many milliseconds until the oldest entry of the full window leaves it.
 */
const TAKE = new RedisScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local wait = 0
for i = 1, 2 do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  if redis.call('ZSCORE', KEYS[i], ARGV[4]) == false then
    if redis.call('ZCARD', KEYS[i]) >= tonumber(ARGV[i + 1]) then
      local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
      local w = tonumber(oldest[2]) + window - now
      if w > wait then wait = w end
    end
  end
end
if wait > 0 then return wait end
for i = 1, 2 do
  redis.call('ZADD', KEYS[i], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[i], window)
end
return 0`);

/** The sorted set keys of a session's and a contact's window. */
export function rateLimitKeys(keyPrefix: string, sessionId: string, contactId: string): [string, string] {
  return [
    `${keyPrefix}ratelimit:contact:${sessionId}:${contactId}`,
    `${keyPrefix}ratelimit:session:${sessionId}`,
  ];
}

/** Takes a slot for `messageId` in both windows, or says how long to wait (ms) when either is full. */
export async function takeSendSlot(
  redis: Redis,
  keyPrefix: string,
  sessionId: string,
  contactId: string,
  messageId: string,
  limits: OutboundLimits,
): Promise<number> {
  const [contactKey, sessionKey] = rateLimitKeys(keyPrefix, sessionId, contactId);
  const wait = await TAKE.run(
    redis,
    [contactKey, sessionKey],
    [WINDOW_MS, limits.perContactPerMinute, limits.perSessionPerMinute, messageId],
  );
  return Number(wait);
}
