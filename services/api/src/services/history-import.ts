// A session's history import (read by the worker when a Baileys number is paired; packages/channels
// baileys/history.ts): none, or the last N days of chats. Changes audited.
import type { FastifyRequest } from 'fastify';
import { audit } from '../audit.ts';
import { type ApiContext, tenantTx } from '../context.ts';
import { ApiError, notFound } from '../errors.ts';

/** `none`, or how many days of chats to import at pairing. */
export type HistoryImport = 'none' | number;

/** A session's history import as the API shows and takes it. */
export interface HistoryImportSettings {
  historyImport: HistoryImport;
}

/** The history import of session `sessionId`; not_found without the session. */
export async function getHistoryImport(
  ctx: ApiContext,
  request: FastifyRequest,
  sessionId: string,
): Promise<HistoryImportSettings> {
  return await tenantTx(ctx, request, async (tx) => {
    const session = await tx.session.findUnique({
      where: { id: sessionId },
      select: { historyImportDays: true },
    });
    if (!session) throw notFound('session');
    return { historyImport: session.historyImportDays ?? 'none' };
  });
}

/**
 * Replaces the history import of session `sessionId`, audited. A Cloud API session takes only
 * `none` (channel_unsupported: Meta sends no history). It applies to the next pairing.
 */
export async function putHistoryImport(
  ctx: ApiContext,
  request: FastifyRequest,
  sessionId: string,
  settings: HistoryImportSettings,
): Promise<HistoryImportSettings> {
  return await tenantTx(ctx, request, async (tx) => {
    const session = await tx.session.findUnique({ where: { id: sessionId }, select: { channel: true } });
    if (!session) throw notFound('session');
    const days = settings.historyImport === 'none' ? null : settings.historyImport;
    if (days !== null && session.channel !== 'baileys')
      throw new ApiError(
        'channel_unsupported',
        'historyImport: the Cloud API sends no chat history; only "none" is accepted',
        { issues: [{ path: 'body.historyImport', message: 'only "none" on a Cloud API session' }] },
      );
    const row = await tx.session.update({
      where: { id: sessionId },
      data: { historyImportDays: days },
      select: { historyImportDays: true },
    });
    await audit(
      tx,
      request,
      'session.history_import_updated',
      { type: 'session', id: sessionId },
      { historyImport: settings.historyImport },
    );
    return { historyImport: row.historyImportDays ?? 'none' };
  });
}
