// The inbox's conversations: filtered lists and search, assignment, resolve/reopen/read, and
// each conversation's message history.
import {
  type Conversation,
  DbBusyError,
  type Message,
  Prisma,
  type TenantTx,
  tenantSql,
} from '@switchboard/db';
import type { FastifyRequest } from 'fastify';
import { type ApiContext, tenantTx } from '../context.ts';
import { ApiError, notFound } from '../errors.ts';
import type { Principal } from '../plugins/auth.ts';
import { decodeCursor, rowsAfter } from '../schemas.ts';
import { recordConversationChange } from './conversation-events.ts';
import { conversationLabelsColumn, labelCondition } from './conversation-labels.ts';

/**
 * A conversation as every conversation answer shows it: the row, its contact's name and
 * identities, and its newest message. Read by one SQL statement (summarySql).
 */
export interface ConversationRow {
  id: string;
  sessionId: string;
  contactId: string;
  status: 'open' | 'resolved';
  assigneeId: string | null;
  lastMessageAt: Date;
  /** last_message_at at the database's (microsecond) precision, ISO 8601 UTC: the list's cursor. */
  cursorAt: string;
  unreadCount: number;
  resolvedAt: Date | null;
  createdAt: Date;
  contactDisplayName: string | null;
  contactPushName: string | null;
  /** The contact's oldest identity of each kind. */
  phoneNumber: string | null;
  lid: string | null;
  lastMessageId: string | null;
  lastMessageDirection: 'inbound' | 'outbound' | null;
  lastMessageType: string | null;
  lastMessageBody: string | null;
  lastMessageStatus: 'queued' | 'sent' | 'delivered' | 'read' | 'failed' | null;
  lastMessageCreatedAt: Date | null;
  /** Its labels (conversation-labels.ts): JSON [{id, name, color}]. */
  labels: unknown;
}

/**
 * The conversations matching `where`, in the list's order (newest message first, then id), at
 * most `limit`, each with its summary: one statement, the contact joined, its identities and the
 * newest message each one index probe (contact_identities (tenant_id, contact_id) and messages
 * (conversation_id, created_at DESC, id DESC)). Row-level security applies to every table in it,
 * so it runs in the caller's tenant transaction like any other query.
 */
function summarySql(where: Prisma.Sql, limit: number): Prisma.Sql {
  return Prisma.sql`
    SELECT c.id, c.session_id AS "sessionId", c.contact_id AS "contactId", c.status::text AS status,
           c.assignee_id AS "assigneeId", c.last_message_at AS "lastMessageAt",
           to_char(c.last_message_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS "cursorAt",
           c.unread_count AS "unreadCount", c.resolved_at AS "resolvedAt", c.created_at AS "createdAt",
           ct.display_name AS "contactDisplayName", ct.push_name AS "contactPushName",
           (SELECT i.value FROM contact_identities i
             WHERE i.tenant_id = c.tenant_id AND i.contact_id = c.contact_id AND i.kind = 'pn'
             ORDER BY i.created_at, i.id LIMIT 1) AS "phoneNumber",
           (SELECT i.value FROM contact_identities i
             WHERE i.tenant_id = c.tenant_id AND i.contact_id = c.contact_id AND i.kind = 'lid'
             ORDER BY i.created_at, i.id LIMIT 1) AS lid,
           m.id AS "lastMessageId", m.direction::text AS "lastMessageDirection", m.type::text AS "lastMessageType",
           m.body AS "lastMessageBody", m.status::text AS "lastMessageStatus", m.created_at AS "lastMessageCreatedAt",
           ${conversationLabelsColumn}
      FROM conversations c
      JOIN contacts ct ON ct.tenant_id = c.tenant_id AND ct.id = c.contact_id
      LEFT JOIN LATERAL (
        SELECT m.id, m.direction, m.type, m.body, m.status, m.created_at FROM messages m
         WHERE m.conversation_id = c.id
         ORDER BY m.created_at DESC, m.id DESC LIMIT 1
      ) m ON true
     WHERE ${where}
     ORDER BY c.last_message_at DESC, c.id DESC
     LIMIT ${limit}`;
}

