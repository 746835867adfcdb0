// The workers' entry: the pipelines, consumers and relay, with everything of the producer entry.
/** Inbound: store what a channel emits (messages, receipts, identity links) and emit its events. */

/** Session bots: customers' messages delivered to a flow engine, its answers sent, hand-off. */
export {
  type BotDeliveryOutcome,
  BotDeliveryWorker,
  type BotDeliveryWorkerOptions,
  type BotSecretSource,
} from './bot/delivery-worker.ts';
export {
  BOT_DELIVERIES_QUEUE,
  type BotDeliveryJob,
  type BotDispatchOutcome,
  botDeliveryJobOptions,
  botDeliveryJobSchema,
  dispatchToBot,
} from './bot/dispatch.ts';
/** WhatsApp groups: the group's contact and row, its info and changes (system lines, webhooks). */
export {
  type GroupChangeOutcome,
  groupContactId,
  groupLine,
  recordGroupChange,
  storeGroupInfo,
} from './groups/store.ts';
export {
  type ApplyIdentityLinkResult,
  applyIdentityLink,
  type UpsertContactOptions,
  upsertContact,
  upsertConversation,
} from './inbound/identities.ts';
/** PN/LID contact merges (run by the inbound store when the provider links two known contacts). */
export { type MergeReason, type MergeResult, mergeContacts } from './inbound/merge.ts';
export { type StoreInboundOptions, type StoreInboundResult, storeInbound } from './inbound/messages.ts';
export { InboundPipeline, type InboundPipelineOptions } from './inbound/pipeline.ts';
export { type ApplyReceiptResult, applyReceipt, canMoveStatus } from './inbound/receipts.ts';
/** Media: download inbound media into storage. */
export {
  MediaDownloadWorker,
  type MediaDownloadWorkerOptions,
  type MediaFetcher,
  type MediaProviderRef,
  MediaRejectedError,
  mediaProviderRefSchema,
} from './media/download-worker.ts';
export { DEFAULT_OUTBOUND_RETRY, type OutboundRetryPolicy, outboundBackoffMs } from './outbound/backoff.ts';
/** Outbound: one consumer per held session. */
export {
  OutboundConsumer,
  type OutboundConsumerOptions,
  type OutboundOutcome,
} from './outbound/consumer.ts';
export {
  contentFromMessage,
  DEFAULT_HUMAN_DELAY,
  type HumanDelay,
  humanDelayMs,
  NO_HUMAN_DELAY,
  type OutboundMediaSource,
  type OutboundMessageColumns,
  resolveOutboundContent,
  storedTemplateSchema,
} from './outbound/content.ts';
/** Interactive messages and polls: the send schemas with Meta's and WhatsApp's limits, and their columns. */
export {
  INTERACTIVE_LIMITS,
  type InteractiveMessageInput,
  interactiveColumns,
  interactiveMessageSchema,
  interactiveReplySchema,
  POLL_LIMITS,
  type PollInput,
  pollColumns,
  pollSchema,
  pollVoteSchema,
} from './outbound/interactive.ts';
export { DEFAULT_OUTBOUND_LIMITS, type OutboundLimits, takeSendSlot } from './outbound/rate-limit.ts';
/** Sends queued outside a session's consumer: the `message.created` effect and the jobs added after the commit. */
export { outboundCreatedEffect, SendJobs, type SendJobsOptions } from './outbound/send-jobs.ts';
/** The reads and records of sends, each gathered into one statement across the sends in flight (one per worker process). */
export { SendStatements, type SendStatementsOptions } from './outbound/statements.ts';
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
/** The wire contract and what the API uses beside it (also the `./producer` entry, which the API imports alone). */
export * from './producer.ts';
export {
  type DeliveryOutcome,
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
} from './webhooks/enqueue.ts';
export { DEFAULT_WEBHOOK_RETRY, minimumRetrySpanMs, type WebhookRetryPolicy } from './webhooks/schedule.ts';
/** Webhook secrets sealed with SEALING_KEYS: opened for deliveries, re-sealed after a rotation. */
export {
  type ResealResult,
  resealWebhookSecrets,
  type SealingKeyring as WebhookSealingKeyring,
  type SubscriptionSecretResolverOptions,
  subscriptionSecretResolver,
} from './webhooks/sealed-secrets.ts';
export {
  signWebhook,
  type VerifyWebhookSignatureOptions,
  verifyWebhookSignature,
  WEBHOOK_HEADERS,
  type WebhookVerification,
} from './webhooks/signature.ts';
