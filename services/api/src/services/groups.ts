// WhatsApp groups: the stored groups (what the worker keeps from WhatsApp), and the group
// operations, which only the worker holding the session's socket can run: the API puts a `group`
// command on the session's command queue and waits for its result (the job's return value).
import { randomUUID } from 'node:crypto';
import type { Session, TenantTx, WhatsappGroup } from '@switchboard/db';
import {
  type GroupCommandResult,
  type GroupInfoResult,
  type GroupOperation,
  groupCommandResultSchema,
  QUEUE_NAMES,
  queuePrefix,
  sessionCommandJobId,
  sessionCommandSchema,
  tenantKeyPrefix,
} from '@switchboard/messaging/producer';
import { QueueEvents } from 'bullmq';
import type { FastifyRequest } from 'fastify';
import { audit } from '../audit.ts';
import { type ApiContext, actorOf, tenantTx } from '../context.ts';
import { ApiError, notFound } from '../errors.ts';
import { type GroupDto, groupDto } from '../group-dto.ts';

/** How long a request waits for the worker to run a group operation. */
export const GROUP_COMMAND_TIMEOUT_MS = 20_000;

/** The team's names of the people with these phone numbers (display name, else push name). */
async function contactNames(tx: TenantTx, phones: string[]): Promise<Map<string, string>> {
  if (phones.length === 0) return new Map();
  const rows = await tx.$queryRaw<{ pn: string; name: string | null }[]>`
    SELECT i.value AS pn, COALESCE(c.display_name, c.push_name) AS name
      FROM contact_identities i JOIN contacts c ON c.id = i.contact_id
     WHERE i.kind = 'pn' AND i.value = ANY(${phones}::text[])`;
  return new Map(rows.filter((r) => r.name).map((r) => [r.pn, r.name!]));
}

function phonesOf(rows: WhatsappGroup[]): string[] {
  const phones = new Set<string>();
  for (const row of rows)
    for (const p of Array.isArray(row.participants) ? (row.participants as { pn?: unknown }[]) : [])
      if (typeof p?.pn === 'string') phones.add(p.pn);
  return [...phones];
}

/** The tenant's groups, by subject (at most `limit`). */
export async function listGroups(
  ctx: ApiContext,
  request: FastifyRequest,
  limit: number,
): Promise<GroupDto[]> {
  return await tenantTx(ctx, request, async (tx) => {
    const rows = await tx.whatsappGroup.findMany({
      orderBy: [{ subject: 'asc' }, { jid: 'asc' }],
      take: limit,
    });
    const names = await contactNames(tx, phonesOf(rows));
    return rows.map((row) => groupDto(row, names));
  });
}

/** The stored group `jid`; not_found when the tenant has none. */
export async function getGroup(ctx: ApiContext, request: FastifyRequest, jid: string): Promise<GroupDto> {
  return await tenantTx(ctx, request, async (tx) => {
    const row = await tx.whatsappGroup.findUnique({
      where: { tenantId_jid: { tenantId: request.principal.tenantId, jid } },
    });
    if (!row) throw notFound('group');
    return groupDto(row, await contactNames(tx, phonesOf([row])));
  });
}

/** Why `session` cannot run group operations, or undefined when it can. */
function refusal(session: Session): ApiError | undefined {
  if (session.channel !== 'baileys')
    return new ApiError(
      'channel_unsupported',
      `session ${session.name} is a Cloud API number: WhatsApp groups are not supported on the Cloud API channel (only on WhatsApp app sessions)`,
    );
  if (session.state !== 'connected')
    return new ApiError(
      'conflict',
      `session ${session.name} is not connected (${session.state}): group operations need a connected WhatsApp app session`,
    );
  return undefined;
}

/** The API error for a failed group command (the worker's reason starts `<CODE> <status>: `). */
function commandError(reason: string): ApiError {
  const match = /^([A-Z_]+) (\d{3}): (.*)$/s.exec(reason);
  const [, code, status, message] = match ?? [];
  const text = message ?? 'the worker could not run the group operation';
  if (code === 'GROUPS_UNSUPPORTED') return new ApiError('channel_unsupported', text);
  if (
    code === 'NOT_CONNECTED' ||
    code === 'LOGGED_OUT' ||
    code === 'STALE_EPOCH' ||
    code === 'FENCE_UNAVAILABLE'
  )
    return new ApiError('conflict', `the session is not connected right now: ${text}`);
  if (status === '404') return new ApiError('not_found', text);
  if (status === '403') return new ApiError('forbidden', text);
  if (status === '400') return new ApiError('validation_failed', text);
  return new ApiError('conflict', `WhatsApp refused the operation: ${text}`);
}