/** A LIKE pattern matching `text` anywhere, its wildcards taken literally. */
function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** The filters of the conversation list. */
export interface ConversationFilter {
  cursor?: string | undefined;
  limit: number;
  status?: 'open' | 'resolved' | undefined;
  assignee?: 'mine' | 'unassigned' | undefined;
  sessionId?: string | undefined;
  search?: string | undefined;
  /** Only conversations with this label (conversation-labels.ts). */
  label?: string | undefined;
}

/** The list's cursor: the last row's position at the database's precision. */
export function conversationCursor(row: ConversationRow): string {
  return Buffer.from(JSON.stringify({ at: row.cursorAt, id: row.id })).toString('base64url');
}

/**
 * The position a list cursor names: its time as written (microseconds kept, so rows within one
 * millisecond are neither skipped nor repeated) and its id. Cursors of the older millisecond
 * format decode too. A malformed cursor is a 400 (decodeCursor).
 */
function cursorPosition(cursor: string | undefined): { at: string; id: string } | undefined {
  const decoded = decodeCursor(cursor);
  if (!decoded || cursor === undefined) return undefined;
  const { at } = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { at: string };
  // What Postgres takes as a timestamptz exactly: UTC, at most microseconds, a year it has.
  if (!CURSOR_TIME.test(at) || decoded.at.getUTCFullYear() < 1) {
    throw new ApiError('invalid_cursor', 'query.cursor is not a cursor this API returned', {
      issues: [{ path: 'query.cursor', message: 'not a valid cursor' }],
    });
  }
  return { at, id: decoded.id };
}

const CURSOR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;

/**
 * The statement of the conversation list for `principal`: most recent first after `cursor`,
 * `limit + 1` rows, filtered and searched. The search matches the contact's names and any
 * message's text (case-insensitive) and its identities (a leading '+' ignored), each as a
 * substring. Exported for the benchmark's EXPLAIN ANALYZE (bench/api).
 */
export function conversationListQuery(principal: Principal, filter: ConversationFilter): Prisma.Sql {
  const { limit, status, assignee, sessionId, search } = filter;
  const cursor = cursorPosition(filter.cursor);
  if (assignee === 'mine' && principal.kind !== 'user')
    throw new ApiError('validation_failed', 'query.assignee: "mine" needs a member, not an API key');
  const conditions: Prisma.Sql[] = [Prisma.sql`true`];
  // A row-value comparison: one index range on (tenant_id, last_message_at DESC, id DESC) or its
  // status / assignee variants, however deep the page.
  if (cursor)
    conditions.push(Prisma.sql`(c.last_message_at, c.id) < (${cursor.at}::timestamptz, ${cursor.id}::uuid)`);
  if (status) conditions.push(Prisma.sql`c.status = ${status}::conversation_status`);
  if (assignee === 'mine' && principal.kind === 'user')
    conditions.push(Prisma.sql`c.assignee_id = ${principal.userId}::uuid`);
  if (assignee === 'unassigned') conditions.push(Prisma.sql`c.assignee_id IS NULL`);
  if (sessionId) conditions.push(Prisma.sql`c.session_id = ${sessionId}::uuid`);
  if (filter.label) conditions.push(labelCondition(filter.label));
  if (!search) return summarySql(Prisma.join(conditions, ' AND '), limit + 1);
  const text = containsPattern(search);
  const identity = containsPattern(search.replace(/^\+/, ''));
  // The matching conversations' ids, looked up once through the trigram index of search_entries
  // (migration 0008: search_conversation_ids() reads it for the bound tenant only, since
  // row-level security keeps Postgres from using such an index on the tables themselves), as an
  // array: the page is then one probe of the conversations' primary key per match, under
  // row-level security, sorted. With the match as a filter on the newest-first walk instead, the
  // planner walks (and joins) every conversation for a rare term.
  conditions.push(Prisma.sql`c.id = ANY (ARRAY(SELECT search_conversation_ids(${text}, ${identity})))`);
  return summarySql(Prisma.join(conditions, ' AND '), limit + 1);
}

