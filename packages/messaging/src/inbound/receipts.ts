// Delivery receipts: a message's status moves forward only, with its history and realtime event.
import type { Receipt } from '@switchboard/channels';
import { type Db, type MessageStatus, type TenantTx, withTenant } from '@switchboard/db';
import {
  currentTraceContext,
  spanAttributes,
  traceContextFromTraceparent,
  withSpan,
} from '@switchboard/telemetry';
import { writeOutbox } from '../outbox/entries.ts';
import { recordMessageStatusEvent } from '../webhooks/status-events.ts';
import { INBOUND_TX } from './transaction.ts';

/** The order statuses move in; `failed` is reachable from any status but `read`. */
const STATUS_RANK: Record<MessageStatus, number> = { queued: 0, sent: 1, delivered: 2, read: 3, failed: 4 };

/** Whether a message in status `from` may move to `to` (never backwards, failed is terminal). */
export function canMoveStatus(from: MessageStatus, to: MessageStatus): boolean {
  if (from === 'failed') return false;
  if (to === 'failed') return from !== 'read';
  return STATUS_RANK[to] > STATUS_RANK[from];
}

/** What applyReceipt did. */
export type ApplyReceiptResult =
  | {
      applied: true;
      messageId: string;
      conversationId: string;
      status: MessageStatus;
      reason?: string;
      /** The outbox row of its `message.updated` event. */
      outboxIds: string[];
    }
  | { applied: false; reason: 'unknown-message' | 'not-forward' };

/** Which statuses may move to `to` (for the conditional UPDATE). */
function statusesBefore(to: MessageStatus): MessageStatus[] {
  return (Object.keys(STATUS_RANK) as MessageStatus[]).filter((from) => canMoveStatus(from, to));
}

/**
 * Moves a message's status forward (queued -> sent -> delivered -> read; failed from any status but
 * read) and records the status in message_status_events. A receipt that would move it backwards,
 * or repeats the current status, changes nothing. The UPDATE is conditional on the current status,
 * so concurrent receipts cannot move it backwards either. The worker's send passes the traceparent
 * of its span with `sent` (`sendTraceparent`), kept on the message so its statuses continue it.
 */
export async function setMessageStatus(
  tx: TenantTx,
  tenantId: string,
  messageId: string,
  status: MessageStatus,
  at: Date,
  extra: { reason?: string; providerMessageId?: string; epoch?: bigint; sendTraceparent?: string } = {},
): Promise<boolean> {
  const sendTraceparent =
    status === 'sent' && traceContextFromTraceparent(extra.sendTraceparent)
      ? extra.sendTraceparent
      : undefined;
  const timestamps =
    status === 'sent'
      ? { sentAt: at }
      : status === 'delivered'
        ? { deliveredAt: at }
        : status === 'read'
          ? { readAt: at }
          : {};
  const result = await tx.message.updateMany({
    where: { id: messageId, status: { in: statusesBefore(status) } },
    data: {
      status,
      ...timestamps,
      ...(status === 'failed' ? { failureReason: extra.reason ?? 'failed' } : {}),
      ...(extra.providerMessageId ? { providerMessageId: extra.providerMessageId } : {}),
      ...(extra.epoch !== undefined ? { epoch: extra.epoch } : {}),
      ...(sendTraceparent ? { sendTraceparent } : {}),
    },
  });
  if (result.count === 0) {
    // A status overtook the record of the send ("delivered" before "sent" was written): the send's
    // trace is still kept, for the statuses still to come.
    if (sendTraceparent)
      await tx.message.updateMany({
        where: { id: messageId, sendTraceparent: null },
        data: { sendTraceparent },
      });
    return false;
  }
  // A later status implies the earlier ones (WhatsApp and Meta may skip or reorder them): their
  // times are filled in when still unknown, so a read message always has a delivered time.
  if (status === 'delivered' || status === 'read')
    await tx.message.updateMany({ where: { id: messageId, sentAt: null }, data: { sentAt: at } });
  if (status === 'read')
    await tx.message.updateMany({ where: { id: messageId, deliveredAt: null }, data: { deliveredAt: at } });
  await tx.messageStatusEvent.create({
    data: { tenantId, messageId, status, reason: extra.reason ?? null, occurredAt: at },
  });
  return true;
}

/** The failure reason of a receipt as people read it: Meta's code and title, or the channel's words. */
export function receiptFailureReason(receipt: Receipt): string {
  const failure = receipt.failure;
  if (!failure) return 'provider reported failure';
  const head = [failure.code === undefined ? undefined : String(failure.code), failure.title]
    .filter(Boolean)
    .join(' ');
  const text = [head, failure.detail].filter(Boolean).join(': ');
  return (text || 'provider reported failure').slice(0, 500);
}

