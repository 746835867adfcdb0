// The inbox's conversations: filtered lists and search, assignment, resolve/reopen/read, and
// each conversation's message history.
import type { Conversation, Message, Prisma } from '@switchboard/db';
import type { FastifyRequest } from 'fastify';
import { type ApiContext, tenantTx } from '../context.ts';
import { ApiError, notFound } from '../errors.ts';
import { afterCursor, decodeCursor } from '../schemas.ts';

/** What every conversation answer loads with the row: the contact, its identities, the newest message. */
export const conversationSummary = {
  contact: { include: { identities: { orderBy: { createdAt: 'asc' } } } },
  messages: { orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], take: 1 },
} satisfies Prisma.ConversationInclude;

/** A conversation with its summary. */
export type ConversationRow = Prisma.ConversationGetPayload<{ include: typeof conversationSummary }>;

/** The filters of the conversation list. */
export interface ConversationFilter {
  cursor?: string | undefined;
  limit: number;
  status?: 'open' | 'resolved' | undefined;
  assignee?: 'mine' | 'unassigned' | undefined;
  sessionId?: string | undefined;
  search?: string | undefined;
}

/** Conversations most recent first after `cursor`, `limit + 1` of them, filtered and searched. */
export async function listConversations(
  ctx: ApiContext,
  request: FastifyRequest,
  filter: ConversationFilter,
): Promise<ConversationRow[]> {
  const { limit, status, assignee, sessionId, search } = filter;
  const cursor = decodeCursor(filter.cursor);
  const p = request.principal;
  if (assignee === 'mine' && p.kind !== 'user')
    throw new ApiError('validation_failed', 'query.assignee: "mine" needs a member, not an API key');
  // The cursor and the search are each an OR: under AND, so that one cannot replace the other
  // (a search's second page would otherwise be its first page again).
  const where: Prisma.ConversationWhereInput = {
    AND: [afterCursor(cursor, 'lastMessageAt') as Prisma.ConversationWhereInput],
    ...(status ? { status } : {}),
    ...(assignee === 'mine' && p.kind === 'user' ? { assigneeId: p.userId } : {}),
    ...(assignee === 'unassigned' ? { assigneeId: null } : {}),
    ...(sessionId ? { sessionId } : {}),
    ...(search
      ? {
          OR: [
            {
              contact: {
                OR: [
                  { displayName: { contains: search, mode: 'insensitive' } },
                  { pushName: { contains: search, mode: 'insensitive' } },
                  { identities: { some: { value: { contains: search.replace(/^\+/, '') } } } },
                ],
              },
            },
            { messages: { some: { body: { contains: search, mode: 'insensitive' } } } },
          ],
        }
      : {}),
  };
  return await tenantTx(ctx, request, (tx) =>
    tx.conversation.findMany({
      where,
      orderBy: [{ lastMessageAt: 'desc' }, { id: 'desc' }],
      take: limit + 1,
      include: conversationSummary,
    }),
  );
}

/** The conversation `id` with its summary; not_found when there is none. */
export async function getConversation(
  ctx: ApiContext,
  request: FastifyRequest,
  id: string,
): Promise<ConversationRow> {
  const row = await tenantTx(ctx, request, (tx) =>
    tx.conversation.findUnique({ where: { id }, include: conversationSummary }),
  );
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
    return await tx.conversation.update({
      where: { id: row.id },
      data: data(row),
      include: conversationSummary,
    });
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
    return await tx.conversation.update({
      where: { id: row.id },
      // The scalar, not the relation: disconnecting the composite (tenantId, assigneeId) relation
      // would null tenantId too, which row-level security refuses. The membership is checked above.
      data: { assigneeId },
      include: conversationSummary,
    });
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
    return await tx.message.findMany({
      where: { conversationId: id, ...afterCursor(cursor, 'createdAt') },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: query.limit + 1,
    });
  });
}
