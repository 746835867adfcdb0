import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

/**
 * Password hashing with node:crypto's scrypt (RFC 7914): built into Node, no native add-on to
 * build, and stable. node:crypto.argon2 exists in Node 24 but is still marked experimental
 * (stability 1), so it is not what account security should rest on yet.
 *
 * Parameters follow OWASP's scrypt guidance (N=2^17, r=8, p=1 is the top row; N=2^15 with r=8
 * costs 32 MiB and ~50-100 ms on one core, which we pick as the interactive-login budget). The
 * stored string carries its parameters (`scrypt$N$r$p$salt$hash`), so raising them later only
 * needs `needsRehash` to be true at the next successful login.
 */

const scryptAsync = promisify(scrypt) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;

/** scrypt cost parameters. */
export interface ScryptParameters {
  /** CPU/memory cost, a power of two. */
  N: number;
  /** Block size. */
  r: number;
  /** Parallelism. */
  p: number;
}

/** What new hashes use. */
export const DEFAULT_SCRYPT_PARAMETERS: ScryptParameters = { N: 2 ** 15, r: 8, p: 1 };

const KEY_LENGTH = 32;
const SALT_LENGTH = 16;

function maxmem({ N, r, p }: ScryptParameters): number {
  // scrypt needs 128 * N * r bytes (+ p * 128 * r); leave headroom above Node's 32 MiB default.
  return 128 * N * r + 128 * r * p + 16 * 1024 * 1024;
}

/** Hashes `password` into the self-describing `scrypt$N$r$p$salt$hash` form. */
export async function hashPassword(
  password: string,
  parameters: ScryptParameters = DEFAULT_SCRYPT_PARAMETERS,
): Promise<string> {
  const salt = randomBytes(SALT_LENGTH);
  const key = await scryptAsync(password.normalize('NFKC'), salt, KEY_LENGTH, {
    ...parameters,
    maxmem: maxmem(parameters),
  });
  const { N, r, p } = parameters;
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

function parse(stored: string): { parameters: ScryptParameters; salt: Buffer; key: Buffer } | undefined {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  if (![N, r, p].every((n) => Number.isInteger(n) && n > 0)) return undefined;
  return {
    parameters: { N, r, p },
    salt: Buffer.from(parts[4]!, 'base64url'),
    key: Buffer.from(parts[5]!, 'base64url'),
  };
}

/** True when `password` matches `stored`; compares in constant time. A malformed hash never matches. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parse(stored);
  if (!parsed) return false;
  const key = await scryptAsync(password.normalize('NFKC'), parsed.salt, parsed.key.length, {
    ...parsed.parameters,
    maxmem: maxmem(parsed.parameters),
  });
  return key.length === parsed.key.length && timingSafeEqual(key, parsed.key);
}

/** True when `stored` was made with other parameters than `current` (rehash after a good login). */
export function needsRehash(stored: string, current: ScryptParameters = DEFAULT_SCRYPT_PARAMETERS): boolean {
  const parsed = parse(stored);
  if (!parsed) return true;
  const { N, r, p } = parsed.parameters;
  return N !== current.N || r !== current.r || p !== current.p || parsed.key.length !== KEY_LENGTH;
}
