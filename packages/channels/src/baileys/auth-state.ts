import {
  type AuthenticationCreds,
  type AuthenticationState,
  BufferJSON,
  initAuthCreds,
  proto,
  type SignalDataSet,
  type SignalDataTypeMap,
  type SignalKeyStore,
} from '@whiskeysockets/baileys';
import type { Cluster, Redis } from 'ioredis';
import { StaleEpochError } from '../errors.ts';
import { AuthStateSealError, type AuthStateSealer, isSealed } from './auth-sealing.ts';

/**
 * Baileys auth state (creds and signal keys) in Redis, fenced by the session's epoch.
 *
 * Layout, agreed with packages/sessions (see its `sessionKeys`): under the tenant's prefix,
 * `session:<id>:fence` holds the highest epoch ever claimed and `session:<id>:auth` is ONE hash
 * with the creds (field `creds`) and every signal key (field `<type>:<id>`), values in Baileys'
 * BufferJSON. Every write is one Lua script that reads the fence first and refuses when a later
 * claim raised it past the writer's epoch; otherwise it applies all of the write's sets and
 * deletes together. Baileys hands a whole transaction to ONE `keys.set()` call (its
 * addTransactionCapability), so applying each call atomically is what keeps the store
 * consistent: a half-applied set (new session without its pre-key deletion, say) corrupts
 * the signal state for good.
 *
 * Sealing (auth-sealing.ts): with a sealer every value is stored sealed (AES-256-GCM, key id in
 * the value), bound to the session and field; the field `_sealed` names the key the whole hash
 * was last re-sealed with. Loading with a sealer whose current key differs (a hash from before
 * sealing, or a rotation) re-seals every value first, through the same fenced script, so live
 * sessions survive the upgrade and old keys can be dropped once every session was loaded.
 *
 * Redis Cluster: the script touches the fence and the auth hash, which hash to different slots
 * under this layout; it works on a standalone server or a Sentinel group (what the operator
 * runs), not on a Cluster.
 */

/** The Redis keys of one session's auth state. */
export interface AuthStateKeys {
  /** String: the highest epoch claimed for the session (raised by packages/sessions). */
  fence: string;
  /** Hash: `creds` plus `<type>:<id>` per signal key. */
  auth: string;
}

/** The keys of `sessionId` under `keyPrefix` (e.g. `sb:acme:`); the same as packages/sessions' sessionKeys. */
export function authStateKeys(keyPrefix: string, sessionId: string): AuthStateKeys {
  const base = `${keyPrefix}session:${sessionId}`;
  return { fence: `${base}:fence`, auth: `${base}:auth` };
}

/** Options for {@link createRedisAuthState}. */
export interface RedisAuthStateOptions {
  /** A command connection (not a subscriber); see @switchboard/redis `createRedis({ role: 'command' })`. */
  redis: Redis | Cluster;
  /** The tenant's key prefix, e.g. `sb:acme:`. */
  keyPrefix: string;
  sessionId: string;
  /** The epoch of this owner's claim. */
  epoch: bigint | number;
  /** Called with the error whenever a write is refused as stale (before it is thrown). */
  onStale?: (error: StaleEpochError) => void;
  /**
   * Seals values at rest (AUTH_STATE_KEYS). Without one, values are stored as plaintext
   * BufferJSON, and a sealed hash cannot be loaded.
   */
  sealer?: AuthStateSealer;
  /**
   * Awaited after every write Redis applied, before the write resolves: the worker waits there
   * for replicas (WAIT, @switchboard/sessions' waitForReplicas), so Baileys goes on (sends with
   * the new keys) only once a failover can no longer lose them. A throw fails the write.
   */
  afterWrite?: () => Promise<void>;
}

/** One session's auth state as Baileys takes it, plus the writes the adapter makes itself. */
export interface RedisAuthState {
  /** Pass as `auth` to makeWASocket (wrapped in makeCacheableSignalKeyStore). */
  state: AuthenticationState;
  /** Persists `state.creds`; call on every `creds.update`. */
  saveCreds(): Promise<void>;
  /** Removes the session's auth hash (after a logout); later writes through this instance are dropped. */
  wipe(): Promise<void>;
  /** The Redis keys in use. */
  keys: AuthStateKeys;
  /** The epoch every write carries. */
  epoch: bigint;
  /** Whether creds were found in Redis (false: fresh creds from initAuthCreds, not yet saved). */
  existed: boolean;
}