/**
 * Conversations most recent first after `cursor`, `limit + 1` of them, filtered and searched. A
 * search runs in ctx.searchLane (at most DATABASE_SEARCH_CONCURRENCY at once), so searches never
 * hold every connection of the pool. A search under 3 characters cannot use the trigram index;
 * when it is cancelled at the statement timeout it answers search_too_broad (422), any other
 * cancellation database_busy (503).
 */
export async function listConversations(
  ctx: ApiContext,
  request: FastifyRequest,
  filter: ConversationFilter,
): Promise<ConversationRow[]> {
  const query = conversationListQuery(request.principal, filter);
  // One round trip: BEGIN, the tenant, the statement and COMMIT pipelined (tenantSql).
  const run = () => tenantSql<ConversationRow>(ctx.db, request.principal.tenantId, query);
  if (!filter.search) return await run();
  try {
    return await ctx.searchLane.run(run);
  } catch (error) {
    if (
      error instanceof DbBusyError &&
      error.reason === 'statement_timeout' &&
      filter.search.replace(/^\+/, '').length < TRIGRAM
    )
      throw new ApiError('search_too_broad');
    throw error;
  }
}

// The shortest search text the trigram index can look up: one trigram.
const TRIGRAM = 3;

/** The conversation `id` with its summary, read in `tx`; undefined when there is none. */
async function summaryOf(tx: TenantTx, id: string): Promise<ConversationRow | undefined> {
  const [row] = await tx.$queryRaw<ConversationRow[]>(summarySql(Prisma.sql`c.id = ${id}::uuid`, 1));
  return row;
}

/** The conversation `id` with its summary; not_found when there is none. */
export async function getConversation(
  ctx: ApiContext,
  request: FastifyRequest,
  id: string,
): Promise<ConversationRow> {
  const row = await tenantTx(ctx, request, (tx) => summaryOf(tx, id));
  if (!row) throw notFound('conversation');
  return row;
}

/** Changes conversation `id` with what `data` makes of the current row (resolve, reopen, read). */
export async function updateConversation(
  ctx: ApiContext,
  request: FastifyRequest,
  id: string,
  data: (c: Conversation) => Prisma.ConversationUpdateInput,
): Promise<ConversationRow> {
  return await tenantTx(ctx, request, async (tx) => {
    const row = await tx.conversation.findUnique({ where: { id } });
    if (!row) throw notFound('conversation');
    await recordConversationChange(
      tx,
      row,
      await tx.conversation.update({ where: { id: row.id }, data: data(row) }),
    );
    return (await summaryOf(tx, row.id))!;
  });
}

/** Assigns conversation `id` to a member of the tenant, or unassigns it (null). */
export async function assignConversation(
  ctx: ApiContext,
  request: FastifyRequest,
  id: string,
  assigneeId: string | null,
): Promise<ConversationRow> {
  return await tenantTx(ctx, request, async (tx) => {
    const row = await tx.conversation.findUnique({ where: { id } });
    if (!row) throw notFound('conversation');
    if (assigneeId && !(await tx.membership.findFirst({ where: { userId: assigneeId } }))) {
      throw new ApiError('validation_failed', 'body.assigneeId is not a member of this tenant', {
        issues: [{ path: 'body.assigneeId', message: 'not a member' }],
      });
    }
    const updated = await tx.conversation.update({
      where: { id: row.id },
      // The scalar, not the relation: disconnecting the composite (tenantId, assigneeId) relation
      // would null tenantId too, which row-level security refuses. The membership is checked above.
      data: { assigneeId },
    });
    await recordConversationChange(tx, row, updated);
    return (await summaryOf(tx, row.id))!;
  });
}

/** The messages of conversation `id`, newest first after `cursor`, `limit + 1` of them. */
export async function listConversationMessages(
  ctx: ApiContext,
  request: FastifyRequest,
  id: string,
  query: { cursor?: string | undefined; limit: number },
): Promise<Message[]> {
  const cursor = decodeCursor(query.cursor);
  return await tenantTx(ctx, request, async (tx) => {
    if (!(await tx.conversation.findUnique({ where: { id } }))) throw notFound('conversation');
    return await rowsAfter(cursor, 'createdAt', query.limit, (page) =>
      tx.message.findMany({
        ...page,
        where: { conversationId: id, ...page.where },
      }),
    );
  });
}
