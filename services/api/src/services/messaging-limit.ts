// A Cloud API number's messaging limit (Meta's tier: unique customers it may start conversations
// with in a rolling 24 hours), which the campaign runner keeps within (packages/messaging
// campaigns/runner.ts). Changes audited.
import type { FastifyRequest } from 'fastify';
import { audit } from '../audit.ts';
import { type ApiContext, tenantTx } from '../context.ts';
import { ApiError, notFound } from '../errors.ts';

/** Meta's tiers of business-initiated conversations with unique customers per 24 hours. */
export const MESSAGING_LIMIT_TIERS = [250, 1_000, 10_000, 100_000] as const;

/** A session's messaging limit as the API shows and takes it; null: not enforced (an unlimited tier). */
export interface MessagingLimitSettings {
  messagingLimit: number | null;
}

/** The messaging limit of session `sessionId`; not_found without the session. */
export async function getMessagingLimit(
  ctx: ApiContext,
  request: FastifyRequest,
  sessionId: string,
): Promise<MessagingLimitSettings> {
  return await tenantTx(ctx, request, async (tx) => {
    const session = await tx.session.findUnique({
      where: { id: sessionId },
      select: { messagingLimit: true },
    });
    if (!session) throw notFound('session');
    return { messagingLimit: session.messagingLimit };
  });
}

/** Replaces the messaging limit of session `sessionId`, audited; a WhatsApp app session takes only null. */
export async function putMessagingLimit(
  ctx: ApiContext,
  request: FastifyRequest,
  sessionId: string,
  settings: MessagingLimitSettings,
): Promise<MessagingLimitSettings> {
  return await tenantTx(ctx, request, async (tx) => {
    const session = await tx.session.findUnique({ where: { id: sessionId }, select: { channel: true } });
    if (!session) throw notFound('session');
    if (settings.messagingLimit !== null && session.channel !== 'cloud_api')
      throw new ApiError(
        'channel_unsupported',
        'messagingLimit: only Cloud API numbers have a messaging limit tier; only null is accepted',
        { issues: [{ path: 'body.messagingLimit', message: 'only null on a WhatsApp app session' }] },
      );
    const row = await tx.session.update({
      where: { id: sessionId },
      data: { messagingLimit: settings.messagingLimit },
      select: { messagingLimit: true },
    });
    await audit(
      tx,
      request,
      'session.messaging_limit_updated',
      { type: 'session', id: sessionId },
      { messagingLimit: settings.messagingLimit },
    );
    return { messagingLimit: row.messagingLimit };
  });
}
