import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM sealing under a key derived (HKDF-SHA256) from caller-given key material.
 * Layout: version byte (1) | 12-byte nonce | ciphertext | 16-byte tag. `purpose` separates keys
 * (a secret sealed for one purpose does not open for another).
 *
 * Used with key ids kept by the caller (the Baileys auth state, AUTH_STATE_KEYS). Secrets stored
 * in the database are sealed with the SEALING_KEYS keyring (sealing-keys.ts); webhook secrets
 * sealed before it existed are this version 1 keyed by the tenant's INTERNAL_TOKEN, which the
 * keyring still opens (its `legacyKeyMaterial`) until they are re-sealed.
 */

const VERSION = 1;

function key(keyMaterial: string, purpose: string): Buffer {
  if (keyMaterial.length < 16) throw new Error('sealing key material must be at least 16 characters');
  return Buffer.from(hkdfSync('sha256', keyMaterial, 'switchboard-sealed-secret', purpose, 32));
}

/** Seals `plaintext` for `purpose` (e.g. `webhook-subscription`). */
export function sealSecret(plaintext: string, keyMaterial: string, purpose: string): Uint8Array {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key(keyMaterial, purpose), nonce);
  cipher.setAAD(Buffer.from(purpose));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([Buffer.from([VERSION]), nonce, body, cipher.getAuthTag()]);
}

/** Opens what sealSecret made; throws (without any of the content) when the key, purpose or bytes are wrong. */
export function openSealedSecret(sealed: Uint8Array, keyMaterial: string, purpose: string): string {
  const bytes = Buffer.from(sealed);
  if (bytes.length < 1 + 12 + 16 || bytes[0] !== VERSION) throw new Error('not a sealed secret (version 1)');
  const decipher = createDecipheriv('aes-256-gcm', key(keyMaterial, purpose), bytes.subarray(1, 13));
  decipher.setAAD(Buffer.from(purpose));
  decipher.setAuthTag(bytes.subarray(bytes.length - 16));
  try {
    return Buffer.concat([decipher.update(bytes.subarray(13, bytes.length - 16)), decipher.final()]).toString(
      'utf8',
    );
  } catch {
    throw new Error('sealed secret does not open with this key and purpose');
  }
}
