/**
 * What the API imports from this package, and all it imports (`@switchboard/messaging/producer`):
 * the wire contract it shares with the workers, and the few things a producer does beside adding
 * jobs: replaying what failed, filing a first outbound message under its conversation, storing
 * the media it accepts. Nothing here consumes a queue or talks to a channel; the workers' side
 * (consumers, pipelines, relay) is the package's main entry.
 */

/** Business hours: the settings the API validates and the worker's away replies read. */
export {
  type BusinessHours,
  businessHoursSchema,
  DEFAULT_BUSINESS_HOURS,
  isTimeZone,
  isWithinBusinessHours,
  localClock,
  readBusinessHours,
  WEEKDAYS,
  type Weekday,
} from './away/business-hours.ts';
/** Session bots: the flow engine's answer, the hand-off state, automated replies (the API's bot routes). */
export {
  BOT_EVENT_TYPE,
  BOT_MAX_REPLIES,
  BOT_SECRET_PURPOSE,
  type BotAnswer,
  type BotDeliveryPayload,
  type BotReply,
  botAnswerSchema,
  botReplySchema,
  matchesKeyword,
  parseBotAnswer,
} from './bot/answer.ts';
export {
  type AutomationStopReason,
  automationMayAnswer,
  resumeAutomation,
  type StoredReplies,
  stopAutomation,
  storeAutomatedReplies,
} from './bot/automation.ts';
/** Campaigns (issue #20.3): segments, templates, recipients, opt-outs and counts, shared by the API and the runner. */
export {
  type CampaignCounts,
  type CampaignSegment,
  type CampaignStatus,
  type CampaignTemplate,
  campaignCounts,
  campaignIdempotencyKey,
  campaignSegmentSchema,
  campaignTemplateSchema,
  createRecipients,
  DEFAULT_OPT_IN_KEYWORDS,
  DEFAULT_OPT_OUT_KEYWORDS,
  optedOut,
  optKeywords,
  recordCampaignProgress,
  resolveSegment,
} from './campaigns/campaigns.ts';
/** The campaign runner (the worker's campaigns.ts runs it; it only adds outbound jobs, as the API does). */
export { CampaignRunner, type CampaignRunnerOptions, type CampaignTickResult } from './campaigns/runner.ts';
/** The wire contract: key prefixes, queue names, job schemas and options, realtime events. */
export {
  type CloudApiInboundJob,
  cloudApiInboundJobSchema,
  type MediaDownloadJob,
  mediaDownloadJobId,
  mediaDownloadJobSchema,
  type OutboundJob,
  outboundJobId,
  outboundJobOptions,
  outboundJobSchema,
  type PairingRecord,
  pairingKey,
  pairingRecordSchema,
  providerMessageIdFor,
  publishRealtimeEvent,
  QUEUE_NAMES,
  queuePrefix,
  REALTIME_EVENT_FIELD,
  REALTIME_MESSAGE_MAX_BODY_BYTES,
  REALTIME_STREAM_MAX_LEN,
  REQUEST_ID_PATTERN,
  type RealtimeEvent,
  type RealtimeMessage,
  type RealtimeStreamWriter,
  realtimeEventSchema,
  realtimeMessage,
  realtimeMessageSchema,
  realtimeStreamKey,
  requestIdOf,
  type SessionCommand,
  sessionCommandJobId,
  sessionCommandSchema,
  tenantKeyPrefix,
  WEBHOOK_SECRET_PURPOSE,
  type WebhookDeliveryJob,
  webhookDeliveryJobId,
  webhookDeliveryJobSchema,
  webhookJobOptions,
} from './contracts.ts';
/** WhatsApp groups: the group command, its result, and the shapes of a group message's sender and mentions. */
export {
  type GroupCommandResult,
  type GroupInfoResult,
  type GroupMentions,
  type GroupOperation,
  type GroupSender,
  type GroupSessionCommand,
  groupCommandResultSchema,
  groupInfoResultSchema,
  groupJidSchema,
  groupMentionsSchema,
  groupOperationSchema,
  groupSenderSchema,
  groupSubjectSchema,
  MAX_GROUP_OPERATION_PARTICIPANTS,
  participantPhoneSchema,
  type StoredParticipant,
  storedParticipantsSchema,
} from './groups/contracts.ts';
/** The conversation a first outbound message to a number goes to (created or reopened). */
export { conversationForNumber } from './inbound/identities.ts';
/** Media the API accepts: which types, and the storage both sides build from the same settings. */
export { DEFAULT_ALLOWED_MEDIA_TYPES } from './media/allowed-types.ts';
export { S3MediaStorage, type S3MediaStorageOptions } from './media/s3-storage.ts';
export {
  type MediaStorageFromSettingsOptions,
  type MediaStorageSettings,
  mediaStorageFromSettings,
  mediaStorageSettingsSchema,
} from './media/settings.ts';
export { assertStorageKey, LocalMediaStorage, type MediaStorage } from './media/storage.ts';
/** The content of a scheduled message, validated by the API before it is stored. */
export { outboundContentSchema } from './outbound/content.ts';
/** Outbound dead letters of a session's queue: listed and replayed the same way by the API and the worker. */
export {
  type DeadLetter,
  DeadLetterError,
  listDeadLetters,
  replayDeadLetter,
} from './outbound/dead-letters.ts';
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
/**
 * The webhook event catalogue (types, versioned payload schemas) and the one way a change records
 * an event in its own transaction: the API's conversation changes, the worker's session states,
 * receipts and calls.
 */
export {
  isWebhookEventType,
  recordWebhookEvent,
  WEBHOOK_EVENT_SUMMARIES,
  WEBHOOK_EVENT_TYPES,
  WEBHOOK_EVENT_VERSION,
  type WebhookEventInput,
  type WebhookEventType,
  webhookBodyJsonSchema,
  webhookEnvelopeSchema,
  webhookEventDataSchemas,
} from './webhooks/events.ts';
/** Webhook receivers: only public addresses unless allow-listed (registration and delivery check alike). */
export { checkReceiver, isInternalAddress, type ReceiverCheck } from './webhooks/receiver-address.ts';
/** A webhook delivery put back in line (the API's replay route, the worker's replay). */
export { replayWebhookDelivery } from './webhooks/replay.ts';
