import { readFile } from 'node:fs/promises';
import { z } from 'zod';

/**
 * The sessions a WhatsAppTenant declares, as the operator writes them into the tenant's
 * ConfigMap (`sessions.json`, mounted into the API and the workers; operator/src/specs/config-map.ts
 * `declaredSessions`). Shared here so that both read one schema: the workers create the declared
 * sessions and open their channels, the API picks each Cloud API number's Meta app secret.
 */

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** One entry of sessions.json. */
export const declaredSessionSchema = z.strictObject({
  name: z.string().regex(DNS1123_LABEL, 'expected a DNS-1123 label (the session name in the WhatsAppTenant)'),
  channel: z.enum(['baileys', 'cloud-api']),
  phoneNumberId: z.string().regex(/^\d+$/, 'expected the Cloud API phone number id (digits)').optional(),
  /** `secret://` references to the Cloud API credentials, resolved by whoever uses them. */
  credentials: z
    .strictObject({
      accessToken: z.string().startsWith('secret://'),
      appSecret: z.string().startsWith('secret://'),
      verifyToken: z.string().startsWith('secret://'),
    })
    .optional(),
});
/** One declared session. */
export type DeclaredSession = z.infer<typeof declaredSessionSchema>;

/** The whole file: an array of sessions with unique names. */
export const declaredSessionsSchema = z.array(declaredSessionSchema).superRefine((sessions, ctx) => {
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

/** Validates the parsed JSON of a sessions file; `source` names it in errors. */
export function parseDeclaredSessions(json: unknown, source: string): DeclaredSession[] {
  const parsed = declaredSessionsSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `[${issue.path.join('.')}] ${issue.message}`);
    throw new DeclaredSessionsError(`the sessions file ${source} is invalid: ${problems.join('; ')}`);
  }
  return parsed.data;
}

/** Reads and validates the sessions file at `path`. */
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
  return parseDeclaredSessions(json, path);
}

/** What resolves a `secret://` reference (SecretResolver from @switchboard/secrets fits). */
export interface SecretReferenceResolver {
  resolve(reference: string): Promise<string>;
}

/** A declared Cloud API number's resolved credentials. */
export interface CloudApiNumberCredentials {
  sessionName: string;
  phoneNumberId: string;
  accessToken: string;
  appSecret: string;
  verifyToken: string;
}

/**
 * Resolves the credentials of every declared Cloud API session that names a phone number id and
 * credentials (the others cannot receive webhooks). A reference that does not resolve throws,
 * naming the session and which credential: a number whose secret is missing would otherwise
 * reject every delivery Meta sends for it. Two sessions declaring one phone number id is an error.
 */
export async function resolveCloudApiCredentials(
  sessions: readonly DeclaredSession[],
  resolver: SecretReferenceResolver,
): Promise<CloudApiNumberCredentials[]> {
  const out: CloudApiNumberCredentials[] = [];
  const byNumber = new Map<string, string>();
  for (const session of sessions) {
    if (session.channel !== 'cloud-api' || !session.phoneNumberId || !session.credentials) continue;
    const other = byNumber.get(session.phoneNumberId);
    if (other)
      throw new DeclaredSessionsError(
        `sessions ${other} and ${session.name} both declare phone number id ${session.phoneNumberId}`,
      );
    byNumber.set(session.phoneNumberId, session.name);
    const resolved: Record<string, string> = {};
    for (const field of ['accessToken', 'appSecret', 'verifyToken'] as const) {
      try {
        resolved[field] = await resolver.resolve(session.credentials[field]);
      } catch (error) {
        throw new DeclaredSessionsError(
          `session ${session.name}: credentials.${field} (${session.credentials[field]}) does not resolve: ${(error as Error).message}`,
        );
      }
    }
    out.push({
      sessionName: session.name,
      phoneNumberId: session.phoneNumberId,
      accessToken: resolved.accessToken!,
      appSecret: resolved.appSecret!,
      verifyToken: resolved.verifyToken!,
    });
  }
  return out;
}