/** Reasons of a message whose send outcome is unknown (see the outbound consumer). */
const UNKNOWN_OUTCOME_REASONS = ['OUTCOME_UNKNOWN', 'SEND_OUTCOME_UNKNOWN'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A status naming a provider id no message has, but carrying our callback data (the message id
 * the outbound consumer sends with): the send was accepted but its record was lost (a crash
 * between the provider's answer and `sent`). The provider's id is adopted onto that message of
 * this tenant (RLS) and session, when it has no provider id of its own yet: still `queued` (no
 * id, or only our sending intent) or failed for an unknown outcome. A failed one is put back to
 * `queued` in this transaction so the status moves it forward as usual.
 */
async function adoptProviderId(
  tx: TenantTx,
  receipt: Receipt,
): Promise<{ id: string; conversationId: string; sendTraceparent: string | null } | undefined> {
  const ours = receipt.callbackData;
  if (!ours || !UUID.test(ours)) return undefined;
  const unknownOutcome = UNKNOWN_OUTCOME_REASONS.map((reason) => ({
    failureReason: { startsWith: `${reason}:` },
  }));
  const candidate = { id: ours, sessionId: receipt.sessionId, direction: 'outbound' as const };
  const adopted = await tx.message.updateMany({
    where: {
      ...candidate,
      OR: [{ status: 'queued' }, { status: 'failed', OR: unknownOutcome }],
    },
    data: { providerMessageId: receipt.providerMessageId, status: 'queued', failureReason: null },
  });
  if (adopted.count === 0) return undefined;
  return (
    (await tx.message.findFirst({
      where: candidate,
      select: { id: true, conversationId: true, sendTraceparent: true },
    })) ?? undefined
  );
}

/**
 * Applies a delivery receipt to the message it names (by session and provider message id).
 *
 * A status arrives in a trace of its own (Meta's webhook POST, or the socket's event), not in the
 * send's. When the message kept its send's traceparent, the status is applied in a CONSUMER span
 * `process whatsapp.status` that is a child of the send (so the send's trace shows what became of
 * the message, down to the effects of the status: the outbox rows written here continue it) and
 * links to the span the status arrived in. The OpenTelemetry messaging conventions make the
 * creation context a link when a consumer's own trace is the parent; here the status is the
 * send's consequence and its own trace is a one-hop delivery, so the send is the parent and the
 * delivery the link: either trace leads to the other.
 */
export async function applyReceipt(db: Db, tenantId: string, receipt: Receipt): Promise<ApplyReceiptResult> {
  const arrivedIn = currentTraceContext();
  return await withTenant(
    db,
    tenantId,
    async (tx) => {
      const message =
        (await tx.message.findFirst({
          where: { sessionId: receipt.sessionId, providerMessageId: receipt.providerMessageId },
          select: { id: true, conversationId: true, sendTraceparent: true },
        })) ?? (await adoptProviderId(tx, receipt));
      if (!message) return { applied: false, reason: 'unknown-message' } as const;
      const send = traceContextFromTraceparent(message.sendTraceparent);
      if (!send) return await applyStatus(tx, tenantId, receipt, message);
      return await withSpan(
        'process whatsapp.status',
        {
          kind: 'consumer',
          parent: send,
          links: [arrivedIn],
          attributes: {
            'messaging.system': 'whatsapp',
            'messaging.operation.type': 'process',
            'messaging.operation.name': 'process',
            'messaging.destination.name': 'whatsapp.status',
            [spanAttributes.session]: receipt.sessionId,
            [spanAttributes.messageId]: message.id,
            [spanAttributes.messageStatus]: receipt.status,
          },
        },
        () => applyStatus(tx, tenantId, receipt, message),
      );
    },
    INBOUND_TX,
  );
}

/** The status move of {@link applyReceipt}, with its `message.updated` outbox row. */
async function applyStatus(
  tx: TenantTx,
  tenantId: string,
  receipt: Receipt,
  message: { id: string; conversationId: string },
): Promise<ApplyReceiptResult> {
  const reason = receipt.status === 'failed' ? receiptFailureReason(receipt) : undefined;
  const at = receipt.at ?? new Date();
  const moved = await setMessageStatus(tx, tenantId, message.id, receipt.status, at, {
    ...(reason ? { reason } : {}),
  });
  // A receipt behind the current status (delivered after read: WhatsApp and Meta do not
  // promise order) changes nothing; the history holds the statuses the message moved through.
  if (!moved) return { applied: false, reason: 'not-forward' } as const;
  const outboxIds = await writeOutbox(tx, tenantId, [
    {
      kind: 'realtime.event',
      payload: {
        type: 'message.updated',
        at: new Date().toISOString(),
        data: {
          messageId: message.id,
          conversationId: message.conversationId,
          status: receipt.status,
          ...(reason ? { reason } : {}),
        },
      },
    },
  ]);
  outboxIds.push(...(await recordMessageStatusEvent(tx, tenantId, receipt, message, at, reason)));
  return {
    applied: true,
    messageId: message.id,
    conversationId: message.conversationId,
    status: receipt.status,
    ...(reason ? { reason } : {}),
    outboxIds,
  } as const;
}