/**
 * Runs `operation` on session `sessionId` through the worker holding it: checks the session
 * (a connected Baileys session), records the audit entry, adds the command and waits for its
 * result. A worker that does not answer within {@link GROUP_COMMAND_TIMEOUT_MS} is `unavailable`
 * (the command stays queued for the session's next holder only until then: it is removed).
 */
export async function runGroupCommand(
  ctx: ApiContext,
  request: FastifyRequest,
  sessionId: string,
  operation: GroupOperation,
  action: string,
  timeoutMs = GROUP_COMMAND_TIMEOUT_MS,
): Promise<GroupCommandResult> {
  const session = await tenantTx(ctx, request, async (tx) => {
    const row = await tx.session.findUnique({ where: { id: sessionId } });
    if (!row) throw notFound('session');
    const refused = refusal(row);
    if (refused) throw refused;
    await audit(
      tx,
      request,
      action,
      { type: 'group', id: 'group' in operation ? operation.group : row.id },
      {
        sessionId: row.id,
        ...('subject' in operation ? { subject: operation.subject } : {}),
        ...('participants' in operation ? { participants: operation.participants } : {}),
        ...('action' in operation ? { participantsAction: operation.action } : {}),
      },
    );
    return row;
  });
  const command = sessionCommandSchema.parse({
    type: 'group',
    tenantId: request.principal.tenantId,
    sessionId: session.id,
    requestId: randomUUID(),
    operation,
    requestedBy: actorOf(request).actorId,
  });
  const name = QUEUE_NAMES.sessionCommands(session.id);
  const queue = ctx.queues.get(request.principal.slug, name);
  // A blocking reader of the queue's events (BullMQ needs its own connection for it).
  const connection = ctx.redis.duplicate({ maxRetriesPerRequest: null });
  const events = new QueueEvents(name, {
    connection,
    prefix: queuePrefix(tenantKeyPrefix(request.principal.slug)),
  });
  try {
    await events.waitUntilReady();
    const job = await queue.add(command.type, command, {
      jobId: sessionCommandJobId(command),
      attempts: 1,
      removeOnComplete: { age: 3600 },
      removeOnFail: { age: 3600 },
    });
    let value: unknown;
    try {
      value = await job.waitUntilFinished(events, timeoutMs);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      if (reason.startsWith('Job wait')) {
        await job.remove().catch(() => undefined);
        throw new ApiError(
          'unavailable',
          `no worker ran the group operation within ${Math.round(timeoutMs / 1000)} s (the session may be moving between workers); retry`,
        );
      }
      throw commandError(reason);
    }
    return groupCommandResultSchema.parse(value);
  } finally {
    await events.close().catch(() => undefined);
    connection.disconnect();
  }
}

/** A group's info as the worker read it, in the API's group shape (stored details follow once the worker stored it). */
export function groupFromResult(group: string, info: GroupInfoResult): GroupDto {
  return {
    id: group,
    contactId: null,
    subject: info.subject,
    description: info.description,
    owner: info.owner,
    participants: info.participants.map((p) => ({ jid: p.jid, phone: p.pn, name: null, role: p.role })),
    createdAt: info.createdAt,
    refreshedAt: new Date().toISOString(),
  };
}

/** At most this many mentions in one message. */
export const MAX_MENTIONS = 50;

/**
 * The `mentions` column of a text send: only a group conversation's messages mention people
 * (a validation error otherwise). Each mention is the person's phone JID and digits.
 */
export async function mentionColumns(
  tx: TenantTx,
  conversation: { contactId: string },
  mentions: string[] | undefined,
): Promise<{ mentions?: { jid: string; pn: string }[] }> {
  if (!mentions?.length) return {};
  const group = await tx.whatsappGroup.findFirst({
    where: { contactId: conversation.contactId },
    select: { jid: true },
  });
  if (!group)
    throw new ApiError(
      'validation_failed',
      'body.mentions: only messages to a WhatsApp group mention people',
      {
        issues: [{ path: 'body.mentions', message: 'the conversation is not a WhatsApp group' }],
      },
    );
  return { mentions: [...new Set(mentions)].map((pn) => ({ jid: `${pn}@s.whatsapp.net`, pn })) };
}