const CREDS_FIELD = 'creds';
/** Names the key the whole hash was last re-sealed with (never a `<type>:<id>` or `creds`). */
const SEALED_FIELD = '_sealed';
/** Fields re-sealed per fenced write while migrating a hash. */
const RESEAL_BATCH = 500;
/** Arguments unpacked per HSET/HDEL call inside the script: Lua's unpack is limited by the C stack (LUAI_MAXCSTACK 8000). */
const UNPACK_CHUNK = 1000;

// KEYS[1] fence, KEYS[2] auth hash. ARGV[1] epoch, ARGV[2] number of field/value pairs to set,
// then the pairs, then the fields to delete. Returns {'stale', fence} or {'ok'}.
const WRITE_SCRIPT = `
local fence = tonumber(redis.call('GET', KEYS[1]) or '0')
if fence > tonumber(ARGV[1]) then return {'stale', tostring(fence)} end
local npairs = tonumber(ARGV[2])
local last = 2 + 2 * npairs
local i = 3
while i <= last do
  local j = math.min(i + ${UNPACK_CHUNK} * 2 - 1, last)
  redis.call('HSET', KEYS[2], unpack(ARGV, i, j))
  i = j + 1
end
i = last + 1
while i <= #ARGV do
  local j = math.min(i + ${UNPACK_CHUNK} - 1, #ARGV)
  redis.call('HDEL', KEYS[2], unpack(ARGV, i, j))
  i = j + 1
end
return {'ok'}`;

// KEYS[1] fence, KEYS[2] auth hash. ARGV[1] epoch.
const WIPE_SCRIPT = `
local fence = tonumber(redis.call('GET', KEYS[1]) or '0')
if fence > tonumber(ARGV[1]) then return {'stale', tostring(fence)} end
redis.call('DEL', KEYS[2])
return {'ok'}`;

type ScriptResult = [string, string?];
interface AuthCommands {
  switchboardAuthWrite(fence: string, auth: string, ...args: string[]): Promise<ScriptResult>;
  switchboardAuthWipe(fence: string, auth: string, epoch: string): Promise<ScriptResult>;
}

/** Registers the scripts once per client (ioredis then sends EVALSHA, falling back to EVAL). */
function commands(redis: Redis | Cluster): AuthCommands {
  const client = redis as unknown as Partial<AuthCommands> & Redis;
  if (typeof client.switchboardAuthWrite !== 'function') {
    client.defineCommand('switchboardAuthWrite', { numberOfKeys: 2, lua: WRITE_SCRIPT });
  }
  if (typeof client.switchboardAuthWipe !== 'function') {
    client.defineCommand('switchboardAuthWipe', { numberOfKeys: 2, lua: WIPE_SCRIPT });
  }
  return client as unknown as AuthCommands;
}

function serialise(value: unknown): string {
  return JSON.stringify(value, BufferJSON.replacer);
}

function deserialise<T>(text: string): T {
  return JSON.parse(text, BufferJSON.reviver) as T;
}

/** The hash field of one signal key. */
export function keyField(type: keyof SignalDataTypeMap, id: string): string {
  return `${type}:${id}`;
}

