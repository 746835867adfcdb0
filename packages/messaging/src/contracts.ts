import type { JobsOptions } from 'bullmq';
import { z } from 'zod';
import { groupMentionsSchema, groupSenderSchema, groupSessionCommandSchema } from './groups/contracts.ts';
import { DEFAULT_OUTBOUND_RETRY, type OutboundRetryPolicy } from './outbound/backoff.ts';
import { DEFAULT_WEBHOOK_RETRY, type WebhookRetryPolicy } from './webhooks/schedule.ts';

/**
 * What the API and the workers agree on: Redis key and queue names, the jobs one side puts on a
 * queue and the other consumes, and the realtime events the workers append and the API streams.
 * Both sides import these schemas, so a job or event that does not match is refused by name
 * instead of half-processed. Changing a shape here is a wire-format change: add fields as
 * optional, never repurpose one.
 */

/** The Redis key prefix of a tenant's stack: every key, queue and stream of the tenant lives under it. */
export function tenantKeyPrefix(slug: string): string {
  return `sb:${slug}:`;
}

/** BullMQ's `prefix` option for the tenant's queues (BullMQ appends `:<queue>:...`). */
export function queuePrefix(keyPrefix: string): string {
  return `${keyPrefix}bull`;
}

/** Queue names. BullMQ refuses ':' in a queue name, hence '-'. */
export const QUEUE_NAMES = {
  /** One queue per session, consumed only by the worker holding the session's lease. */
  outbound: (sessionId: string) => `outbound-${sessionId}`,
  /** Meta's webhook payloads, accepted (signature checked) by the API and processed by a worker. */
  cloudApiInbound: 'cloud-api-inbound',
  /** Deliveries to tenants' own webhook subscriptions. */
  webhookDeliveries: 'webhook-deliveries',
  /** Background downloads of inbound media into storage. */
  mediaDownloads: 'media-downloads',
  /**
   * One queue per session for what only the socket's holder can do (log out, ask WhatsApp for a
   * pairing code): consumed, like `outbound`, by the worker holding the session's lease, so a
   * command sent while no worker holds the session waits for the next one instead of being lost.
   */
  sessionCommands: (sessionId: string) => `session-commands-${sessionId}`,
} as const;

const uuid = z.uuid({ error: 'must be a uuid' });

/** A request id as accepted from X-Request-Id: 1 to 128 printable ASCII characters, no spaces. */
export const REQUEST_ID_PATTERN = /^[\x21-\x7e]{1,128}$/;
const requestId = z
  .string()
  .regex(REQUEST_ID_PATTERN, { error: 'must be 1 to 128 printable ASCII characters without spaces' });

/** The request id an outbound job carries, when it carries a valid one. */
export function requestIdOf(data: unknown): string | undefined {
  const value = (data as { requestId?: unknown } | null | undefined)?.requestId;
  return requestId.safeParse(value).success ? (value as string) : undefined;
}

/**
 * A message to send. The API stores the message (status `queued`) first and enqueues this job
 * with `jobId` = the message id, so a retried request or a re-enqueue adds nothing. The worker
 * loads the message by id; the job carries no content.
 */
export const outboundJobSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('send'),
    tenantId: uuid,
    messageId: uuid,
    /** The id of the API request that sent it, so the worker's log lines for the job carry it. */
    requestId: requestId.optional(),
  }),
  /** A scheduled message: the job is delayed until `send_at`; the worker creates the message then sends it. */
  z.strictObject({
    kind: z.literal('scheduled'),
    tenantId: uuid,
    scheduledMessageId: uuid,
    /** The id of the API request that scheduled it: the worker's log lines for the send carry it. */
    requestId: requestId.optional(),
  }),
]);
export type OutboundJob = z.infer<typeof outboundJobSchema>;

/** The jobId of an outbound job: one job per message (or scheduled message), ever. */
export function outboundJobId(job: OutboundJob): string {
  return job.kind === 'send' ? `send-${job.messageId}` : `scheduled-${job.scheduledMessageId}`;
}

/**
 * BullMQ options every producer of an outbound job uses: the contract's jobId, retries through
 * the consumer's `outbound` backoff, failed jobs kept as dead letters.
 */
export function outboundJobOptions(job: OutboundJob, retry: Partial<OutboundRetryPolicy> = {}): JobsOptions {
  return {
    jobId: outboundJobId(job),
    attempts: retry.attempts ?? DEFAULT_OUTBOUND_RETRY.attempts,
    backoff: { type: 'outbound' },
    removeOnComplete: { count: 1000 },
    removeOnFail: false,
  };
}

/** The provider message id an outbound message is sent under: derived from its own id, so a resend reuses it. */
export function providerMessageIdFor(messageId: string): string {
  return `SB${messageId.replaceAll('-', '').toUpperCase()}`;
}

