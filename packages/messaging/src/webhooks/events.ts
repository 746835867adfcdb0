// The catalogue of tenant-facing webhook events: every type Switchboard emits, the schema of its
// `data`, the envelope every delivery's body has, and the one way a change records an event in
// its own transaction (deliveries + the outbox row that enqueues their jobs after the commit).
import type { Prisma, TenantTx } from '@switchboard/db';
import { z } from 'zod';
import { writeOutbox } from '../outbox/entries.ts';
import { createWebhookDeliveries } from './enqueue.ts';

/**
 * The version of every event's payload schema, sent as `X-Switchboard-Event-Version` with each
 * delivery. A change that is not an added optional field gives the type a new version.
 */
export const WEBHOOK_EVENT_VERSION = 1;

const uuid = z.uuid();
const isoTime = z.iso.datetime({ offset: true });

/** The `data` of `message.received` / `message.sent` (a new message, in or echoed out). */
const messageData = z.strictObject({
  messageId: uuid,
  conversationId: uuid,
  sessionId: uuid,
  providerMessageId: z.string(),
  from: z.string().describe('The sender: phone number digits, LID or provider address.'),
  type: z
    .string()
    .describe(
      'text, image, video, audio, document, sticker, location, contact, reaction, interactive_reply, poll, poll_vote, ...',
    ),
  text: z.string().optional().describe('The text of a text message.'),
  // Structured answers and polls (#20.2): additive optional fields, version 1 unchanged.
  interactiveReply: z
    .strictObject({
      kind: z.enum(['button', 'list']),
      id: z.string(),
      title: z.string(),
      description: z.string().optional(),
    })
    .optional()
    .describe(
      'For `interactive_reply`: the reply button or list row the customer picked (its id and title).',
    ),
  poll: z
    .strictObject({ name: z.string(), options: z.array(z.string()), selectableCount: z.number().int() })
    .optional()
    .describe('For `poll`: the poll the customer created.'),
  pollVote: z
    .strictObject({ pollMessageId: z.string(), selectedOptions: z.array(z.string()) })
    .optional()
    .describe(
      "For `poll_vote`: the poll's provider message id and the options now selected (none: vote withdrawn).",
    ),
  timestamp: isoTime,
  group: z
    .string()
    .optional()
    .describe('For a group message: the group id (`<digits>@g.us`); `from` is the participant.'),
});

/** The `data` of `message.status`: a message's status moved forward on the channel. */
const messageStatusData = z.strictObject({
  messageId: uuid,
  conversationId: uuid,
  sessionId: uuid,
  providerMessageId: z.string(),
  status: z.enum(['delivered', 'read', 'failed']),
  reason: z.string().optional().describe('Why it failed (the provider code and title), for `failed`.'),
  at: isoTime.describe('When the provider reported the status.'),
});

/** The `data` of `session.state_changed`. */
const sessionStateData = z.strictObject({
  sessionId: uuid,
  state: z
    .enum(['unpaired', 'pairing', 'connecting', 'connected', 'disconnected', 'logged_out'])
    .describe('`unpaired` and `pairing`: the number needs pairing (QR or code); `logged_out`: unlinked.'),
  reason: z.string().optional().describe('The cause the channel gave (e.g. `connectionLost`).'),
  phoneNumber: z.string().optional(),
});

/** The `data` of the conversation events. */
const conversationData = z.strictObject({
  conversationId: uuid,
  sessionId: uuid,
  contactId: uuid,
  status: z.enum(['open', 'resolved']),
  assigneeId: uuid.nullable(),
});

/** The `data` of `conversation.assigned` (also an unassignment: `assigneeId` null). */
const conversationAssignedData = conversationData.extend({ previousAssigneeId: uuid.nullable() });

/** The `data` of `call.received`: a WhatsApp call that was missed or declined (Baileys sessions). */
const callData = z.strictObject({
  sessionId: uuid,
  callId: z.string(),
  from: z.string().describe('The caller: phone number digits, or LID when WhatsApp gave no number.'),
  isVideo: z.boolean(),
  outcome: z
    .enum(['missed', 'rejected'])
    .describe('`rejected`: declined by the session setting or on the phone.'),
  conversationId: uuid,
  messageId: uuid.describe('The call line in the thread (a message of type `call`).'),
  replyMessageId: uuid.optional().describe("The session's auto-reply text, queued to the caller."),
  at: isoTime,
});