/** Reads the session's auth state from Redis (fresh creds when there are none) and returns it with its fenced writers. */
export async function createRedisAuthState(options: RedisAuthStateOptions): Promise<RedisAuthState> {
  const { redis, sessionId } = options;
  const epoch = BigInt(options.epoch);
  const keys = authStateKeys(options.keyPrefix, sessionId);
  const scripts = commands(redis);
  let wiped = false;

  const sealer = options.sealer;
  const contextOf = (field: string) => `${sessionId}/${field}`;
  const encode = (field: string, value: unknown): string =>
    sealer ? sealer.seal(contextOf(field), serialise(value)) : serialise(value);
  const decode = <T>(field: string, text: string): T => {
    if (sealer) return deserialise<T>(sealer.open(contextOf(field), text).plaintext);
    if (isSealed(text))
      throw new AuthStateSealError(
        `session ${sessionId}'s auth state is sealed and no AUTH_STATE_KEYS are set`,
      );
    return deserialise<T>(text);
  };

  const check = (result: ScriptResult, what: string): void => {
    if (result[0] === 'stale') {
      const error = new StaleEpochError(sessionId, epoch, BigInt(result[1] ?? '0'), what);
      options.onStale?.(error);
      throw error;
    }
  };

  const write = async (sets: [string, string][], deletes: string[], what: string): Promise<void> => {
    // After wipe() the state belongs to a device that no longer exists: a late creds.update
    // or key write must not bring the hash back.
    if (wiped) return;
    if (sets.length === 0 && deletes.length === 0) return;
    const args = [epoch.toString(), String(sets.length), ...sets.flat(), ...deletes];
    check(await scripts.switchboardAuthWrite(keys.fence, keys.auth, ...args), what);
    await options.afterWrite?.();
  };

  if (sealer && (await redis.hget(keys.auth, SEALED_FIELD)) !== sealer.currentKeyId) {
    // Plaintext values (written before sealing) and values under an older key are re-sealed
    // with the current key, in fenced batches; the marker goes with the last batch.
    let cursor = '0';
    const pending: [string, string][] = [];
    do {
      const [next, flat] = await redis.hscan(keys.auth, cursor, 'COUNT', RESEAL_BATCH);
      cursor = next;
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const field = flat[i]!;
        if (field === SEALED_FIELD) continue;
        const opened = sealer.open(contextOf(field), flat[i + 1]!);
        if (opened.keyId !== sealer.currentKeyId)
          pending.push([field, sealer.seal(contextOf(field), opened.plaintext)]);
      }
      while (pending.length >= RESEAL_BATCH)
        await write(pending.splice(0, RESEAL_BATCH), [], 'auth-state re-seal');
    } while (cursor !== '0');
    // Only a hash that exists gets the marker: an unpaired session's is made by its first write.
    if (pending.length > 0 || (await redis.exists(keys.auth)) === 1)
      await write([...pending, [SEALED_FIELD, sealer.currentKeyId]], [], 'auth-state re-seal');
  }

  const stored = await redis.hget(keys.auth, CREDS_FIELD);
  const creds: AuthenticationCreds = stored
    ? decode<AuthenticationCreds>(CREDS_FIELD, stored)
    : initAuthCreds();

  const keyStore: SignalKeyStore = {
    async get(type, ids) {
      const result: { [id: string]: SignalDataTypeMap[typeof type] } = {};
      if (ids.length === 0) return result;
      const values = await redis.hmget(keys.auth, ...ids.map((id) => keyField(type, id)));
      ids.forEach((id, index) => {
        const text = values[index];
        if (text === null || text === undefined) return;
        let value: unknown = decode(keyField(type, id), text);
        // Baileys expects the proto class here (it calls its methods), not the plain JSON object.
        if (type === 'app-state-sync-key')
          value = proto.Message.AppStateSyncKeyData.fromObject(value as object);
        result[id] = value as SignalDataTypeMap[typeof type];
      });
      return result;
    },
    async set(data: SignalDataSet) {
      const sets: [string, string][] = [];
      const deletes: string[] = [];
      for (const type of Object.keys(data) as (keyof SignalDataTypeMap)[]) {
        const entries = data[type];
        if (!entries) continue;
        for (const [id, value] of Object.entries(entries)) {
          // null (and undefined) means delete, as in every Baileys key store.
          if (value === null || value === undefined) deletes.push(keyField(type, id));
          else sets.push([keyField(type, id), encode(keyField(type, id), value)]);
        }
      }
      await write(sets, deletes, 'key-store set');
    },
  };

  return {
    state: { creds, keys: keyStore },
    keys,
    epoch,
    existed: stored !== null,
    // Serialised when called, so the writes of a burst of creds.update land in call order
    // (one connection runs its commands in order) and the last one holds the newest creds.
    saveCreds: () => write([[CREDS_FIELD, encode(CREDS_FIELD, creds)]], [], 'creds save'),
    async wipe() {
      if (wiped) return;
      check(await scripts.switchboardAuthWipe(keys.fence, keys.auth, epoch.toString()), 'auth-state wipe');
      wiped = true;
      await options.afterWrite?.();
    },
  };
}

/** Reads the session's fence (0 when never claimed). */
export async function readFence(redis: Redis | Cluster, keys: AuthStateKeys): Promise<bigint> {
  return BigInt((await redis.get(keys.fence)) ?? '0');
}
