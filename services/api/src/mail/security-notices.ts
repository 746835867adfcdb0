// Security notices: the mail a member gets when their account is signed in to from a new device
// or address, when their password changes, and when their two-factor sign-in changes. Callers hand
// the event over and go on: the lookup of the member and the mail happen after, and a failure is
// logged, never thrown at the request that caused the notice.
import { withTenant } from '@switchboard/db';
import { tenantKeyPrefix } from '@switchboard/messaging/producer';
import { RedisScript } from '@switchboard/redis';
import { hashCredential } from '../auth/tokens.ts';
import type { ApiContext } from '../context.ts';
import type { SecurityNoticeKind, TwoFactorChange } from './templates.ts';

/** The event a security notice tells the member about. */
export interface SecurityEvent {
  tenantId: string;
  userId: string;
  kind: SecurityNoticeKind;
  /** The client's IP (request.ip) and User-Agent, shown in the mail. */
  ip?: string | undefined;
  userAgent?: string | undefined;
  /** For `two_factor_changed`: what changed. */
  change?: TwoFactorChange | undefined;
}

const pendingNotices = new Set<Promise<void>>();

/** Resolves when every notice started so far has been handed to the delivery hook (tests, shutdown). */
export async function settledSecurityNotices(): Promise<void> {
  while (pendingNotices.size > 0) await Promise.allSettled([...pendingNotices]);
}

/**
 * Mails the member a security notice, in their language: returns at once; the member is read and
 * the notice handed to `ctx.onSecurityNotice` (the Mailer's queue) after. A member who is gone or
 * disabled gets nothing. A failure goes to `onError` (default: dropped), never to the caller.
 */
export function sendSecurityNotice(
  ctx: ApiContext,
  event: SecurityEvent,
  onError: (error: unknown) => void = () => {},
): void {
  const at = new Date();
  const work = (async () => {
    const user = await withTenant(ctx.db, event.tenantId, (tx) =>
      tx.user.findFirst({ where: { id: event.userId, disabledAt: null } }),
    );
    if (!user) return;
    ctx.onSecurityNotice({
      kind: event.kind,
      email: user.email,
      displayName: user.displayName,
      locale: user.locale,
      at,
      ip: event.ip,
      device: event.userAgent?.slice(0, 200),
      change: event.change,
    });
  })().catch(onError);
  pendingNotices.add(work);
  void work.finally(() => pendingNotices.delete(work));
}

// Remembers a sign-in's device (IP and User-Agent, hashed) among the member's newest ones and says
// whether it is new: 1 when the device was not among them and the member had signed in before
// (the very first sign-in, or the first since the set expired, is nobody's surprise).
const REMEMBER_SIGN_IN = new RedisScript(`
local known = redis.call('ZCARD', KEYS[1])
local added = redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[3]) + 1))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if added == 1 and known > 0 then return 1 end
return 0
`);

/** Devices remembered per member: the newest 20, for 400 days after the last sign-in. */
export const KNOWN_DEVICES_PER_MEMBER = 20;
const KNOWN_DEVICES_TTL_MS = 400 * 86_400_000;

/**
 * After a good sign-in: remembers the device (in Redis, under the API's key prefix) and sends
 * the `new_sign_in` notice when the member has signed in before but never from this IP and
 * User-Agent. Returns at once; failures go to `onError`. The devices are kept in Redis, not
 * Postgres: losing them (a Redis without persistence restarted) costs one extra notice per member.
 */
export function noteSignIn(
  ctx: ApiContext,
  signIn: { tenantId: string; userId: string; ip: string; userAgent?: string | undefined },
  onError: (error: unknown) => void = () => {},
): void {
  const work = (async () => {
    const key = `${tenantKeyPrefix(ctx.defaultTenant)}api:known-sign-ins:${signIn.tenantId}:${signIn.userId}`;
    const device = hashCredential(`${signIn.ip}\n${signIn.userAgent ?? ''}`);
    const isNew = await REMEMBER_SIGN_IN.run(
      ctx.redis,
      [key],
      [device, Date.now(), KNOWN_DEVICES_PER_MEMBER, KNOWN_DEVICES_TTL_MS],
    );
    if (isNew === 1) sendSecurityNotice(ctx, { ...signIn, kind: 'new_sign_in' }, onError);
  })().catch(onError);
  pendingNotices.add(work);
  void work.finally(() => pendingNotices.delete(work));
}
