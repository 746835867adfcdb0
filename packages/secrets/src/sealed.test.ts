import { describe, expect, it } from 'vitest';
import { openSealedSecret, sealSecret } from './sealed.ts';

const material = 'internal-token-0123456789abcdef';

describe('sealed secrets', () => {
  it('round-trips, with a fresh nonce each time and no plaintext in the bytes', () => {
    const a = sealSecret('whsec_topsecret', material, 'webhook-subscription');
    const b = sealSecret('whsec_topsecret', material, 'webhook-subscription');
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
    expect(Buffer.from(a).toString('latin1')).not.toContain('topsecret');
    expect(openSealedSecret(a, material, 'webhook-subscription')).toBe('whsec_topsecret');
  });

  it('refuses another key, another purpose, and tampered bytes', () => {
    const sealed = sealSecret('whsec_topsecret', material, 'webhook-subscription');
    expect(() => openSealedSecret(sealed, `${material}x`, 'webhook-subscription')).toThrow('does not open');
    expect(() => openSealedSecret(sealed, material, 'other')).toThrow('does not open');
    const tampered = Buffer.from(sealed);
    tampered[20]! ^= 1;
    expect(() => openSealedSecret(tampered, material, 'webhook-subscription')).toThrow('does not open');
    expect(() => openSealedSecret(new Uint8Array([2, 0, 0]), material, 'x')).toThrow('not a sealed secret');
    expect(() => sealSecret('x', 'short', 'x')).toThrow('at least 16');
  });
});
