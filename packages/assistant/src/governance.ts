// Governance of automated replies, decided atomically in Redis before every call: one Lua script
// claims the inbound message (so one replica decides on it, once), checks the platform and tenant
// kill switches, the tenant's model allow-list, the conversation's burst limit and the tenant's
// daily and monthly limits (messages and tokens), and only when all pass counts the reply in the
// burst window and reserves its tokens. After the call, `settle` swaps the reservation for the tokens
// the provider reported, or gives it back when no reply went out.
import { RedisScript } from '@switchboard/redis';
import type { Redis } from 'ioredis';

/** Why governance refused a call. */
export type GovernanceRefusal =
  | 'duplicate'
  | 'platform_disabled'
  | 'tenant_paused'
  | 'model_not_allowed'
  | 'provider_cooling_down'
  | 'burst_limit'
  | 'daily_message_limit'
  | 'daily_token_limit'
  | 'monthly_message_limit'
  | 'monthly_token_limit';

/** A tenant's limits; null: none. */
export interface AssistantLimits {
  dailyMessageLimit: number | null;
  dailyTokenLimit: number | null;
  monthlyMessageLimit: number | null;
  monthlyTokenLimit: number | null;
}

/** One call to check. */
export interface GovernanceRequest extends AssistantLimits {
  /** The tenant's Redis key prefix (`sb:<slug>:`). */
  keyPrefix: string;
  /** The platform kill switch (chart value and WhatsAppTenant spec.assistant.enabled): false stops every call. */
  platformEnabled: boolean;
  /** The tenant kill switch as stored in the database (the Redis flag is checked too). */
  tenantPaused: boolean;
  model: string;
  /** The models the platform allows this tenant; undefined: any model. */
  allowedModels: readonly string[] | undefined;
  /** The inbound message answered: claimed, so it is answered once. */
  messageId: string;
  conversationId: string;
  burstMaxReplies: number;
  burstWindowMs: number;
  /** Tokens reserved for the call (prompt estimate + max answer); 0 for fixed answers. */
  reserveTokens: number;
  /** Whether the provider is asked (false for fixed answers: no cool-down applies). */
  callsProvider: boolean;
  now: Date;
}

/** Used amounts of one period. */
export interface PeriodUsage {
  messages: number;
  tokens: number;
}

/** What governance decided. */
export type GovernanceDecision =
  | { allowed: true; reservation: Reservation; day: PeriodUsage; month: PeriodUsage }
  | { allowed: false; reason: GovernanceRefusal };

/** What {@link settle} needs to finish a call. */
export interface Reservation {
  keys: UsageKeys;
  burstKey: string;
  messageId: string;
  reservedTokens: number;
}

/** The Redis keys of a tenant's counters for the day and the month of `now`. */
export interface UsageKeys {
  dayMessages: string;
  dayTokens: string;
  monthMessages: string;
  monthTokens: string;
}

// The kill switch flag and the usage counters live under `<prefix>api:`, the keys the API's Redis
// user may use (packages/redis acl.ts): the API sets the flag and reads the budget. The claims and
// burst windows are the workers' alone.

/** The flag of the tenant kill switch (set by the API, read by the script). */
export function tenantPausedKey(keyPrefix: string): string {
  return `${keyPrefix}api:assistant:paused`;
}

/** Set after the provider answered 429: no provider call until it expires (its Retry-After). */
export function providerCooldownKey(keyPrefix: string): string {
  return `${keyPrefix}assistant:cooldown`;
}

/** Holds provider calls for `ms` (the provider's Retry-After, bounded to 1 s .. 1 h). */
export async function setProviderCooldown(redis: Redis, keyPrefix: string, ms: number): Promise<void> {
  await redis.set(
    providerCooldownKey(keyPrefix),
    '1',
    'PX',
    Math.min(3_600_000, Math.max(1_000, Math.round(ms))),
  );
}

/** The counters of the UTC day and month of `now`. */
export function usageKeys(keyPrefix: string, now: Date): UsageKeys {
  const day = now.toISOString().slice(0, 10);
  const month = day.slice(0, 7);
  return {
    dayMessages: `${keyPrefix}api:assistant:usage:${day}:messages`,
    dayTokens: `${keyPrefix}api:assistant:usage:${day}:tokens`,
    monthMessages: `${keyPrefix}api:assistant:usage:${month}:messages`,
    monthTokens: `${keyPrefix}api:assistant:usage:${month}:tokens`,
  };
}

