import { describe, expect, it } from 'vitest';
import { hashPassword, needsRehash, verifyPassword } from './passwords.ts';

const FAST = { N: 1024, r: 8, p: 1 };

describe('passwords', () => {
  it('verifies the right password and refuses a wrong one', async () => {
    const hash = await hashPassword('hunter2 hunter2', FAST);
    expect(hash).toMatch(/^scrypt\$1024\$8\$1\$[\w-]+\$[\w-]+$/);
    expect(await verifyPassword('hunter2 hunter2', hash)).toBe(true);
    expect(await verifyPassword('hunter2 hunter3', hash)).toBe(false);
  });

  it('salts: the same password hashes differently each time', async () => {
    expect(await hashPassword('same', FAST)).not.toBe(await hashPassword('same', FAST));
  });

  it('never matches a malformed stored hash', async () => {
    for (const stored of ['', 'plain', 'scrypt$x$8$1$a$b', 'bcrypt$2$8$1$a$b']) {
      expect(await verifyPassword('plain', stored)).toBe(false);
    }
  });

  it('asks for a rehash when the parameters changed', async () => {
    const hash = await hashPassword('pw', FAST);
    expect(needsRehash(hash, FAST)).toBe(false);
    expect(needsRehash(hash, { ...FAST, N: 2048 })).toBe(true);
    expect(needsRehash('garbage', FAST)).toBe(true);
  });
});
