import { readFile } from 'node:fs/promises';
import { type Db, withTenant } from '@switchboard/db';
import { z } from 'zod';

/**
 * The sessions the WhatsAppTenant declares, as the operator writes them into the tenant's
 * ConfigMap (`sessions.json`, mounted; operator/src/specs/config-map.ts `declaredSessions`).
 * Workers make the database agree at start: each declared session exists with `declared = true`
 * (the API refuses to delete those), and a session no longer declared becomes an ordinary one
 * (kept with its history; deletable in the inbox).
 */

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** One entry of sessions.json. */
export const declaredSessionSchema = z.strictObject({
  name: z.string().regex(DNS1123_LABEL, 'expected a DNS-1123 label (the session name in the WhatsAppTenant)'),
  channel: z.enum(['baileys', 'cloud-api']),
  phoneNumberId: z.string().regex(/^\d+$/, 'expected the Cloud API phone number id (digits)').optional(),
  /** `secret://` references to the Cloud API credentials, resolved by whoever opens the channel. */
  credentials: z
    .strictObject({
      accessToken: z.string().startsWith('secret://'),
      appSecret: z.string().startsWith('secret://'),
      verifyToken: z.string().startsWith('secret://'),
    })
    .optional(),
});
export type DeclaredSession = z.infer<typeof declaredSessionSchema>;

const declaredSessionsSchema = z.array(declaredSessionSchema).superRefine((sessions, ctx) => {
  const seen = new Set<string>();
  sessions.forEach((session, index) => {
    if (seen.has(session.name))
      ctx.addIssue({ code: 'custom', path: [index, 'name'], message: `duplicate session ${session.name}` });
    seen.add(session.name);
  });
});

/** A sessions file that cannot be used; the message names the file and every bad field. */
export class DeclaredSessionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeclaredSessionsError';
  }
}

/** Reads and validates `path`. */
export async function readDeclaredSessions(path: string): Promise<DeclaredSession[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new DeclaredSessionsError(`cannot read the sessions file ${path}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new DeclaredSessionsError(`the sessions file ${path} is not JSON: ${(error as Error).message}`);
  }
  const parsed = declaredSessionsSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `[${issue.path.join('.')}] ${issue.message}`);
    throw new DeclaredSessionsError(`the sessions file ${path} is invalid: ${problems.join('; ')}`);
  }
  return parsed.data;
}

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
