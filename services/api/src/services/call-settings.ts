// A session's call handling (read by the worker's calls.ts): decline incoming WhatsApp calls, and
// the text answered to the caller. Defaults (off) when never saved; changes audited.
import type { FastifyRequest } from 'fastify';
import { audit } from '../audit.ts';
import { type ApiContext, tenantTx } from '../context.ts';
import { notFound } from '../errors.ts';

/** A session's call settings as the API shows and takes them. */
export interface CallSettings {
  rejectCalls: boolean;
  replyText: string | null;
}

/** The call settings of session `sessionId` (off when never saved); not_found without the session. */
export async function getCallSettings(
  ctx: ApiContext,
  request: FastifyRequest,
  sessionId: string,
): Promise<CallSettings> {
  return await tenantTx(ctx, request, async (tx) => {
    if (!(await tx.session.findUnique({ where: { id: sessionId } }))) throw notFound('session');
    const row = await tx.sessionCallSettings.findUnique({
      where: { tenantId_sessionId: { tenantId: request.principal.tenantId, sessionId } },
    });
    return { rejectCalls: row?.rejectCalls ?? false, replyText: row?.replyText ?? null };
  });
}

/** Replaces the call settings of session `sessionId`, audited. */
export async function putCallSettings(
  ctx: ApiContext,
  request: FastifyRequest,
  sessionId: string,
  settings: CallSettings,
): Promise<CallSettings> {
  const tenantId = request.principal.tenantId;
  return await tenantTx(ctx, request, async (tx) => {
    if (!(await tx.session.findUnique({ where: { id: sessionId } }))) throw notFound('session');
    const row = await tx.sessionCallSettings.upsert({
      where: { tenantId_sessionId: { tenantId, sessionId } },
      create: { tenantId, sessionId, ...settings },
      update: settings,
    });
    await audit(
      tx,
      request,
      'session.call_settings_updated',
      { type: 'session', id: sessionId },
      { rejectCalls: settings.rejectCalls },
    );
    return { rejectCalls: row.rejectCalls, replyText: row.replyText };
  });
}
