import { randomUUID } from 'node:crypto';
import { createDb, type Db, withTenant } from '@switchboard/db';
import type { TestDatabase } from '@switchboard/testing';

/** Test-only: a tenant with `count` sessions in a test database, through the application role (RLS). */
export async function seedTenant(
  database: TestDatabase,
  count: number,
): Promise<{ db: Db; tenantId: string; sessionIds: string[] }> {
  const db = createDb({ databaseUrl: database.appUrl, maxConnections: 5 });
  const tenantId = randomUUID();
  const sessionIds = await withTenant(db, tenantId, async (tx) => {
    await tx.tenant.create({
      data: { id: tenantId, slug: `t-${tenantId.slice(0, 8)}`, displayName: 'Test' },
    });
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const session = await tx.session.create({ data: { tenantId, name: `s${i}`, channel: 'baileys' } });
      ids.push(session.id);
    }
    return ids;
  });
  return { db, tenantId, sessionIds };
}
