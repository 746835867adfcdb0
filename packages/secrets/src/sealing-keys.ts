import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { openSealedSecret } from './sealed.ts';

/**
 * The sealing keyring (SEALING_KEYS): the keys that seal secrets the application stores in its
 * own database (a webhook subscription's signing secret), separate from any bearer token.
 *
 * Text form: `<id>:<base64 of 32 bytes>` entries separated by commas, the current key first,
 * then the previous ones still accepted on read (`k2:AAAA...,k1:BBBB...`). New values are sealed
 * with the current key and carry its id, so a rotation is: put a new key in front, let every
 * reader have it, re-seal what the old key sealed (`needsReseal` / `reseal`), then drop the old
 * key.
 *
 * Stored form (version 2): `0x02 | id length (1 byte) | id (ASCII) | 12-byte nonce | AES-256-GCM
 * ciphertext | 16-byte tag`. The AES key is HKDF-SHA256 of the key's 32 bytes with the purpose as
 * info; the purpose and the key id are the additional data, so a value neither opens for another
 * purpose nor passes as sealed by another key.
 *
 * Migration: values sealed before the keyring existed (version 1, `sealSecret` keyed by the
 * tenant's INTERNAL_TOKEN) open with the `legacyKeyMaterial` given to the keyring, and
 * `needsReseal` is true for them, so the re-seal moves them onto the current key. Once nothing of
 * version 1 is left, INTERNAL_TOKEN is no longer needed to read anything.
 */

const VERSION = 2;
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** A keyring configuration or stored-value problem; never carries key material or plaintext. */
export class SealingKeyError extends Error {
  override readonly name = 'SealingKeyError';
}

/** One key of the ring: the id stored with each value it seals, and its 32 bytes. */
export interface SealingKey {
  id: string;
  /** Base64 (standard or URL-safe) of exactly 32 bytes. */
  key: string;
}

/** Options for {@link SealingKeyring}. */
export interface SealingKeyringOptions {
  /**
   * Opens version-1 values (sealed with `sealSecret` before the keyring existed): the tenant's
   * INTERNAL_TOKEN. Never used to seal.
   */
  legacyKeyMaterial?: string | undefined;
}

function keyBytes(id: string, key: string): Buffer {
  const bytes = Buffer.from(key, 'base64');
  if (bytes.length !== 32 || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(key))
    throw new SealingKeyError(`sealing key ${id} must be base64 of exactly 32 bytes`);
  return bytes;
}

function aad(purpose: string, id: string): Buffer {
  return Buffer.from(`${purpose}\n${id}`, 'utf8');
}

/** Seals with the current key, opens with any key of the ring (and legacy version-1 values). */
export class SealingKeyring {
  readonly #keys = new Map<string, Buffer>();
  readonly #legacy: string | undefined;
  /** The id of the key new values are sealed with (the first configured). */
  readonly currentKeyId: string;

  constructor(keys: readonly SealingKey[], options: SealingKeyringOptions = {}) {
    if (keys.length === 0) throw new SealingKeyError('at least one sealing key is needed');
    for (const { id, key } of keys) {
      if (!KEY_ID.test(id))
        throw new SealingKeyError(`sealing key id "${id.slice(0, 40)}" must be 1-32 of [A-Za-z0-9_-]`);
      if (this.#keys.has(id)) throw new SealingKeyError(`sealing key id ${id} is given twice`);
      this.#keys.set(id, keyBytes(id, key));
    }
    this.currentKeyId = keys[0]!.id;
    this.#legacy = options.legacyKeyMaterial;
  }

  /** Parses SEALING_KEYS (`k2:<base64>,k1:<base64>`, current first); see the module comment. */
  static parse(text: string, options: SealingKeyringOptions = {}): SealingKeyring {
    const keys = text
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean)
      .map((entry, index): SealingKey => {
        const colon = entry.indexOf(':');
        if (colon <= 0) throw new SealingKeyError(`SEALING_KEYS entry ${index + 1} is not <id>:<base64 key>`);
        return { id: entry.slice(0, colon), key: entry.slice(colon + 1) };
      });
    return new SealingKeyring(keys, options);
  }

