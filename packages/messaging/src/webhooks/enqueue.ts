import { randomUUID } from 'node:crypto';
import { type Db, type Prisma, type TenantTx, withTenant } from '@switchboard/db';
import type { Queue } from 'bullmq';
import { type WebhookDeliveryJob, webhookJobOptions } from '../contracts.ts';
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
 * event id, inside the caller's transaction (the inbound store does this in the message's own
 * transaction and leaves the jobs to the outbox). Returns the delivery ids.
 */
export async function createWebhookDeliveries(
  tx: TenantTx,
  tenantId: string,
  event: WebhookEvent,
): Promise<string[]> {
  const eventId = randomUUID();
  const payload = { id: eventId, type: event.type, createdAt: event.at.toISOString(), data: event.data };
  // One statement (this runs in every inbound transaction): the subscriptions selecting the
  // event (exactly, or by '*'; see subscriptionMatches) each get a row. RLS scopes both tables.
  const rows = await tx.$queryRaw<{ id: string }[]>`
    INSERT INTO webhook_deliveries (tenant_id, subscription_id, event_id, event_type, payload, next_attempt_at)
    SELECT ${tenantId}::uuid, s.id, ${eventId}::uuid, ${event.type}, ${JSON.stringify(payload)}::jsonb, now()
      FROM webhook_subscriptions s
     WHERE s.active AND (${event.type} = ANY(s.events) OR '*' = ANY(s.events))
    RETURNING id::text AS id`;
  return rows.map((row) => row.id);
}

/**
 * Creates the deliveries of an event (see {@link createWebhookDeliveries}) in a transaction of its
 * own, then a job per row (jobId = the delivery id, so re-adding is harmless). Returns the
 * delivery ids.
 */
export async function enqueueWebhookEvent(
  db: Db,
  queue: Queue,
  tenantId: string,
  event: WebhookEvent,
  policy: WebhookRetryPolicy = DEFAULT_WEBHOOK_RETRY,
): Promise<string[]> {
  const ids = await withTenant(db, tenantId, (tx) => createWebhookDeliveries(tx, tenantId, event));
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
