/**
 * Redis keys of a tenant's sessions, under the tenant's key prefix (e.g. `sb:acme:`). The fence
 * and auth keys are a contract with packages/channels: the Baileys auth state lives in the auth
 * hash and every write to it checks the fence first.
 */

/** The Redis keys of one session. */
export interface SessionKeys {
  /** String: the owner token of the worker holding the session (SET NX PX). */
  lease: string;
  /** String: the highest epoch ever claimed; auth-state writes with a lower epoch are refused. */
  fence: string;
  /** Hash: Baileys creds and signal keys. */
  auth: string;
}

/** The keys of `sessionId` under `keyPrefix`. */
export function sessionKeys(keyPrefix: string, sessionId: string): SessionKeys {
  const base = `${keyPrefix}session:${sessionId}`;
  return { lease: `${base}:lease`, fence: `${base}:fence`, auth: `${base}:auth` };
}

/** Sorted set of live workers, scored by their last heartbeat (ms since the epoch). */
export function workersKey(keyPrefix: string): string {
  return `${keyPrefix}workers`;
}
