import { createHash } from 'node:crypto';
import type { Db } from './client.ts';
import { withTenant } from './client.ts';
import { DbInputError } from './errors.ts';

/**
 * A tenant's id is derived from its slug (the WhatsAppTenant's metadata.name), so every service
 * of the stack knows it from configuration alone: the API and the workers both read
 * SWITCHBOARD_TENANT and compute the same id, with nothing to look up first. A lookup by slug
 * could not work anyway: row-level security shows the application role only the tenant row
 * whose id is already set for the transaction.
 *
 * The id is a name-based UUID (RFC 9562 version 5: SHA-1 of a namespace and the name) in a
 * namespace of our own, so it looks like every other id and never collides with a random one.
 */

/** Switchboard's UUID namespace for tenant slugs (a fixed random UUID; never change it). */
export const TENANT_ID_NAMESPACE = '5b0f6c43-8f5e-4d0e-9a63-2f2d8c1e7a41';

// A DNS-1123 label, as Kubernetes object names are: what a WhatsAppTenant may be called.
const SLUG = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Throws DbInputError unless `slug` is a valid tenant slug (a DNS-1123 label). */
export function assertTenantSlug(slug: string): void {
  if (!SLUG.test(slug)) {
    throw new DbInputError(
      'slug',
      "a DNS-1123 label (lower-case letters, digits and '-', at most 63 characters)",
      slug,
    );
  }
}

// Ids already derived in this process (every request derives its tenant's): a process serves a
// handful of tenants, so the map is cleared rather than ordered when it ever fills.
const derived = new Map<string, string>();
const MAX_DERIVED = 1_000;

/** The tenant id of `slug`: the same on every call, in every process. */
export function tenantIdForSlug(slug: string): string {
  const known = derived.get(slug);
  if (known) return known;
  assertTenantSlug(slug);
  const id = tenantIdForSlugIn(TENANT_ID_NAMESPACE, slug);
  if (derived.size >= MAX_DERIVED) derived.clear();
  derived.set(slug, id);
  return id;
}

/** The version 5 UUID of `name` in `namespace` (exported for the RFC test vector). */
export function tenantIdForSlugIn(namespace: string, name: string): string {
  const namespaceBytes = Buffer.from(namespace.replaceAll('-', ''), 'hex');
  const hash = createHash('sha1').update(namespaceBytes).update(name, 'utf8').digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50; // version 5
  bytes[8] = (bytes[8]! & 0x3f) | 0x80; // RFC variant
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** What identifies a tenant's row. */
export interface TenantIdentity {
  slug: string;
  displayName: string;
}

/**
 * Creates the tenant's row if it is missing and keeps its display name current; returns the id.
 * Idempotent and safe to run from every replica at once (INSERT ... ON CONFLICT). The API and
 * the workers call it at start, so a fresh database needs no seeding step.
 */
export async function ensureTenant(db: Db, identity: TenantIdentity): Promise<string> {
  const id = tenantIdForSlug(identity.slug);
  if (identity.displayName.trim() === '') {
    throw new DbInputError('displayName', 'a non-empty name', identity.displayName);
  }
  const upsert = () =>
    withTenant(
      db,
      id,
      (tx) =>
        tx.$executeRaw`INSERT INTO tenants (id, slug, display_name) VALUES (${id}::uuid, ${identity.slug}, ${identity.displayName})
        ON CONFLICT (id) DO UPDATE SET display_name = EXCLUDED.display_name, updated_at = now()
        WHERE tenants.display_name IS DISTINCT FROM EXCLUDED.display_name`,
    );
  try {
    await upsert();
  } catch (error) {
    // ON CONFLICT covers its arbiter (id) only: a replica inserting the same row at the same
    // moment can make this one's insert hit the slug's unique index first (23505). That row is
    // committed now, so the second try takes the id's conflict path.
    if (!isUniqueViolation(error)) throw error;
    await upsert();
  }
  return id;
}

/** Whether `error` is Postgres' unique_violation (23505) as a raw Prisma statement reports it. */
function isUniqueViolation(error: unknown): boolean {
  const meta = (error as { meta?: { code?: unknown; driverAdapterError?: unknown } }).meta;
  return meta?.code === '23505' || /\b23505\b/.test(String((error as Error)?.message ?? ''));
}