/** A job on the webhook-deliveries queue: one delivery row, by id (jobId = `delivery-<id>`). */
export const webhookDeliveryJobSchema = z.strictObject({ tenantId: uuid, deliveryId: uuid });
export type WebhookDeliveryJob = z.infer<typeof webhookDeliveryJobSchema>;

/** The jobId of a webhook delivery's job. */
export function webhookDeliveryJobId(deliveryId: string): string {
  return `delivery-${deliveryId}`;
}

/** How many failed jobs of a queue BullMQ keeps, and for how long (seconds). */
export interface FailedJobRetention {
  age: number;
  count: number;
}

/**
 * Failed webhook delivery jobs kept in Redis: a week, at most 10,000 per tenant. The dead letter
 * is the delivery's row in Postgres (status `failed`, attempts, response code, last error), kept
 * with the tenant's data; a replay (API or worker) puts the row back to `pending` and adds a new
 * job when the old one is gone. A receiver down for days would otherwise fill Redis with a job per
 * event, each holding its payload's ids, for ever.
 */
export const FAILED_WEBHOOK_JOB_RETENTION: FailedJobRetention = { age: 7 * 24 * 3600, count: 10_000 };

/**
 * BullMQ options of a delivery's job: retried by the delivery worker's `webhook` backoff, failed
 * jobs kept as {@link FAILED_WEBHOOK_JOB_RETENTION} says.
 */
export function webhookJobOptions(
  deliveryId: string,
  policy: WebhookRetryPolicy = DEFAULT_WEBHOOK_RETRY,
  retention: FailedJobRetention = FAILED_WEBHOOK_JOB_RETENTION,
): JobsOptions & { jobId: string } {
  return {
    jobId: webhookDeliveryJobId(deliveryId),
    attempts: policy.attempts,
    backoff: { type: 'webhook' },
    removeOnComplete: { count: 1000 },
    removeOnFail: { age: retention.age, count: retention.count },
  };
}

/** A job on the media-downloads queue: fetch the media of one inbound message (jobId = `media-<id>`). */
export const mediaDownloadJobSchema = z.strictObject({ tenantId: uuid, sessionId: uuid, messageId: uuid });
export type MediaDownloadJob = z.infer<typeof mediaDownloadJobSchema>;

/** The jobId of a media download's job. */
export function mediaDownloadJobId(messageId: string): string {
  return `media-${messageId}`;
}

/**
 * A command for the worker holding a session. The API adds it with `sessionCommandJobId`, so a
 * repeated click is one job; the worker records the outcome as the session's state (realtime
 * `session.state` / `session.pairing`), not as a reply to the caller.
 */
export const sessionCommandSchema = z.discriminatedUnion('type', [
  /** Log the linked device out at WhatsApp, delete its keys; the session ends `logged_out`. */
  z.strictObject({
    type: z.literal('logout'),
    tenantId: uuid,
    sessionId: uuid,
    requestedBy: z.string().min(1),
  }),
  /** Pair by code instead of QR: WhatsApp shows the code on the phone with this number (digits, E.164 without '+'). */
  z.strictObject({
    type: z.literal('pairing-code'),
    tenantId: uuid,
    sessionId: uuid,
    phoneNumber: z
      .string()
      .regex(/^[1-9][0-9]{6,14}$/, 'must be an E.164 number without "+" (7 to 15 digits)'),
    requestedBy: z.string().min(1),
  }),
  /** A group operation (groups/contracts.ts); the API waits for the job's result. */
  groupSessionCommandSchema,
  /**
   * An agent opened a conversation: mark the customer's messages `read` read on the channel
   * (the API chose those not marked before, and recorded them as marked) and watch the chat's
   * presence (typing), where the channel has it.
   */
  z.strictObject({
    type: z.literal('conversation-opened'),
    tenantId: uuid,
    sessionId: uuid,
    conversationId: uuid,
    /** The chat's address as the outbound path sends to it: phone digits, or `<lid>@lid`. */
    chat: z.string().min(1).max(200),
    /** Provider ids of the customer's messages to mark read; empty when none (or read receipts are off). */
    read: z.array(z.string().min(1).max(200)).max(100),
    requestedBy: z.string().min(1),
  }),
]);
export type SessionCommand = z.infer<typeof sessionCommandSchema>;

/** The jobId of a session command: one pending logout per session, one pairing-code request per number. */
export function sessionCommandJobId(command: SessionCommand): string {
  switch (command.type) {
    case 'group':
      return `group-${command.requestId}`;
    case 'logout':
      return `logout-${command.sessionId}`;
    case 'pairing-code':
      return `pairing-code-${command.sessionId}-${command.phoneNumber}`;
    case 'conversation-opened':
      // One pending job per conversation and newest message to mark (BullMQ refuses ':' in ids).
      return `opened-${command.conversationId}-${(command.read.at(-1) ?? 'none').replaceAll(':', '_')}`;
  }
}

