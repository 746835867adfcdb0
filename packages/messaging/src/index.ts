/** The wire contract between the API and the workers: key prefixes, queues, jobs, realtime events. */
export {
  type CloudApiInboundJob,
  cloudApiInboundJobSchema,
  type OutboundJob,
  outboundJobId,
  outboundJobSchema,
  type PairingRecord,
  pairingKey,
  pairingRecordSchema,
  publishRealtimeEvent,
  QUEUE_NAMES,
  queuePrefix,
  REALTIME_EVENT_FIELD,
  REALTIME_STREAM_MAX_LEN,
  type RealtimeEvent,
  type RealtimeStreamWriter,
  realtimeEventSchema,
  realtimeStreamKey,
  type SessionCommand,
  sessionCommandJobId,
  sessionCommandSchema,
  tenantKeyPrefix,
  WEBHOOK_SECRET_PURPOSE,
} from './contracts.ts';
/** Job payloads this package defines until contracts.ts names them. */
export {
  type MediaDownloadJob,
  mediaDownloadJobId,
  mediaDownloadJobSchema,
  type WebhookDeliveryJob,
  webhookDeliveryJobId,
  webhookDeliveryJobSchema,
} from './effects.ts';
export { InboundPipeline, type InboundPipelineOptions } from './inbound/pipeline.ts';
/** Inbound: store what a channel emits (messages, receipts, identity links) and emit its events. */
export {
  type ApplyIdentityLinkResult,
  type ApplyReceiptResult,
  applyIdentityLink,
  applyReceipt,
  canMoveStatus,
  type StoreInboundOptions,
  type StoreInboundResult,
  storeInbound,
  upsertContact,
} from './inbound/store.ts';
/** Media: download inbound media into storage. */
export {
  DEFAULT_ALLOWED_MEDIA_TYPES,
  MediaDownloadWorker,
  type MediaDownloadWorkerOptions,
  type MediaFetcher,
  type MediaProviderRef,
  MediaRejectedError,
  mediaProviderRefSchema,
} from './media/download-worker.ts';
export { assertStorageKey, LocalMediaStorage, type MediaStorage } from './media/storage.ts';
export { DEFAULT_OUTBOUND_RETRY, type OutboundRetryPolicy, outboundBackoffMs } from './outbound/backoff.ts';
/** Outbound: one consumer per held session. */
export {
  OutboundConsumer,
  type OutboundConsumerOptions,
  type OutboundOutcome,
  outboundJobOptions,
  providerMessageIdFor,
} from './outbound/consumer.ts';
export {
  DEFAULT_HUMAN_DELAY,
  type HumanDelay,
  humanDelayMs,
  NO_HUMAN_DELAY,
  outboundContentSchema,
} from './outbound/content.ts';
export { DEFAULT_OUTBOUND_LIMITS, type OutboundLimits, takeSendSlot } from './outbound/rate-limit.ts';
export {
  type DeliveryOutcome,
  replayWebhookDelivery,
  type SubscriptionSecretSource,
  WebhookDeliveryWorker,
  type WebhookDeliveryWorkerOptions,
} from './webhooks/delivery-worker.ts';
/** Tenant webhooks: enqueueing, delivery, and the receiver's signature check. */
export {
  enqueueWebhookEvent,
  subscriptionMatches,
  type WebhookEvent,
  webhookJobOptions,
} from './webhooks/enqueue.ts';
export { DEFAULT_WEBHOOK_RETRY, minimumRetrySpanMs, type WebhookRetryPolicy } from './webhooks/schedule.ts';
export {
  signWebhook,
  type VerifyWebhookSignatureOptions,
  verifyWebhookSignature,
  WEBHOOK_HEADERS,
  type WebhookVerification,
} from './webhooks/signature.ts';