const DAY_TTL_SECONDS = 2 * 24 * 3600;
const MONTH_TTL_SECONDS = 62 * 24 * 3600;
/** A claimed message stays claimed this long (replays of the same event inside it are ignored). */
const CLAIM_TTL_MS = 7 * 24 * 3600 * 1000;

// KEYS: 1 paused flag, 2 claim, 3 day messages, 4 day tokens, 5 month messages, 6 month tokens, 7 burst set,
// 8 provider cool-down.
// ARGV: 1 platform enabled, 2 paused in the database, 3 model, 4 allowed models ('*' or \n-joined),
// 5-8 limits (day messages, day tokens, month messages, month tokens; -1 none), 9 reserve tokens,
// 10 burst max, 11 burst window ms, 12 now ms, 13 claim ttl ms, 14 day ttl s, 15 month ttl s, 16 message id,
// 17 calls the provider ('1'/'0'), 18 peek ('1': check only, nothing claimed, counted or reserved).
const RESERVE_SCRIPT = new RedisScript(`
local peek = ARGV[18] == '1'
if not peek then
  if redis.call('EXISTS', KEYS[2]) == 1 then return {'refused', 'duplicate'} end
  -- Claimed whatever the decision: one replica decides on a message, refusals included.
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[13])
end
if ARGV[1] ~= '1' then return {'refused', 'platform_disabled'} end
if ARGV[2] == '1' or redis.call('EXISTS', KEYS[1]) == 1 then return {'refused', 'tenant_paused'} end
if ARGV[4] ~= '*' then
  local found = false
  for name in string.gmatch(ARGV[4], '[^\\n]+') do
    if name == ARGV[3] then found = true end
  end
  if not found then return {'refused', 'model_not_allowed'} end
end
if ARGV[17] == '1' and redis.call('EXISTS', KEYS[8]) == 1 then return {'refused', 'provider_cooling_down'} end
local now = tonumber(ARGV[12])
redis.call('ZREMRANGEBYSCORE', KEYS[7], '-inf', now - tonumber(ARGV[11]))
if redis.call('ZCARD', KEYS[7]) >= tonumber(ARGV[10]) then return {'refused', 'burst_limit'} end
local reserve = tonumber(ARGV[9])
local used = {}
for i = 3, 6 do used[i] = tonumber(redis.call('GET', KEYS[i]) or '0') end
local function over(limit, value) return tonumber(limit) >= 0 and value > tonumber(limit) end
if over(ARGV[5], used[3] + 1) then return {'refused', 'daily_message_limit'} end
if over(ARGV[6], used[4] + reserve) then return {'refused', 'daily_token_limit'} end
if over(ARGV[7], used[5] + 1) then return {'refused', 'monthly_message_limit'} end
if over(ARGV[8], used[6] + reserve) then return {'refused', 'monthly_token_limit'} end
if peek then return {'allowed', ''} end
redis.call('ZADD', KEYS[7], now, ARGV[16])
redis.call('PEXPIRE', KEYS[7], ARGV[11])
for i = 3, 6 do
  local amount = 1
  if i == 4 or i == 6 then amount = reserve end
  redis.call('INCRBY', KEYS[i], amount)
  if i <= 4 then redis.call('EXPIRE', KEYS[i], ARGV[14]) else redis.call('EXPIRE', KEYS[i], ARGV[15]) end
end
return {'allowed', '', tostring(used[3] + 1), tostring(used[4] + reserve), tostring(used[5] + 1), tostring(used[6] + reserve)}
`);

const limitArg = (value: number | null): string => (value === null ? '-1' : String(value));

/** Claims the message and checks every rule; when all pass, counts the reply and reserves its tokens (one script). */
export async function reserveCall(redis: Redis, request: GovernanceRequest): Promise<GovernanceDecision> {
  const keys = usageKeys(request.keyPrefix, request.now);
  const burstKey = burstKeyOf(request);
  const result = await runScript(redis, request, false);
  if (result[0] !== 'allowed') return { allowed: false, reason: result[1] as GovernanceRefusal };
  const [, , dayMessages, dayTokens, monthMessages, monthTokens] = result.map(Number);
  return {
    allowed: true,
    reservation: {
      keys,
      burstKey,
      messageId: request.messageId,
      reservedTokens: Math.max(0, Math.ceil(request.reserveTokens)),
    },
    day: { messages: dayMessages as number, tokens: dayTokens as number },
    month: { messages: monthMessages as number, tokens: monthTokens as number },
  };
}

/**
 * What {@link reserveCall} would decide now, without claiming the message, counting the reply or
 * reserving tokens: null when every rule passes, else the first refusal (never `duplicate`). A
 * peek is advice, not a promise: another call may spend the budget between the peek and the call.
 */
