import { type Db, withTenant } from '@switchboard/db';
import type { Queue } from 'bullmq';
import { webhookDeliveryJobId, webhookJobOptions } from '../contracts.ts';
import { DEFAULT_WEBHOOK_RETRY, type WebhookRetryPolicy } from './schedule.ts';

/**
 * Puts a delivery back in line, whatever its status (after a fix on the receiver's side): the row
 * returns to `pending` and its job is retried, or a new one is added when the old job is gone.
 * Attempts keep counting on the row. Used by the worker and by the API's replay route.
 */
export async function replayWebhookDelivery(
  db: Db,
  queue: Queue,
  tenantId: string,
  deliveryId: string,
  retry: WebhookRetryPolicy = DEFAULT_WEBHOOK_RETRY,
): Promise<void> {
  const updated = await withTenant(db, tenantId, (tx) =>
    tx.webhookDelivery.updateMany({
      where: { id: deliveryId },
      data: { status: 'pending', nextAttemptAt: new Date(), lastError: null },
    }),
  );
  if (updated.count === 0) throw new Error(`webhook delivery ${deliveryId} does not exist`);
  const job = await queue.getJob(webhookDeliveryJobId(deliveryId));
  const state = await job?.getState();
  if (job && (state === 'failed' || state === 'completed')) {
    await job.retry(state, { resetAttemptsMade: true, resetAttemptsStarted: true });
    return;
  }
  if (job) return; // still waiting, delayed or active: it will run.
  const options = webhookJobOptions(deliveryId, retry);
  await queue.add(
    'deliver',
    { tenantId, deliveryId },
    { ...options, jobId: `${options.jobId}-replay-${Date.now()}` },
  );
}