/** A participant as group events name them. */
const groupParticipant = z.strictObject({
  jid: z.string().describe('The WhatsApp address (PN or LID JID).'),
  phone: z.string().optional().describe('Phone number digits, when WhatsApp gave them.'),
});

/** The `data` of `group.participants_changed`: people joined, left, were added, removed, promoted or demoted. */
const groupParticipantsData = z.strictObject({
  sessionId: uuid,
  group: z.string().describe('The group id (`<digits>@g.us`).'),
  conversationId: uuid,
  messageId: uuid.describe('The system line in the thread (a message of type `group_event`).'),
  action: z
    .enum(['add', 'remove', 'leave', 'promote', 'demote', 'modify'])
    .describe('`leave`: they removed themselves; `modify`: a participant changed number.'),
  participants: z.array(groupParticipant),
  actor: groupParticipant.optional().describe('Who did it, when WhatsApp said.'),
  at: isoTime,
});

/** The `data` of `group.updated`: the group was created, or its subject or description changed. */
const groupUpdatedData = z.strictObject({
  sessionId: uuid,
  group: z.string(),
  conversationId: uuid,
  messageId: uuid,
  change: z.enum(['created', 'subject', 'description']),
  subject: z.string().optional().describe('The new subject (`created`, `subject`).'),
  description: z.string().nullable().optional().describe('The new description (`description`).'),
  actor: groupParticipant.optional(),
  at: isoTime,
});

// Labels and campaigns (issue #20.3, #20.4): label changes and campaign progress.

/** The `data` of `label.applied` / `label.removed`: one label on one conversation or contact. */
const labelChangeData = z.strictObject({
  labelId: uuid,
  name: z.string(),
  color: z.string().describe("'#rrggbb'"),
  targetType: z.enum(['conversation', 'contact']),
  targetId: uuid.describe('The conversation or contact.'),
});

/** The `data` of `campaign.progress` / `campaign.completed`: a campaign's counts by recipient state. */
const campaignProgressData = z.strictObject({
  campaignId: uuid,
  status: z.enum(['running', 'paused', 'cancelled', 'completed']),
  total: z.number().int(),
  pending: z.number().int().describe('Not queued yet.'),
  queued: z.number().int(),
  sent: z.number().int(),
  delivered: z.number().int(),
  read: z.number().int(),
  failed: z.number().int(),
  skipped: z.number().int().describe('Opted out, without a phone number, or cancelled before sending.'),
});

// Automation hand-off (issue #22): the session's bot and AI assistant stop answering a
// conversation (a hand-off to the team) or start again.

/** The `data` of `conversation.automation_stopped` / `conversation.automation_resumed`. */
const automationData = conversationData.extend({
  reason: z
    .string()
    .nullable()
    .describe(
      "Why it stopped: `keyword` (the customer's hand-off keyword), `bot` (the flow engine's answer), `api`, `agent`, or `assistant:<why>` (`assistant:customer_asked`, `assistant:model_cannot_help`); null when resumed.",
    ),
});

/** The schema of each event type's `data`, by type. */
export const webhookEventDataSchemas = {
  'message.received': messageData,
  'message.sent': messageData,
  'message.status': messageStatusData,
  'session.state_changed': sessionStateData,
  'conversation.assigned': conversationAssignedData,
  'conversation.resolved': conversationData,
  'conversation.reopened': conversationData,
  'call.received': callData,
  'group.participants_changed': groupParticipantsData,
  'group.updated': groupUpdatedData,
  'label.applied': labelChangeData,
  'label.removed': labelChangeData,
  'campaign.progress': campaignProgressData,
  'campaign.completed': campaignProgressData,
  'conversation.automation_stopped': automationData,
  'conversation.automation_resumed': automationData,
} as const;

/** A webhook event type. */
export type WebhookEventType = keyof typeof webhookEventDataSchemas;

