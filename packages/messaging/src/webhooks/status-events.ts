// The `message.status` webhook event of a receipt applied by applyReceipt (inbound/receipts.ts),
// recorded in the receipt's own transaction.
import type { Receipt } from '@switchboard/channels';
import type { TenantTx } from '@switchboard/db';
import { recordWebhookEvent } from './events.ts';

/**
 * Records `message.status` for a status the message moved to: delivered, read or failed (with the
 * reason). `sent` is not announced: an outbound message's `sent` is the send's own record, and an
 * echo of the phone's own message is already `message.sent`. Returns the outbox row ids.
 */
export async function recordMessageStatusEvent(
  tx: TenantTx,
  tenantId: string,
  receipt: Receipt,
  message: { id: string; conversationId: string },
  at: Date,
  reason: string | undefined,
): Promise<string[]> {
  if (receipt.status !== 'delivered' && receipt.status !== 'read' && receipt.status !== 'failed') return [];
  return await recordWebhookEvent(tx, tenantId, {
    type: 'message.status',
    data: {
      messageId: message.id,
      conversationId: message.conversationId,
      sessionId: receipt.sessionId,
      providerMessageId: receipt.providerMessageId,
      status: receipt.status,
      ...(reason ? { reason } : {}),
      at: at.toISOString(),
    },
  });
}
