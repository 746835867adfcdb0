// The `session.state_changed` webhook event, recorded in the transaction that writes the state
// (packages/sessions updateSessionState's `inTransaction`), so a stale write announces nothing.
import type { TenantTx } from '@switchboard/db';
import { recordWebhookEvent } from '@switchboard/messaging';
import type { SessionFence, SessionStateUpdate } from '@switchboard/sessions';

/** Records `session.state_changed` for a state the session's row now has; returns the outbox row ids. */
export async function recordSessionStateEvent(
  tx: TenantTx,
  fence: SessionFence,
  update: SessionStateUpdate,
): Promise<string[]> {
  return await recordWebhookEvent(tx, fence.tenantId, {
    type: 'session.state_changed',
    data: {
      sessionId: fence.sessionId,
      state: update.state,
      ...(update.reason ? { reason: update.reason } : {}),
      ...(update.phoneNumber ? { phoneNumber: update.phoneNumber } : {}),
    },
  });
}