/** Every event type, in the catalogue's order. */
export const WEBHOOK_EVENT_TYPES = Object.keys(webhookEventDataSchemas) as WebhookEventType[];

/** One line per event type: what it announces (the OpenAPI document's `webhooks` section). */
export const WEBHOOK_EVENT_SUMMARIES: Record<WebhookEventType, string> = {
  'message.received': 'A customer sent a message.',
  'message.sent': 'A message was sent from the phone itself (an echo of our own number).',
  'message.status': 'A sent message was delivered, read, or failed (with the reason).',
  'session.state_changed': 'A WhatsApp number connected, disconnected, needs pairing or was logged out.',
  'conversation.assigned': 'A conversation was assigned to a member, or unassigned.',
  'conversation.resolved': 'A conversation was resolved.',
  'conversation.reopened': 'A resolved conversation was reopened.',
  'call.received':
    'A WhatsApp call was missed or declined (automatically, by the session setting, or on the phone).',
  'group.participants_changed':
    'People joined or left a WhatsApp group, or were added, removed, promoted or demoted (Baileys sessions).',
  'group.updated': 'A WhatsApp group was created, or its subject or description changed (Baileys sessions).',
  'label.applied': 'A label was applied to a conversation or a contact.',
  'label.removed': 'A label was removed from a conversation or a contact (or deleted).',
  'campaign.progress': "A campaign's recipient counts changed (a batch was queued, paused, resumed).",
  'campaign.completed':
    'Every recipient of a campaign was sent to or skipped, or the campaign was cancelled.',
  'conversation.automation_stopped':
    "The session's bot and AI assistant stopped answering a conversation: it was handed to the team.",
  'conversation.automation_resumed': "The session's bot and AI assistant answer a conversation again.",
};

/** Whether `type` is an event type of the catalogue. */
export function isWebhookEventType(type: string): type is WebhookEventType {
  return Object.hasOwn(webhookEventDataSchemas, type);
}

/** The body of a delivery of `type`: the envelope every event shares, with that type's `data`. */
export function webhookEnvelopeSchema<T extends WebhookEventType>(type: T) {
  return z.strictObject({
    id: uuid.describe('The event id (also X-Switchboard-Event-Id): de-duplicate on it.'),
    type: z.literal(type),
    createdAt: isoTime,
    data: webhookEventDataSchemas[type],
  });
}

/**
 * The JSON Schema (2020-12, the dialect of OpenAPI 3.1) of a delivery body of `type`: what the
 * API's OpenAPI document publishes in its `webhooks` section.
 */
export function webhookBodyJsonSchema(type: WebhookEventType): Record<string, unknown> {
  const { $schema: _dialect, ...schema } = z.toJSONSchema(webhookEnvelopeSchema(type), {
    target: 'draft-2020-12',
    io: 'output',
  }) as Record<string, unknown>;
  return schema;
}

/** An event to record, with the data its type's schema accepts. */
export type WebhookEventInput = {
  [T in WebhookEventType]: { type: T; data: z.input<(typeof webhookEventDataSchemas)[T]>; at?: Date };
}[WebhookEventType];

/**
 * Records an event inside the caller's transaction, the one that makes the change it announces:
 * a webhook_deliveries row per active subscription selecting the type, and one outbox row that
 * adds their jobs after the commit (the worker's relay performs it, right away when the worker
 * wrote it, or in its next sweep when the API did). Rolled back with the change, performed once
 * after it. The data is validated against the type's schema first: a malformed event aborts the
 * transaction instead of reaching a receiver. Returns the outbox row ids (none without a
 * subscription).
 */
export async function recordWebhookEvent(
  tx: TenantTx,
  tenantId: string,
  event: WebhookEventInput,
): Promise<string[]> {
  const data = webhookEventDataSchemas[event.type].parse(event.data) as Prisma.InputJsonObject;
  const deliveryIds = await createWebhookDeliveries(tx, tenantId, {
    type: event.type,
    data,
    at: event.at ?? new Date(),
  });
  if (deliveryIds.length === 0) return [];
  return await writeOutbox(tx, tenantId, [{ kind: 'webhook.enqueue', payload: { deliveryIds } }]);
}
