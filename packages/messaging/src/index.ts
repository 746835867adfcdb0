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
/** PN/LID contact merges (run by the inbound store when the provider links two known contacts). */
export { type MergeReason, type MergeResult, mergeContacts } from './inbound/merge.ts';
export { InboundPipeline, type InboundPipelineOptions } from './inbound/pipeline.ts';
/** Inbound: store what a channel emits (messages, receipts, identity links) and emit its events. */
export {
  type ApplyIdentityLinkResult,
  type ApplyReceiptResult,
  applyIdentityLink,
  applyReceipt,
  canMoveStatus,
  conversationForNumber,
  type StoreInboundOptions,
  type StoreInboundResult,
  storeInbound,
  type UpsertContactOptions,
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
/** Media in an S3 (or S3-compatible) bucket, under the tenant's prefix. */
export { S3MediaStorage, type S3MediaStorageOptions } from './media/s3-storage.ts';
/** Media storage from MEDIA_STORAGE / MEDIA_DIR / S3_* (one schema for the API and the worker). */
export {
  type MediaStorageFromSettingsOptions,
  type MediaStorageSettings,
  mediaStorageFromSettings,
  mediaStorageSettingsSchema,
} from './media/settings.ts';
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
  contentFromMessage,
  DEFAULT_HUMAN_DELAY,
  type HumanDelay,
  humanDelayMs,
  NO_HUMAN_DELAY,
  type OutboundMediaSource,
  type OutboundMessageColumns,
  outboundContentSchema,
  resolveOutboundContent,
  storedTemplateSchema,
} from './outbound/content.ts';
export {
  type DeadLetter,
  DeadLetterError,
  listDeadLetters,
  replayDeadLetter,
} from './outbound/dead-letters.ts';
export { DEFAULT_OUTBOUND_LIMITS, type OutboundLimits, takeSendSlot } from './outbound/rate-limit.ts';
/** The outbox: effects written in the inbound transaction, performed after the commit by a relay. */
export {
  type OutboxEffect,
  type OutboxKind,
  outboxPayloadSchemas,
  parseOutboxEntry,
  writeOutbox,
} from './outbox/entries.ts';
export {
  OutboxRelay,
  type OutboxRelayOptions,
  REALTIME_OUTBOX_ID_FIELD,
  type RelayPassResult,
} from './outbox/relay.ts';
export {
  type DeliveryOutcome,
  replayWebhookDelivery,
  type SubscriptionSecretSource,
  WebhookDeliveryWorker,
  type WebhookDeliveryWorkerOptions,
} from './webhooks/delivery-worker.ts';
/** Tenant webhooks: enqueueing, delivery, and the receiver's signature check. */
export {
  createWebhookDeliveries,
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
