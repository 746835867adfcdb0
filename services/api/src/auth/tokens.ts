import { createHash, randomBytes } from 'node:crypto';

/**
 * Opaque credentials (refresh tokens, reset tokens, API keys) are `<tenant slug>.<secret>` or
 * `<prefix>.<secret>`: the part before the dot says which tenant's database to look in (the
 * tenant always comes from the credential, and row-level security shows nothing before the
 * tenant is known); only a SHA-256 hash of the whole string is stored. One hashing function for
 * every kind, so there are never two ways to hash the same thing.
 */

/** SHA-256 hex of a credential: how every opaque credential is stored. */
export function hashCredential(credential: string): string {
  return createHash('sha256').update(credential, 'utf8').digest('hex');
}

/** A new random secret (32 bytes, base64url). */
export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

const SLUG = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** A new `<slug>.<secret>` token and its stored hash. */
export function newTenantToken(slug: string): { token: string; hash: string } {
  const token = `${slug}.${randomSecret()}`;
  return { token, hash: hashCredential(token) };
}

/** The tenant slug a `<slug>.<secret>` token names, or undefined when it is not of that form. */
export function tenantSlugOfToken(token: string): string | undefined {
  const dot = token.indexOf('.');
  if (dot <= 0) return undefined;
  const slug = token.slice(0, dot);
  return SLUG.test(slug) && token.length > dot + 1 ? slug : undefined;
}

/** API key prefixes: `sbk_<slug>_<8 hex>`; the slug says where the key's row is. */
export function newApiKey(slug: string): { prefix: string; key: string; hash: string } {
  const prefix = `sbk_${slug}_${randomBytes(4).toString('hex')}`;
  const key = `${prefix}.${randomSecret()}`;
  return { prefix, key, hash: hashCredential(key) };
}

/** Splits an API key into its prefix and tenant slug, or undefined when it is not one. */
export function parseApiKey(key: string): { prefix: string; slug: string } | undefined {
  const match = /^(sbk_([a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?)_[0-9a-f]{8})\.[A-Za-z0-9_-]{20,}$/.exec(key);
  return match ? { prefix: match[1]!, slug: match[2]! } : undefined;
}
