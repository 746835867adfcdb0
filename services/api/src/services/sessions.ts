// WhatsApp sessions: the rows, their pairing challenge, the commands for the worker holding a
// session, and its outbound dead letters. Routes validate, call one of these, and map the result.
import type { Session } from '@switchboard/db';
import {
  type DeadLetter,
  DeadLetterError,
  listDeadLetters,
  type PairingRecord,
  pairingKey,
  pairingRecordSchema,
  QUEUE_NAMES,
  replayDeadLetter,
  sessionCommandJobId,
  sessionCommandSchema,
} from '@switchboard/messaging/producer';
import type { FastifyRequest } from 'fastify';
import { audit } from '../audit.ts';
import { type ApiContext, actorOf, keyPrefixOf, tenantTx } from '../context.ts';
import { ApiError, notFound } from '../errors.ts';
import type { newestFirst } from '../schemas.ts';

/** One page's query, as `newestFirst` builds it. */
type ListQuery = Pick<ReturnType<typeof newestFirst<'createdAt'>>, 'find'>;

/** A page of sessions, newest first (the caller maps the rows). */
export async function listSessions(
  ctx: ApiContext,
  request: FastifyRequest,
  list: ListQuery,
): Promise<Session[]> {
  return await tenantTx(ctx, request, (tx) => list.find((args) => tx.session.findMany(args)));
}

/** Creates a Baileys session (a worker picks it up and starts pairing); Cloud API numbers are declared. */
export async function createSession(
  ctx: ApiContext,
  request: FastifyRequest,
  input: { name: string; channel: 'baileys' | 'cloud-api' },
): Promise<Session> {
  if (input.channel === 'cloud-api') {
    throw new ApiError(
      'channel_unsupported',
      "body.channel: Cloud API numbers are declared in the WhatsAppTenant (spec.sessions, with their Meta credentials in the tenant's secret provider); the inbox adds baileys sessions",
    );
  }
  return await tenantTx(ctx, request, async (tx) => {
    if (await tx.session.findFirst({ where: { name: input.name } })) {
      throw new ApiError('conflict', `body.name: a session named ${input.name} exists`);
    }
    const session = await tx.session.create({
      data: { tenantId: request.principal.tenantId, name: input.name, channel: 'baileys' },
    });
    await audit(tx, request, 'session.created', { type: 'session', id: session.id });
    return session;
  });
}

/** The session `id` of the caller's tenant; not_found when there is none. */
export async function getSession(ctx: ApiContext, request: FastifyRequest, id: string): Promise<Session> {
  const row = await tenantTx(ctx, request, (tx) => tx.session.findUnique({ where: { id } }));
  if (!row) throw notFound('session');
  return row;
}

/** The session's current pairing challenge (what its worker wrote to Redis), or undefined when there is none. */
export async function currentPairing(
  ctx: ApiContext,
  request: FastifyRequest,
  id: string,
): Promise<PairingRecord | undefined> {
  const row = await getSession(ctx, request, id);
  const raw = await ctx.redis.get(pairingKey(keyPrefixOf(request), row.id));
  if (!raw) return undefined;
  const parsed = pairingRecordSchema.safeParse(JSON.parse(raw));
  return parsed.success && parsed.data.sessionId === row.id ? parsed.data : undefined;
}

/** Deletes a session without conversations; declared sessions are managed in the tenant spec. */
export async function deleteSession(ctx: ApiContext, request: FastifyRequest, id: string): Promise<void> {
  await tenantTx(ctx, request, async (tx) => {
    const row = await tx.session.findUnique({ where: { id } });
    if (!row) throw notFound('session');
    if (row.declared)
      throw new ApiError('declared_session', 'this session is declared in the tenant spec; remove it there');
    if ((await tx.conversation.count({ where: { sessionId: row.id } })) > 0) {
      throw new ApiError('conflict', 'the session has conversations; log it out instead of deleting it');
    }
    await tx.session.delete({ where: { id: row.id } });
    await audit(tx, request, 'session.deleted', { type: 'session', id: row.id });
  });
}

