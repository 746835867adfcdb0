import { createHash } from 'node:crypto';
import { createTestDatabase } from '@switchboard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db, withTenant } from './client.ts';
import { DbInputError } from './errors.ts';
import { ensureTenant, TENANT_ID_NAMESPACE, tenantIdForSlug, tenantIdForSlugIn } from './tenant.ts';

describe('tenantIdForSlug', () => {
  it('is a version 5 UUID: SHA-1 of the namespace bytes and the slug, as RFC 9562 defines it', () => {
    const id = tenantIdForSlug('acme');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    // Recomputed independently from the definition: the first 16 bytes of the hash, with the
    // version nibble and the variant bits overwritten.
    const hash = createHash('sha1')
      .update(
        Buffer.concat([Buffer.from(TENANT_ID_NAMESPACE.replaceAll('-', ''), 'hex'), Buffer.from('acme')]),
      )
      .digest('hex');
    const digits = id.replaceAll('-', '');
    expect(digits.slice(0, 12)).toBe(hash.slice(0, 12));
    expect(digits.slice(13, 16)).toBe(hash.slice(13, 16));
    expect(digits.slice(18)).toBe(hash.slice(18, 32));
  });

  it('matches the RFC 9562 test vector for the DNS namespace, so the construction itself is right', () => {
    // RFC 9562 appendix A.4: UUIDv5 of "www.example.com" in the DNS namespace.
    expect(tenantIdForSlugIn('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'www.example.com')).toBe(
      '2ed6657d-e927-568b-95e1-2665a8aea6a2',
    );
  });

  it('is stable and differs between slugs', () => {
    expect(tenantIdForSlug('acme')).toBe(tenantIdForSlug('acme'));
    expect(tenantIdForSlug('acme')).not.toBe(tenantIdForSlug('globex'));
  });

  it.each(['', 'Acme', 'acme_co', '-acme', 'acme-', 'a'.repeat(64), 'acme.io'])(
    'refuses %j, naming the slug',
    (slug) => {
      expect(() => tenantIdForSlug(slug)).toThrow(DbInputError);
      expect(() => tenantIdForSlug(slug)).toThrow(/^slug must be a DNS-1123 label/);
    },
  );
});

describe('ensureTenant (real Postgres, as the application role)', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let db: Db;

  beforeAll(async () => {
    database = await createTestDatabase({ label: 'tenant' });
    db = createDb({ databaseUrl: database.appUrl, maxConnections: 4 });
  });
  afterAll(async () => {
    await db?.$disconnect();
    await database?.drop();
  });

  it('creates the row once even when many replicas start together, and keeps the display name current', async () => {
    const ids = await Promise.all(
      Array.from({ length: 8 }, () => ensureTenant(db, { slug: 'initech', displayName: 'Initech' })),
    );
    expect(new Set(ids)).toEqual(new Set([tenantIdForSlug('initech')]));
    await ensureTenant(db, { slug: 'initech', displayName: 'Initech Ltd' });
    const rows = await withTenant(db, ids[0]!, (tx) => tx.tenant.findMany());
    expect(rows).toMatchObject([{ id: ids[0], slug: 'initech', displayName: 'Initech Ltd' }]);
  });

  it('refuses an empty display name before touching the database', async () => {
    await expect(ensureTenant(db, { slug: 'hooli', displayName: ' ' })).rejects.toThrow(
      /^displayName must be a non-empty name/,
    );
    expect(await withTenant(db, tenantIdForSlug('hooli'), (tx) => tx.tenant.count())).toBe(0);
  });
});
