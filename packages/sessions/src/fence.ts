import { type Db, type SessionState, type TenantTx, withTenant } from '@switchboard/db';
import { RedisScript } from '@switchboard/redis';
import type { Redis } from 'ioredis';
import { SessionsError, StaleEpochError } from './errors.ts';

/**
 * Fencing: each claim of a session takes a new epoch from Postgres, atomically
 * (`epoch = epoch + 1 ... RETURNING epoch`). Everything written on the session's behalf carries
 * that epoch and is refused once a later claim exists, so a worker that was paused or cut off
 * past its lease cannot overwrite what the new owner writes. Postgres writes check the epoch in
 * their WHERE clause; Redis writes (auth state) check the fence key that raiseFence keeps at the
 * highest claimed epoch.
 */

/** Who writes, and under which claim. */
export interface SessionFence {
  tenantId: string;
  sessionId: string;
  epoch: bigint;
}

/** Takes the next epoch for the session and records the owner; throws SESSION_NOT_FOUND when it is gone. */
export async function claimEpoch(
  db: Db,
  tenantId: string,
  sessionId: string,
  owner: string,
): Promise<bigint> {
  return await withTenant(db, tenantId, async (tx) => {
    const rows = await tx.$queryRaw<{ epoch: bigint }[]>`
      UPDATE sessions SET epoch = epoch + 1, owner = ${owner}, updated_at = now()
      WHERE id = ${sessionId}::uuid
      RETURNING epoch`;
    const row = rows[0];
    if (!row) throw new SessionsError('SESSION_NOT_FOUND', `session ${sessionId} does not exist`);
    return BigInt(row.epoch);
  });
}

const RAISE = new RedisScript(`local current = tonumber(redis.call('get', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then redis.call('set', KEYS[1], ARGV[1]) return 1 end
return 0`);

/** Sets the Redis fence to `epoch` unless it is already higher (claims may land out of order). */
export async function raiseFence(redis: Redis, fenceKey: string, epoch: bigint): Promise<void> {
  await RAISE.run(redis, [fenceKey], [epoch.toString()]);
}

/** The fence's current epoch (0 when never claimed). */
export async function currentFence(redis: Redis, fenceKey: string): Promise<bigint> {
  return BigInt((await redis.get(fenceKey)) ?? '0');
}

/** Throws StaleEpochError when a later claim has raised the fence past `fence.epoch`. */
export async function assertFence(
  redis: Redis,
  fenceKey: string,
  fence: SessionFence,
  what: string,
): Promise<void> {
  if ((await currentFence(redis, fenceKey)) > fence.epoch)
    throw new StaleEpochError(fence.sessionId, fence.epoch, what);
}

/** A session state change, written only under the current epoch. */
export interface SessionStateUpdate {
  state: SessionState;
  reason?: string | null;
  phoneNumber?: string;
}

/**
 * Writes the session's state if `fence.epoch` is still current; StaleEpochError otherwise.
 * `inTransaction` runs in the same transaction after a write that happened (the worker records
 * the `session.state_changed` webhook event there, so the event exists exactly when the state does).
 */
export async function updateSessionState(
  db: Db,
  fence: SessionFence,
  update: SessionStateUpdate,
  inTransaction?: (tx: TenantTx) => Promise<unknown>,
): Promise<void> {
  const count = await withTenant(db, fence.tenantId, async (tx) => {
    const result = await tx.session.updateMany({
      where: { id: fence.sessionId, epoch: fence.epoch },
      data: {
        state: update.state,
        stateReason: update.reason ?? null,
        stateChangedAt: new Date(),
        ...(update.state === 'connected' ? { lastConnectedAt: new Date() } : {}),
        ...(update.phoneNumber ? { phoneNumber: update.phoneNumber } : {}),
      },
    });
    if (result.count > 0 && inTransaction) await inTransaction(tx);
    return result.count;
  });
  if (count === 0) throw new StaleEpochError(fence.sessionId, fence.epoch, `state ${update.state}`);
}