/** A command the API passes to the worker holding a session. */
export type SessionCommandRequest = { type: 'logout' } | { type: 'pairing-code'; phoneNumber: string };

/** Per command: its audit action and what refuses it. */
const COMMANDS = {
  logout: {
    action: 'session.logout_requested',
    refuse: (session: Session) =>
      session.channel === 'cloud_api'
        ? 'a Cloud API session has no linked device to log out; remove the number in the WhatsAppTenant spec or in Meta'
        : undefined,
  },
  'pairing-code': {
    action: 'session.pairing_code_requested',
    refuse: (session: Session) =>
      session.channel === 'cloud_api'
        ? 'a Cloud API session is not paired with a code; it uses the declared number'
        : session.state === 'connected'
          ? 'the session is already connected; log it out before pairing again'
          : undefined,
  },
} as const;

/**
 * Checks and audits `command` for session `id`, then adds it to the session's session-commands
 * queue (after the commit: the audit entry exists for every command a worker may run). The jobId
 * makes a repeated click one job while it is pending; the job is removed when done (or failed:
 * the worker records the outcome as the session's state), so a later request is a new job.
 * Returns the job id.
 */
export async function requestSessionCommand(
  ctx: ApiContext,
  request: FastifyRequest,
  id: string,
  command: SessionCommandRequest,
): Promise<string> {
  const { action, refuse } = COMMANDS[command.type];
  const session = await tenantTx(ctx, request, async (tx) => {
    const row = await tx.session.findUnique({ where: { id } });
    if (!row) throw notFound('session');
    const refusal = refuse(row);
    if (refusal) throw new ApiError('conflict', refusal);
    await audit(tx, request, action, { type: 'session', id: row.id });
    return row;
  });
  const parsed = sessionCommandSchema.parse({
    ...command,
    tenantId: request.principal.tenantId,
    sessionId: session.id,
    requestedBy: actorOf(request).actorId,
  });
  const jobId = sessionCommandJobId(parsed);
  await ctx.queues
    .get(request.principal.slug, QUEUE_NAMES.sessionCommands(parsed.sessionId))
    .add(parsed.type, parsed, { jobId, removeOnComplete: true, removeOnFail: true });
  return jobId;
}

/** Dead letters of the session's outbound queue from offset `start`: up to `limit`, and whether more follow. */
export async function listSessionDeadLetters(
  ctx: ApiContext,
  request: FastifyRequest,
  id: string,
  start: number,
  limit: number,
): Promise<{ letters: DeadLetter[]; more: boolean }> {
  const row = await getSession(ctx, request, id);
  const queue = ctx.queues.get(request.principal.slug, QUEUE_NAMES.outbound(row.id));
  const letters = await listDeadLetters(queue, start, start + limit);
  return { letters: letters.slice(0, limit), more: letters.length > limit };
}

/** Puts dead letter `jobId` of the session back in line (fresh attempts), audited. */
export async function replaySessionDeadLetter(
  ctx: ApiContext,
  request: FastifyRequest,
  id: string,
  jobId: string,
): Promise<void> {
  const row = await getSession(ctx, request, id);
  const queue = ctx.queues.get(request.principal.slug, QUEUE_NAMES.outbound(row.id));
  try {
    await replayDeadLetter(ctx.db, request.principal.tenantId, queue, jobId);
  } catch (error) {
    if (error instanceof DeadLetterError)
      throw error.reason === 'not-found'
        ? notFound('dead letter')
        : new ApiError('conflict', `${jobId} is not a dead letter (it is not failed)`);
    throw error;
  }
  await tenantTx(ctx, request, (tx) =>
    audit(tx, request, 'dead_letter.replayed', { type: 'session', id: row.id }, { jobId }),
  );
}