export async function peekCall(redis: Redis, request: GovernanceRequest): Promise<GovernanceRefusal | null> {
  const result = await runScript(redis, request, true);
  return result[0] === 'allowed' ? null : (result[1] as GovernanceRefusal);
}

function burstKeyOf(request: GovernanceRequest): string {
  return `${request.keyPrefix}assistant:burst:${request.conversationId}`;
}

async function runScript(redis: Redis, request: GovernanceRequest, peek: boolean): Promise<string[]> {
  const keys = usageKeys(request.keyPrefix, request.now);
  const claimKey = `${request.keyPrefix}assistant:claim:${request.messageId}`;
  return (await RESERVE_SCRIPT.run(
    redis,
    [
      tenantPausedKey(request.keyPrefix),
      claimKey,
      keys.dayMessages,
      keys.dayTokens,
      keys.monthMessages,
      keys.monthTokens,
      burstKeyOf(request),
      providerCooldownKey(request.keyPrefix),
    ],
    [
      request.platformEnabled ? '1' : '0',
      request.tenantPaused ? '1' : '0',
      request.model,
      request.allowedModels === undefined ? '*' : request.allowedModels.join('\n'),
      limitArg(request.dailyMessageLimit),
      limitArg(request.dailyTokenLimit),
      limitArg(request.monthlyMessageLimit),
      limitArg(request.monthlyTokenLimit),
      String(Math.max(0, Math.ceil(request.reserveTokens))),
      String(request.burstMaxReplies),
      String(request.burstWindowMs),
      String(request.now.getTime()),
      String(CLAIM_TTL_MS),
      String(DAY_TTL_SECONDS),
      String(MONTH_TTL_SECONDS),
      request.messageId,
      request.callsProvider ? '1' : '0',
      peek ? '1' : '0',
    ],
  )) as string[];
}

/**
 * Finishes a reserved call in one transaction: the reservation becomes `usedTokens` (what the
 * provider's `usage` reported). With `sent: false` (the call failed, nothing went out) the
 * message, its tokens and its burst entry are given back; the message stays claimed.
 */
export async function settle(
  redis: Redis,
  reservation: Reservation,
  outcome: { sent: boolean; usedTokens: number },
): Promise<void> {
  const { keys } = reservation;
  const delta = (outcome.sent ? outcome.usedTokens : 0) - reservation.reservedTokens;
  const multi = redis.multi().incrby(keys.dayTokens, delta).incrby(keys.monthTokens, delta);
  if (!outcome.sent)
    multi.decr(keys.dayMessages).decr(keys.monthMessages).zrem(reservation.burstKey, reservation.messageId);
  await multi.exec();
}

/** One limit with what is used and what remains (null: no limit). */
export interface BudgetLine {
  used: number;
  limit: number | null;
  remaining: number | null;
}

/** What a tenant has used and has left, today and this month (UTC). */
export interface Budget {
  day: { date: string; messages: BudgetLine; tokens: BudgetLine };
  month: { month: string; messages: BudgetLine; tokens: BudgetLine };
}

/** Reads the tenant's counters of `now`'s day and month against its limits. */
export async function readBudget(
  redis: Redis,
  keyPrefix: string,
  limits: AssistantLimits,
  now: Date,
): Promise<Budget> {
  const keys = usageKeys(keyPrefix, now);
  const [dayMessages, dayTokens, monthMessages, monthTokens] = (
    await redis.mget(keys.dayMessages, keys.dayTokens, keys.monthMessages, keys.monthTokens)
  ).map((value) => Math.max(0, Number(value ?? 0)));
  const line = (used: number, limit: number | null): BudgetLine => ({
    used,
    limit,
    remaining: limit === null ? null : Math.max(0, limit - used),
  });
  const date = now.toISOString().slice(0, 10);
  return {
    day: {
      date,
      messages: line(dayMessages ?? 0, limits.dailyMessageLimit),
      tokens: line(dayTokens ?? 0, limits.dailyTokenLimit),
    },
    month: {
      month: date.slice(0, 7),
      messages: line(monthMessages ?? 0, limits.monthlyMessageLimit),
      tokens: line(monthTokens ?? 0, limits.monthlyTokenLimit),
    },
  };
}

/** Sets or clears the tenant kill switch flag the script reads. */
export async function setTenantPaused(redis: Redis, keyPrefix: string, paused: boolean): Promise<void> {
  if (paused) await redis.set(tenantPausedKey(keyPrefix), '1');
  else await redis.del(tenantPausedKey(keyPrefix));
}
