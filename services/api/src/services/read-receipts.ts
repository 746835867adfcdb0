// Read receipts to WhatsApp: the tenant's switch (on unless turned off), and what opening a
// conversation asks of the worker holding its session: mark the customer's messages not marked
// before read on the channel, and watch the chat's presence (typing).
import { QUEUE_NAMES, sessionCommandJobId, sessionCommandSchema } from '@switchboard/messaging/producer';
import type { FastifyRequest } from 'fastify';
import { audit } from '../audit.ts';
import { type ApiContext, actorOf, tenantTx } from '../context.ts';

/** The read-receipt setting as the API shows it. */
export interface ReadReceiptSettings {
  enabled: boolean;
}

/** At most this many messages are marked per opening (the newest; on both channels a read of a later message covers the earlier ones). */
export const MAX_READ_PER_OPEN = 100;

/** The tenant's setting (on when never saved). */
export async function getReadReceiptSettings(
  ctx: ApiContext,
  request: FastifyRequest,
): Promise<ReadReceiptSettings> {
  const row = await tenantTx(ctx, request, (tx) =>
    tx.readReceiptSettings.findUnique({ where: { tenantId: request.principal.tenantId } }),
  );
  return { enabled: row?.enabled ?? true };
}

/** Sets the tenant's setting, audited. */
export async function putReadReceiptSettings(
  ctx: ApiContext,
  request: FastifyRequest,
  settings: ReadReceiptSettings,
): Promise<ReadReceiptSettings> {
  const tenantId = request.principal.tenantId;
  await tenantTx(ctx, request, async (tx) => {
    await tx.readReceiptSettings.upsert({
      where: { tenantId },
      create: { tenantId, enabled: settings.enabled },
      update: { enabled: settings.enabled },
    });
    await audit(
      tx,
      request,
      'settings.read_receipts_updated',
      { type: 'tenant', id: tenantId },
      {
        enabled: settings.enabled,
      },
    );
  });
  return settings;
}

/**
 * After an agent opened (marked read) conversation `conversationId`: when the tenant sends read
 * receipts, the customer's messages not marked on the channel yet (newest first, at most
 * MAX_READ_PER_OPEN) go to the worker as a `conversation-opened` command, and are recorded as
 * marked once the command is queued (a failure before that leaves them for the next opening, so
 * nothing is marked twice by design and nothing is lost to a Redis hiccup). Baileys sessions get
 * the command even with nothing to mark: it subscribes to the chat's presence for the typing
 * indicator. Returns the provider ids it asked to mark.
 */
export async function requestChannelRead(
  ctx: ApiContext,
  request: FastifyRequest,
  conversationId: string,
): Promise<string[]> {
  const tenantId = request.principal.tenantId;
  const found = await tenantTx(ctx, request, async (tx) => {
    const conversation = await tx.conversation.findUnique({
      where: { id: conversationId },
      include: { session: true, contact: { include: { identities: true } } },
    });
    if (!conversation) return undefined;
    const settings = await tx.readReceiptSettings.findUnique({ where: { tenantId } });
    const unread =
      (settings?.enabled ?? true)
        ? await tx.message.findMany({
            where: {
              conversationId,
              direction: 'inbound',
              channelReadAt: null,
              providerMessageId: { not: null },
              // Calls are lines of ours, not WhatsApp messages.
              type: { not: 'call' },
            },
            orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
            take: MAX_READ_PER_OPEN,
            select: { id: true, providerMessageId: true },
          })
        : [];
    return { conversation, unread };
  });
  if (!found) return [];
  const { conversation, unread } = found;
  const identities = conversation.contact.identities;
  const pn = identities.find((i) => i.kind === 'pn')?.value;
  const lid = identities.find((i) => i.kind === 'lid')?.value;
  // The address the outbound path sends to: the phone number, else the LID.
  const chat = pn ?? (lid ? `${lid}@lid` : undefined);
  const baileys = conversation.session.channel === 'baileys';
  if (!chat || (unread.length === 0 && !baileys)) return [];
  const read = unread.map((m) => m.providerMessageId!).reverse();
  const command = sessionCommandSchema.parse({
    type: 'conversation-opened',
    tenantId,
    sessionId: conversation.sessionId,
    conversationId,
    chat,
    read,
    requestedBy: actorOf(request).actorId,
  });
  await ctx.queues
    .get(request.principal.slug, QUEUE_NAMES.sessionCommands(conversation.sessionId))
    .add(command.type, command, {
      jobId: sessionCommandJobId(command),
      removeOnComplete: true,
      removeOnFail: true,
      // A session between sockets answers NOT_CONNECTED: a few tries, then the next opening.
      attempts: 4,
      backoff: { type: 'exponential', delay: 2_000 },
    });
  if (unread.length > 0)
    await tenantTx(ctx, request, (tx) =>
      tx.message.updateMany({
        where: { id: { in: unread.map((m) => m.id) }, channelReadAt: null },
        data: { channelReadAt: new Date() },
      }),
    );
  return read;
}