/**
 * One POST from Meta, accepted after its X-Hub-Signature-256 matched. `jobId` is the SHA-256 of
 * the raw body (hex), so Meta's retries of the same delivery are one job.
 */
export const cloudApiInboundJobSchema = z.strictObject({
  tenantId: uuid,
  /** When the API received it (ISO 8601). */
  receivedAt: z.iso.datetime({ error: 'must be an ISO 8601 date-time' }),
  /** The webhook body as Meta sent it (parsed JSON); the worker validates its shape. */
  payload: z.unknown(),
});
export type CloudApiInboundJob = z.infer<typeof cloudApiInboundJobSchema>;

/** The Redis stream of a tenant's realtime events (XADD ... MAXLEN ~ REALTIME_STREAM_MAX_LEN). */
export function realtimeStreamKey(keyPrefix: string): string {
  return `${keyPrefix}events`;
}

/** About how many events the stream keeps: a client that was away longer reloads instead of resuming. */
export const REALTIME_STREAM_MAX_LEN = 10_000;

/** The stream entry's single field, holding the event as JSON. */
export const REALTIME_EVENT_FIELD = 'e';

const sessionState = z.enum(['unpaired', 'pairing', 'connecting', 'connected', 'disconnected', 'logged_out']);
const messageStatus = z.enum(['queued', 'sent', 'delivered', 'read', 'failed']);

/**
 * The largest message body (UTF-8 bytes) a `message.created` / `message.updated` event carries;
 * a longer one is left out (`realtimeMessage` returns undefined) and clients fetch the message.
 */
export const REALTIME_MESSAGE_MAX_BODY_BYTES = 4096;

const utf8 = new TextEncoder();
function utf8Bytes(text: string): number {
  // A UTF-16 code unit is at most 3 UTF-8 bytes: short strings need no encoding.
  return text.length * 3 <= REALTIME_MESSAGE_MAX_BODY_BYTES ? text.length : utf8.encode(text).length;
}

/**
 * The message a `message.created` / `message.updated` event may carry: the fields of a message as
 * a conversation's history shows it (GET /v1/conversations/:id/messages) that the inbox's thread
 * renders, so an open thread shows it without a GET /v1/messages/:id. Media is described, never
 * included (its file is GET /v1/messages/:id/media); the body is at most
 * REALTIME_MESSAGE_MAX_BODY_BYTES. The stream is per tenant and readable by every user of the
 * tenant, who can read the same message through the API.
 */
export const realtimeMessageSchema = z.strictObject({
  id: uuid,
  conversationId: uuid,
  direction: z.enum(['inbound', 'outbound']),
  status: messageStatus,
  failureReason: z.string().max(1000).nullable(),
  type: z.enum([
    'text',
    'image',
    'video',
    'audio',
    'document',
    'sticker',
    'location',
    'contact',
    'reaction',
    'template',
    'unsupported',
    'call',
    'group_event',
    // Interactive messages, polls and their answers (outbound/interactive.ts).
    'interactive',
    'interactive_reply',
    'poll',
    'poll_vote',
  ]),
  body: z
    .string()
    .nullable()
    .refine((b) => b === null || utf8Bytes(b) <= REALTIME_MESSAGE_MAX_BODY_BYTES, {
      error: `must be at most ${REALTIME_MESSAGE_MAX_BODY_BYTES} bytes (longer messages are fetched)`,
    }),
  /** For reactions: the emoji ('' when removed); the target is replyToMessageId. */
  reaction: z.string().max(64).nullable(),
  media: z
    .strictObject({
      mimeType: z.string().max(255).nullable(),
      fileName: z.string().max(1024).nullable(),
      sizeBytes: z.number().int().nonnegative().nullable(),
      /** Whether the file is in storage yet (GET /v1/messages/:id/media). */
      available: z.boolean(),
    })
    .nullable(),
  replyToMessageId: uuid.nullable(),
  createdAt: z.iso.datetime(),
  /** Groups: who wrote it, and whom it mentions (groups.ts). */
  sender: groupSenderSchema.nullable().optional(),
  mentions: groupMentionsSchema.nullable().optional(),
  /** For interactive, interactive_reply, poll and poll_vote: the structured content (outbound/interactive.ts). */
  interactive: z.record(z.string(), z.json()).nullable().optional(),
});
export type RealtimeMessage = z.infer<typeof realtimeMessageSchema>;

