// What the inbound store's transactions share: their timeouts and advisory locks.
import type { TenantTx } from '@switchboard/db';

/**
 * A burst waits for a pooled connection rather than failing: duplicates of one message hold
 * theirs while they wait on its lock, and a message that fails to store is a message lost.
 */
export const INBOUND_TX = { maxWait: 15_000, timeout: 15_000 };

/** Serialises work on one key inside the current transaction (released at commit). */
export async function lock(tx: TenantTx, key: string): Promise<void> {
  await tx.$queryRaw`SELECT pg_advisory_xact_lock(hashtextextended(${key}, 0))::text AS locked`;
}

/** Takes one or two locks in the given order in one round trip (a select list is evaluated left to right). */
export async function lockAll(tx: TenantTx, keys: string[]): Promise<void> {
  const [first, second, ...rest] = keys;
  if (first === undefined) return;
  if (second === undefined) return await lock(tx, first);
  await tx.$queryRaw`SELECT pg_advisory_xact_lock(hashtextextended(${first}, 0))::text AS a,
                            pg_advisory_xact_lock(hashtextextended(${second}, 0))::text AS b`;
  for (const key of rest) await lock(tx, key);
}