  /** The ids of the keys it opens with, current first. */
  get keyIds(): string[] {
    return [...this.#keys.keys()];
  }

  /** Seals `plaintext` for `purpose` (e.g. `webhook-subscription`) with the current key. */
  seal(plaintext: string, purpose: string): Uint8Array {
    const id = this.currentKeyId;
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#derive(id, purpose), nonce);
    cipher.setAAD(aad(purpose, id));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return Buffer.concat([
      Buffer.from([VERSION, id.length]),
      Buffer.from(id, 'ascii'),
      nonce,
      body,
      cipher.getAuthTag(),
    ]);
  }

  /**
   * The key id a stored value names (`null` for a version-1 value sealed by the legacy key
   * material); throws on bytes that are not a sealed value.
   */
  static keyIdOf(sealed: Uint8Array): string | null {
    const bytes = Buffer.from(sealed);
    if (bytes[0] === 1) return null;
    if (bytes[0] !== VERSION || bytes.length < 2) throw new SealingKeyError('not a sealed value');
    const length = bytes[1]!;
    if (bytes.length < 2 + length + NONCE_BYTES + TAG_BYTES) throw new SealingKeyError('not a sealed value');
    return bytes.subarray(2, 2 + length).toString('ascii');
  }

  /** Opens a sealed value; throws (without any of the content) when no key of the ring opens it. */
  open(sealed: Uint8Array, purpose: string): string {
    const id = SealingKeyring.keyIdOf(sealed);
    if (id === null) {
      if (this.#legacy === undefined)
        throw new SealingKeyError(
          'value sealed by INTERNAL_TOKEN (before SEALING_KEYS), and no INTERNAL_TOKEN is configured to open it',
        );
      try {
        return openSealedSecret(sealed, this.#legacy, purpose);
      } catch {
        throw new SealingKeyError(
          'value sealed by INTERNAL_TOKEN does not open with the configured INTERNAL_TOKEN',
        );
      }
    }
    if (!this.#keys.has(id))
      throw new SealingKeyError(
        `value sealed with key id "${id.slice(0, 32)}", which SEALING_KEYS does not hold`,
      );
    const bytes = Buffer.from(sealed);
    const start = 2 + id.length;
    const decipher = createDecipheriv(
      'aes-256-gcm',
      this.#derive(id, purpose),
      bytes.subarray(start, start + NONCE_BYTES),
    );
    decipher.setAAD(aad(purpose, id));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    try {
      return Buffer.concat([
        decipher.update(bytes.subarray(start + NONCE_BYTES, bytes.length - TAG_BYTES)),
        decipher.final(),
      ]).toString('utf8');
    } catch {
      throw new SealingKeyError(
        `value does not open with key ${id} for this purpose (altered, or another purpose)`,
      );
    }
  }

  /** True when `sealed` is not sealed with the current key (an older key, or INTERNAL_TOKEN). */
  needsReseal(sealed: Uint8Array): boolean {
    return SealingKeyring.keyIdOf(sealed) !== this.currentKeyId;
  }

  /** Opens `sealed` and seals it again with the current key. */
  reseal(sealed: Uint8Array, purpose: string): Uint8Array {
    return this.seal(this.open(sealed, purpose), purpose);
  }

  #derive(id: string, purpose: string): Buffer {
    const bytes = this.#keys.get(id)!;
    return Buffer.from(hkdfSync('sha256', bytes, 'switchboard-sealing-key', purpose, 32));
  }
}

/** A new random key entry, `<id>:<base64 of 32 bytes>`, as SEALING_KEYS holds it. */
export function newSealingKeyEntry(id: string): string {
  if (!KEY_ID.test(id))
    throw new SealingKeyError(`sealing key id "${id.slice(0, 40)}" must be 1-32 of [A-Za-z0-9_-]`);
  return `${id}:${randomBytes(32).toString('base64')}`;
}