/**
 * `message` when it fits an event (its body at most REALTIME_MESSAGE_MAX_BODY_BYTES), else
 * undefined: the event then carries ids only and clients fetch the message.
 */
export function realtimeMessage(message: RealtimeMessage): RealtimeMessage | undefined {
  return message.body !== null && utf8Bytes(message.body) > REALTIME_MESSAGE_MAX_BODY_BYTES
    ? undefined
    : message;
}

/**
 * A realtime event. Events carry ids and the few fields a list needs to re-render; message events
 * may also carry the message (`realtimeMessageSchema`: bounded, media by reference), which clients
 * render instead of fetching it. Without it, clients fetch what they show.
 */
export const realtimeEventSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('message.created'),
    at: z.iso.datetime(),
    data: z.strictObject({
      messageId: uuid,
      conversationId: uuid,
      sessionId: uuid,
      direction: z.enum(['inbound', 'outbound']),
      message: realtimeMessageSchema.optional(),
    }),
  }),
  z.strictObject({
    type: z.literal('message.updated'),
    at: z.iso.datetime(),
    data: z.strictObject({
      messageId: uuid,
      conversationId: uuid,
      status: messageStatus,
      reason: z.string().optional(),
      message: realtimeMessageSchema.optional(),
    }),
  }),
  z.strictObject({
    type: z.literal('conversation.updated'),
    at: z.iso.datetime(),
    data: z.strictObject({ conversationId: uuid }),
  }),
  z.strictObject({
    type: z.literal('session.state'),
    at: z.iso.datetime(),
    data: z.strictObject({
      sessionId: uuid,
      state: sessionState,
      reason: z.string().optional(),
      phoneNumber: z.string().optional(),
    }),
  }),
  /**
   * The customer is typing (or recording) in a conversation, or stopped (`paused`): Baileys
   * presence. Clients clear a `typing` they did not see end after a while themselves.
   */
  z.strictObject({
    type: z.literal('conversation.typing'),
    at: z.iso.datetime(),
    data: z.strictObject({
      conversationId: uuid,
      sessionId: uuid,
      state: z.enum(['typing', 'recording', 'paused']),
    }),
  }),
  z.strictObject({
    type: z.literal('session.pairing'),
    at: z.iso.datetime(),
    data: z.strictObject({
      sessionId: uuid,
      kind: z.enum(['qr', 'code']),
      /** Increases with each challenge; a client shows the highest it has seen. */
      sequence: z.number().int().nonnegative(),
      expiresAt: z.iso.datetime(),
    }),
  }),
]);
export type RealtimeEvent = z.infer<typeof realtimeEventSchema>;

/**
 * Redis key of a session's current pairing challenge: a `PairingRecord` as JSON, set with the
 * challenge's TTL by the worker holding the session (a newer sequence replaces an older one,
 * never the reverse). The API reads it to show the QR or code; realtime events never carry it.
 */
export function pairingKey(keyPrefix: string, sessionId: string): string {
  return `${keyPrefix}session:${sessionId}:pairing`;
}

/** The value at `pairingKey`. */
export const pairingRecordSchema = z.strictObject({
  sessionId: uuid,
  kind: z.enum(['qr', 'code']),
  /** The QR payload to render, or the 8-character pairing code. */
  code: z.string().min(1),
  /** For `code`: the number it was requested for (digits). */
  phoneNumber: z.string().optional(),
  expiresAt: z.iso.datetime(),
  sequence: z.number().int().nonnegative(),
});
export type PairingRecord = z.infer<typeof pairingRecordSchema>;

/** What publishRealtimeEvent needs of a Redis connection. */
export interface RealtimeStreamWriter {
  xadd(key: string, ...args: (string | number)[]): Promise<string | null>;
}

/**
 * Appends `event` to the tenant's realtime stream (validated first: a malformed event throws
 * here, naming the field, instead of reaching every open inbox). Returns the entry id, which is
 * the SSE event id clients resume from.
 */
export async function publishRealtimeEvent(
  redis: RealtimeStreamWriter,
  keyPrefix: string,
  event: RealtimeEvent,
): Promise<string> {
  const parsed = realtimeEventSchema.parse(event);
  const id = await redis.xadd(
    realtimeStreamKey(keyPrefix),
    'MAXLEN',
    '~',
    REALTIME_STREAM_MAX_LEN,
    '*',
    REALTIME_EVENT_FIELD,
    JSON.stringify(parsed),
  );
  return id!;
}

/**
 * The purpose a webhook subscription's signing secret is sealed for (@switchboard/secrets'
 * SealingKeyring, the tenant's SEALING_KEYS): the API seals, the workers open and re-seal.
 */
export const WEBHOOK_SECRET_PURPOSE = 'webhook-subscription';
