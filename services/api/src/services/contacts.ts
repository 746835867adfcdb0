// Contacts: search, read, the team's fields, and the data subject's rights (export, erasure).
import type { Contact, ContactIdentity, Conversation, Message, Prisma } from '@switchboard/db';
import type { FastifyRequest } from 'fastify';
import { audit } from '../audit.ts';
import { type ApiContext, tenantTx } from '../context.ts';
import { notFound } from '../errors.ts';
import { decodeCursor, rowsAfter } from '../schemas.ts';

/** A contact with its identities (what every contact answer shows). */
export type ContactRow = Contact & { identities: ContactIdentity[] };

/** Contacts newest first after `cursor`, `limit + 1` of them, matching `search` in a name or a number. */
export async function listContacts(
  ctx: ApiContext,
  request: FastifyRequest,
  query: { cursor?: string | undefined; limit: number; search?: string | undefined },
): Promise<ContactRow[]> {
  const { limit, search } = query;
  const where: Prisma.ContactWhereInput = {
    ...(search
      ? {
          AND: [
            {
              OR: [
                { displayName: { contains: search, mode: 'insensitive' } },
                { pushName: { contains: search, mode: 'insensitive' } },
                { identities: { some: { value: { contains: search } } } },
              ],
            },
          ],
        }
      : {}),
  };
  return await tenantTx(ctx, request, (tx) =>
    rowsAfter(decodeCursor(query.cursor), 'createdAt', limit, (page) =>
      tx.contact.findMany({
        ...page,
        where: { ...where, ...(page.where as Prisma.ContactWhereInput) },
        include: { identities: true },
      }),
    ),
  );
}

/** The contact `id` with its identities; not_found when there is none. */
export async function getContact(ctx: ApiContext, request: FastifyRequest, id: string): Promise<ContactRow> {
  const row = await tenantTx(ctx, request, (tx) =>
    tx.contact.findUnique({ where: { id }, include: { identities: true } }),
  );
  if (!row) throw notFound('contact');
  return row;
}

/** Sets the display name and the team's notes (undefined leaves a field; blank notes clear them). */
export async function updateContact(
  ctx: ApiContext,
  request: FastifyRequest,
  id: string,
  input: { displayName?: string | null | undefined; notes?: string | null | undefined },
): Promise<ContactRow> {
  return await tenantTx(ctx, request, async (tx) => {
    const row = await tx.contact.findUnique({ where: { id } });
    if (!row) throw notFound('contact');
    return await tx.contact.update({
      where: { id: row.id },
      data: {
        ...(input.displayName !== undefined ? { displayName: input.displayName } : {}),
        ...(input.notes !== undefined ? { notes: input.notes?.trim() || null } : {}),
      },
      include: { identities: true },
    });
  });
}

/** Everything stored about one contact (data subject access), audited. */
export async function exportContact(
  ctx: ApiContext,
  request: FastifyRequest,
  id: string,
): Promise<{ contact: ContactRow; conversations: Conversation[]; messages: Message[] }> {
  return await tenantTx(ctx, request, async (tx) => {
    const contact = await tx.contact.findUnique({ where: { id }, include: { identities: true } });
    if (!contact) throw notFound('contact');
    const conversations = await tx.conversation.findMany({
      where: { contactId: contact.id },
      orderBy: { createdAt: 'asc' },
    });
    const messages = await tx.message.findMany({
      where: { conversationId: { in: conversations.map((c) => c.id) } },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    });
    await audit(tx, request, 'contact.exported', { type: 'contact', id: contact.id });
    return { contact, conversations, messages };
  });
}

/**
 * Erases one contact with every conversation, message and scheduled message with them; the audit
 * entry keeps counts only. Media files go after the commit (a rolled-back erase must keep them);
 * one that fails to delete is logged by key (no content) and left for a sweep.
 */
export async function eraseContact(ctx: ApiContext, request: FastifyRequest, id: string): Promise<void> {
  const mediaKeys = await tenantTx(ctx, request, async (tx) => {
    const row = await tx.contact.findUnique({ where: { id } });
    if (!row) throw notFound('contact');
    const conversationIds = (
      await tx.conversation.findMany({ where: { contactId: row.id }, select: { id: true } })
    ).map((c) => c.id);
    const withMedia = await tx.message.findMany({
      where: { conversationId: { in: conversationIds }, mediaStorageKey: { not: null } },
      select: { mediaStorageKey: true },
    });
    const scheduled = await tx.scheduledMessage.deleteMany({
      where: { conversationId: { in: conversationIds } },
    });
    const messages = await tx.message.deleteMany({ where: { conversationId: { in: conversationIds } } });
    await tx.conversation.deleteMany({ where: { id: { in: conversationIds } } });
    await tx.contact.delete({ where: { id: row.id } });
    await audit(
      tx,
      request,
      'contact.erased',
      { type: 'contact', id: row.id },
      {
        conversations: conversationIds.length,
        messages: messages.count,
        scheduledMessages: scheduled.count,
        mediaFiles: withMedia.length,
      },
    );
    return withMedia.map((m) => m.mediaStorageKey!);
  });
  for (const key of mediaKeys) {
    await ctx.mediaStorage?.delete(key).catch((error: unknown) => {
      request.log.error({ err: error, key }, 'erased contact: media file not deleted');
    });
  }
}
