/**
 * Seeds an owner in a deployed tenant's database, for the e2e run only: a tenant made with
 * kubectl has no way to create its first user yet (issue 15, "The first owner of a deployed
 * tenant"). The database is the tenant's managed one, reached from the host like the pods reach it.
 *
 *   node test/e2e/seed-owner.ts <appUrl> <tenant slug> <email> <password>
 */
import { createDb, ensureTenant, withTenant } from '@switchboard/db';
import { hashPassword } from '@switchboard/passwords';

const [databaseUrl, slug, email, password] = process.argv.slice(2);
if (!databaseUrl || !slug || !email || !password) {
  console.error('usage: seed-owner.ts <appUrl> <tenant slug> <email> <password>');
  process.exit(2);
}
const db = createDb({ databaseUrl, applicationName: 'switchboard-e2e', maxConnections: 1 });
try {
  const tenantId = await ensureTenant(db, { slug, displayName: slug });
  const passwordHash = await hashPassword(password);
  await withTenant(db, tenantId, async (tx) => {
    const user = await tx.user.upsert({
      where: { tenantId_email: { tenantId, email } },
      create: { tenantId, email, displayName: 'E2E owner', passwordHash },
      update: { passwordHash, disabledAt: null },
    });
    await tx.membership.upsert({
      where: { tenantId_userId: { tenantId, userId: user.id } },
      create: { tenantId, userId: user.id, role: 'owner' },
      update: { role: 'owner' },
    });
  });
} finally {
  await db.$disconnect();
}
