import { type DeclaredSession, DeclaredSessionsError, readDeclaredSessions } from '@switchboard/config';
import { type Db, withTenant } from '@switchboard/db';

/**
 * The sessions the WhatsAppTenant declares, as the operator writes them into the tenant's
 * ConfigMap (`sessions.json`, mounted; operator/src/specs/config-map.ts `declaredSessions`).
 * The file's schema and reader live in @switchboard/config, shared with the API (which checks
 * each Cloud API number's webhook signature with its own app secret). Workers make the database
 * agree at start: each declared session exists with `declared = true` (the API refuses to delete
 * those), and a session no longer declared becomes an ordinary one (kept with its history;
 * deletable in the inbox).
 */
export { type DeclaredSession, DeclaredSessionsError, readDeclaredSessions };

/** What syncDeclaredSessions changed. */
export interface DeclaredSessionsSync {
  created: string[];
  undeclared: string[];
}

/**
 * Makes the tenant's sessions agree with `declared`, in one transaction. Safe when every worker
 * runs it at once: creation is INSERT ... ON CONFLICT on (tenant, name). A declared name that
 * already exists with another channel is left as it is and reported by the caller's log, since
 * changing a session's channel would orphan its auth state.
 */
export async function syncDeclaredSessions(
  db: Db,
  tenantId: string,
  declared: readonly DeclaredSession[],
): Promise<DeclaredSessionsSync> {
  const names = declared.map((session) => session.name);
  return withTenant(db, tenantId, async (tx) => {
    const created: string[] = [];
    for (const session of declared) {
      // The SQL enum spells it as the spec does ('cloud-api'); only Prisma's name is cloud_api.
      const channel = session.channel;
      const rows = await tx.$queryRaw<{ inserted: boolean }[]>`
        INSERT INTO sessions (tenant_id, name, channel, declared)
        VALUES (${tenantId}::uuid, ${session.name}, ${channel}::session_channel, true)
        ON CONFLICT (tenant_id, name) DO UPDATE SET declared = true, updated_at = now()
          WHERE sessions.declared = false
        RETURNING (xmax = 0) AS inserted`;
      // xmax = 0: the row is this statement's insert, not an update of an existing one.
      if (rows[0]?.inserted) created.push(session.name);
    }
    const undeclared = await tx.session.findMany({
      where: { declared: true, name: { notIn: names } },
      select: { name: true },
    });
    if (undeclared.length > 0) {
      await tx.session.updateMany({
        where: { declared: true, name: { notIn: names } },
        data: { declared: false },
      });
    }
    return { created, undeclared: undeclared.map((row) => row.name) };
  });
}
