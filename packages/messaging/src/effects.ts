import type { Redis } from 'ioredis';
import { z } from 'zod';

/**
 * What the pipelines need besides Postgres: a Redis connection for the realtime stream, rate
 * limits and queues, and the tenant's key prefix. Job payloads the contract does not (yet) name
 * live here; see the README: they belong in contracts.ts once the API needs them.
 */
export interface PipelineRedis {
  /** A `command` (or `worker`) connection: streams, Lua scripts, Queue.add. */
  redis: Redis;
  /** The tenant's key prefix (`tenantKeyPrefix(slug)`). */
  keyPrefix: string;
}

const uuid = z.uuid({ error: 'must be a uuid' });

/** A job on the webhook-deliveries queue: one delivery row, by id (jobId = `delivery-<id>`). */
export const webhookDeliveryJobSchema = z.strictObject({ tenantId: uuid, deliveryId: uuid });
export type WebhookDeliveryJob = z.infer<typeof webhookDeliveryJobSchema>;

/** A job on the media-downloads queue: fetch the media of one inbound message (jobId = `media-<id>`). */
export const mediaDownloadJobSchema = z.strictObject({ tenantId: uuid, sessionId: uuid, messageId: uuid });
export type MediaDownloadJob = z.infer<typeof mediaDownloadJobSchema>;

/** The jobId of a webhook delivery's job. */
export function webhookDeliveryJobId(deliveryId: string): string {
  return `delivery-${deliveryId}`;
}

/** The jobId of a media download's job. */
export function mediaDownloadJobId(messageId: string): string {
  return `media-${messageId}`;
}
