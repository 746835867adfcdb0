import { describe, expect, it } from 'vitest';
import { configHash, configHashAnnotation, stableStringify } from './config-hash.ts';

describe('configHash', () => {
  it('does not depend on key order at any depth', () => {
    expect(configHash({ a: 1, b: { c: 2, d: [1, { e: 3, f: 4 }] } })).toBe(
      configHash({ b: { d: [1, { f: 4, e: 3 }], c: 2 }, a: 1 }),
    );
  });

  it('changes with any value, and with array order', () => {
    const base = configHash({ a: '1', list: [1, 2] });
    expect(configHash({ a: '2', list: [1, 2] })).not.toBe(base);
    expect(configHash({ a: '1', list: [2, 1] })).not.toBe(base);
    expect(configHash({ a: '1', list: [1, 2], b: null })).not.toBe(base);
  });

  it('ignores undefined fields, as JSON does', () => {
    expect(configHash({ a: 1, b: undefined })).toBe(configHash({ a: 1 }));
    expect(stableStringify({ b: undefined, a: [undefined] })).toBe('{"a":[null]}');
  });

  it('is 16 hex digits under the switchboard.dev/config-hash annotation', () => {
    expect(configHash({})).toMatch(/^[0-9a-f]{16}$/);
    expect(Object.keys(configHashAnnotation({}))).toEqual(['switchboard.dev/config-hash']);
  });
});
