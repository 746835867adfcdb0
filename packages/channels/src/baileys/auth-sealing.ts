import { openSealedSecret, sealSecret } from '@switchboard/secrets';

/**
 * Sealing of the Baileys auth state at rest. The auth hash holds the WhatsApp account's keys
 * (identity key, signal sessions, app-state keys): anyone who reads it can impersonate the
 * linked device. Every value is sealed with AES-256-GCM (@switchboard/secrets' sealSecret: a key
 * derived with HKDF-SHA256 from the configured key, a random nonce, the tag checked on open),
 * bound to its session and hash field, so a value copied to another field or session does not
 * open. The key id travels in each value, so keys rotate: writes use the current key, reads
 * accept every configured key, and a session's hash is re-sealed under the current key when it
 * is loaded (auth-state.ts).
 *
 * Stored form: `sb1:<key id>:<base64 of the sealed bytes>`. A value without the `sb1:` prefix is
 * the plaintext BufferJSON written before sealing existed: it is read as it is and re-sealed.
 */

const PREFIX = 'sb1:';
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
const PURPOSE = 'baileys-auth-state';

/** One sealing key: an id that names it in stored values, and 32 random bytes as base64. */
export interface AuthStateKey {
  id: string;
  /** Base64 (standard or URL-safe) of exactly 32 bytes. */
  key: string;
}

/** A value read from the auth hash. */
export interface OpenedValue {
  plaintext: string;
  /** The key id it was sealed with; null for a plaintext value written before sealing. */
  keyId: string | null;
}

/** A configuration or stored-value problem; never carries key material or plaintext. */
export class AuthStateSealError extends Error {
  override readonly name = 'AuthStateSealError';
}

/** Seals and opens auth-state values with the current key; opens with any configured key. */
export class AuthStateSealer {
  readonly #keys: Map<string, string>;
  /** The id of the key new writes use (the first configured). */
  readonly currentKeyId: string;

  constructor(keys: readonly AuthStateKey[]) {
    if (keys.length === 0) throw new AuthStateSealError('at least one auth-state key is needed');
    this.#keys = new Map();
    for (const { id, key } of keys) {
      if (!KEY_ID.test(id))
        throw new AuthStateSealError(`auth-state key id "${id.slice(0, 40)}" must be 1-32 of [A-Za-z0-9_-]`);
      if (this.#keys.has(id)) throw new AuthStateSealError(`auth-state key id ${id} is given twice`);
      const bytes = Buffer.from(key, 'base64');
      if (bytes.length !== 32 || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(key))
        throw new AuthStateSealError(`auth-state key ${id} must be base64 of exactly 32 bytes`);
      this.#keys.set(id, key);
    }
    this.currentKeyId = keys[0]!.id;
  }

  /**
   * Parses `AUTH_STATE_KEYS`: `<id>:<base64 32 bytes>` entries separated by commas, the current
   * key first, then the previous ones still accepted on read (e.g. `k2:AAAA...,k1:BBBB...`).
   */
  static parse(text: string): AuthStateSealer {
    const keys = text
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean)
      .map((entry, index): AuthStateKey => {
        const colon = entry.indexOf(':');
        if (colon <= 0) throw new AuthStateSealError(`entry ${index + 1} is not <id>:<base64 key>`);
        return { id: entry.slice(0, colon), key: entry.slice(colon + 1) };
      });
    return new AuthStateSealer(keys);
  }

  /** Seals `plaintext` for `context` (the session and field it is stored under) with the current key. */
  seal(context: string, plaintext: string): string {
    const key = this.#keys.get(this.currentKeyId)!;
    const sealed = sealSecret(plaintext, key, `${PURPOSE}\n${context}`);
    return `${PREFIX}${this.currentKeyId}:${Buffer.from(sealed).toString('base64')}`;
  }

  /** Opens a stored value (a plaintext one comes back as it is, with `keyId: null`). */
  open(context: string, stored: string): OpenedValue {
    return openStored(context, stored, this.#keys);
  }
}

/** True when `stored` is a sealed value (and so cannot be read without a key). */
export function isSealed(stored: string): boolean {
  return stored.startsWith(PREFIX);
}

function openStored(context: string, stored: string, keys: ReadonlyMap<string, string>): OpenedValue {
  if (!isSealed(stored)) return { plaintext: stored, keyId: null };
  const rest = stored.slice(PREFIX.length);
  const colon = rest.indexOf(':');
  const keyId = colon > 0 ? rest.slice(0, colon) : '';
  const key = keys.get(keyId);
  if (!key)
    throw new AuthStateSealError(
      `auth-state value sealed with key id "${keyId.slice(0, 32)}", which AUTH_STATE_KEYS does not hold`,
    );
  try {
    return {
      plaintext: openSealedSecret(
        Buffer.from(rest.slice(colon + 1), 'base64'),
        key,
        `${PURPOSE}\n${context}`,
      ),
      keyId,
    };
  } catch {
    throw new AuthStateSealError(
      `auth-state value does not open with key ${keyId} (altered, or moved from another field or session)`,
    );
  }
}
