import { randomUUID } from 'node:crypto';
import { type Db, type Prisma, withTenant } from '@switchboard/db';
import type { Queue } from 'bullmq';
import { type WebhookDeliveryJob, webhookDeliveryJobId } from '../effects.ts';
import { DEFAULT_WEBHOOK_RETRY, type WebhookRetryPolicy } from './schedule.ts';

/** A tenant-facing webhook event. */
export interface WebhookEvent {
  type: string;
  /** Event data; may hold message content (the tenant's own endpoint, over HTTPS). */
  data: Prisma.InputJsonObject;
  at: Date;
}

/** Whether a subscription's event list selects `type` (`*` selects everything). */
export function subscriptionMatches(events: string[], type: string): boolean {
  return events.includes(type) || events.includes('*');
}

/**
 * Creates one webhook_deliveries row per active subscription selecting the event, all under one
 * event id, and a job per row (jobId = the delivery id, so re-adding is harmless). Returns the
 * delivery ids.
 */
export async function enqueueWebhookEvent(
  db: Db,
  queue: Queue,
  tenantId: string,
  event: WebhookEvent,
  policy: WebhookRetryPolicy = DEFAULT_WEBHOOK_RETRY,
): Promise<string[]> {
  const eventId = randomUUID();
  const payload = { id: eventId, type: event.type, createdAt: event.at.toISOString(), data: event.data };
  const ids = await withTenant(db, tenantId, async (tx) => {
    const subscriptions = await tx.webhookSubscription.findMany({
      where: { active: true },
      select: { id: true, events: true },
    });
    const created: string[] = [];
    for (const subscription of subscriptions) {
      if (!subscriptionMatches(subscription.events, event.type)) continue;
      const row = await tx.webhookDelivery.create({
        data: {
          tenantId,
          subscriptionId: subscription.id,
          eventId,
          eventType: event.type,
          payload,
          nextAttemptAt: new Date(),
        },
        select: { id: true },
      });
      created.push(row.id);
    }
    return created;
  });
  if (ids.length > 0)
    await queue.addBulk(
      ids.map((deliveryId) => ({
        name: 'deliver',
        data: { tenantId, deliveryId } satisfies WebhookDeliveryJob,
        opts: webhookJobOptions(deliveryId, policy),
      })),
    );
  return ids;
}

/** BullMQ options of a delivery's job: retried by the processor's custom backoff. */
export function webhookJobOptions(deliveryId: string, policy: WebhookRetryPolicy = DEFAULT_WEBHOOK_RETRY) {
  return {
    jobId: webhookDeliveryJobId(deliveryId),
    attempts: policy.attempts,
    backoff: { type: 'webhook' },
    removeOnComplete: { count: 1000 },
    removeOnFail: false,
  };
}
