import { describe, expect, it } from 'vitest';
import { sealSecret } from './sealed.ts';
import { newSealingKeyEntry, SealingKeyError, SealingKeyring } from './sealing-keys.ts';

const k1 = newSealingKeyEntry('k1');
const k2 = newSealingKeyEntry('k2');
const token = 'internal-token-0123456789abcdef';
const purpose = 'webhook-subscription';

describe('SealingKeyring', () => {
  it('seals with the current key, carries its id, and round-trips without plaintext in the bytes', () => {
    const ring = SealingKeyring.parse(`${k2},${k1}`);
    expect(ring.currentKeyId).toBe('k2');
    expect(ring.keyIds).toEqual(['k2', 'k1']);
    const a = ring.seal('whsec_topsecret', purpose);
    const b = ring.seal('whsec_topsecret', purpose);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
    expect(Buffer.from(a).toString('latin1')).not.toContain('topsecret');
    expect(SealingKeyring.keyIdOf(a)).toBe('k2');
    expect(ring.open(a, purpose)).toBe('whsec_topsecret');
  });

  it('opens values of every key of the ring during a rotation, and re-seals them with the current key', () => {
    const old = SealingKeyring.parse(k1).seal('whsec_old', purpose);
    const rotating = SealingKeyring.parse(`${k2},${k1}`);
    expect(rotating.open(old, purpose)).toBe('whsec_old');
    expect(rotating.needsReseal(old)).toBe(true);
    const resealed = rotating.reseal(old, purpose);
    expect(rotating.needsReseal(resealed)).toBe(false);
    // After the old key is dropped, the re-sealed value opens; the old one is refused by id.
    const rotated = SealingKeyring.parse(k2);
    expect(rotated.open(resealed, purpose)).toBe('whsec_old');
    expect(() => rotated.open(old, purpose)).toThrow('key id "k1", which SEALING_KEYS does not hold');
  });

  it('opens values INTERNAL_TOKEN sealed before the keyring, only with it given, and marks them for re-seal', () => {
    const legacy = sealSecret('whsec_legacy', token, purpose);
    expect(SealingKeyring.keyIdOf(legacy)).toBeNull();
    const ring = SealingKeyring.parse(k1, { legacyKeyMaterial: token });
    expect(ring.open(legacy, purpose)).toBe('whsec_legacy');
    expect(ring.needsReseal(legacy)).toBe(true);
    const resealed = ring.reseal(legacy, purpose);
    expect(SealingKeyring.parse(k1).open(resealed, purpose)).toBe('whsec_legacy');
    expect(() => SealingKeyring.parse(k1).open(legacy, purpose)).toThrow('no INTERNAL_TOKEN is configured');
    expect(() => SealingKeyring.parse(k1, { legacyKeyMaterial: `${token}x` }).open(legacy, purpose)).toThrow(
      'does not open with the configured INTERNAL_TOKEN',
    );
  });

  it('refuses another purpose, tampered bytes, and a value passed off as another key', () => {
    const ring = SealingKeyring.parse(`${k2},${k1}`);
    const sealed = ring.seal('whsec_topsecret', purpose);
    expect(() => ring.open(sealed, 'other')).toThrow('does not open with key k2');
    const tampered = Buffer.from(sealed);
    tampered[tampered.length - 20]! ^= 1;
    expect(() => ring.open(tampered, purpose)).toThrow('does not open');
    // Same length id, relabelled: the id is authenticated data.
    const relabelled = Buffer.from(sealed);
    relabelled.write('k1', 2, 'ascii');
    expect(() => ring.open(relabelled, purpose)).toThrow('does not open with key k1');
    expect(() => ring.open(new Uint8Array([3, 0, 0]), purpose)).toThrow('not a sealed value');
    expect(() => ring.open(new Uint8Array([2, 40, 0]), purpose)).toThrow('not a sealed value');
  });

  it('refuses bad configuration without echoing key material', () => {
    const bad = (text: string) => {
      try {
        SealingKeyring.parse(text);
      } catch (error) {
        expect(error).toBeInstanceOf(SealingKeyError);
        return (error as Error).message;
      }
      throw new Error(`accepted ${text}`);
    };
    expect(bad('')).toBe('at least one sealing key is needed');
    expect(bad('nokey')).toContain('entry 1 is not <id>:<base64 key>');
    expect(bad('k1:c2hvcnQ=')).toBe('sealing key k1 must be base64 of exactly 32 bytes');
    expect(bad(`${k1},${k1}`)).toBe('sealing key id k1 is given twice');
    expect(bad(`bad id:${k1.slice(3)}`)).toContain('must be 1-32 of');
    expect(bad(`k1:${'A'.repeat(43)}!`)).not.toContain('AAAA');
  });
});
