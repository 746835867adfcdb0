// What the API answers for each resource: the response schema and the mapper from the database
// row, side by side. Routes declare the schemas; services return rows; routes map them here.
import type {
  AuditLogEntry,
  Contact,
  ContactIdentity,
  Membership,
  Message,
  MessageTemplate,
  QuickReply,
  ScheduledMessage,
  Session,
  User,
} from '@switchboard/db';
import type { DeadLetter } from '@switchboard/messaging/producer';
import { z } from 'zod';
import { groupMessageFields, groupMessageShape } from './group-dto.ts';
import { iso, isoOrNull } from './schemas.ts';
import { labelsOfRow } from './services/conversation-labels.ts';
import type { ConversationRow } from './services/conversations.ts';

/** A message as the API shows it. */
export const messageSchema = z.strictObject({
  id: z.uuid(),
  conversationId: z.uuid(),
  sessionId: z.uuid(),
  direction: z.enum(['inbound', 'outbound']),
  status: z.enum(['queued', 'sent', 'delivered', 'read', 'failed']),
  failureReason: z.string().nullable(),
  type: z.string(),
  body: z.string().nullable(),
  replyToMessageId: z.uuid().nullable(),
  /** For type `template`: what was sent, in Meta's shape. */
  template: z
    .strictObject({ name: z.string(), language: z.string(), components: z.array(z.unknown()) })
    .nullable(),
  /** The stored media (GET /v1/messages/:id/media), null when there is none or it is not fetched yet. */
  media: z
    .strictObject({
      mimeType: z.string().nullable(),
      sizeBytes: z.number().int().nullable(),
      sha256: z.string().nullable(),
      fileName: z.string().nullable(),
    })
    .nullable(),
  /**
   * For interactive, interactive_reply, poll and poll_vote: the structured content. interactive:
   * the message sent (`kind` button / list / cta_url); interactive_reply: `{kind, id, title,
   * description?}` (the button or row picked); poll: `{name, options, selectableCount}`;
   * poll_vote: `{pollMessageId, selectedOptions}` (replyToMessageId is the poll).
   */
  interactive: z
    .record(z.string(), z.unknown())
    .nullable()
    .describe('The structured content of interactive, interactive_reply, poll and poll_vote messages.'),
  /** Who sent an outbound message automatically ('assistant', 'bot'); null: a person or the API. */
  automatedBy: z.string().nullable(),
  sentAt: isoOrNull,
  deliveredAt: isoOrNull,
  readAt: isoOrNull,
  createdAt: z.iso.datetime(),
  ...groupMessageShape,
});
export type MessageDto = z.infer<typeof messageSchema>;

/** The `interactive` column as an object, or null. */
function interactiveOf(m: Pick<Message, 'interactive'>): Record<string, unknown> | null {
  const value = m.interactive;
  return value && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

/** The API's view of a message row. */
export function messageDto(m: Message): MessageDto {
  const template = m.template as { name?: unknown; language?: unknown; components?: unknown } | null;
  return {
    id: m.id,
    conversationId: m.conversationId,
    sessionId: m.sessionId,
    direction: m.direction,
    status: m.status,
    failureReason: m.failureReason,
    type: m.type,
    body: m.body,
    replyToMessageId: m.replyToMessageId,
    template:
      template && typeof template.name === 'string' && typeof template.language === 'string'
        ? {
            name: template.name,
            language: template.language,
            components: Array.isArray(template.components) ? template.components : [],
          }
        : null,
    media: m.mediaStorageKey
      ? {
          mimeType: m.mediaMimeType,
          sizeBytes: m.mediaSizeBytes === null ? null : Number(m.mediaSizeBytes),
          sha256: m.mediaSha256,
          fileName: m.mediaFileName,
        }
      : null,
    interactive: interactiveOf(m),
    automatedBy: m.automatedBy,
    sentAt: iso(m.sentAt),
    deliveredAt: iso(m.deliveredAt),
    readAt: iso(m.readAt),
    createdAt: m.createdAt.toISOString(),
    ...groupMessageFields(m),
  };
}

/** A session as the API shows it. */
export const sessionSchema = z.strictObject({
  id: z.uuid(),
  name: z.string(),
  channel: z.enum(['baileys', 'cloud-api']),
  state: z.enum(['unpaired', 'pairing', 'connecting', 'connected', 'disconnected', 'logged_out']),
  stateReason: z.string().nullable(),
  declared: z.boolean(),
  phoneNumber: z.string().nullable(),
  stateChangedAt: z.iso.datetime(),
  lastConnectedAt: isoOrNull,
  createdAt: z.iso.datetime(),
});

/** The API's view of a session row. */
export function sessionDto(s: Session) {
  return {
    id: s.id,
    name: s.name,
    channel: s.channel === 'cloud_api' ? ('cloud-api' as const) : ('baileys' as const),
    state: s.state,
    stateReason: s.stateReason,
    declared: s.declared,
    phoneNumber: s.phoneNumber,
    stateChangedAt: s.stateChangedAt.toISOString(),
    lastConnectedAt: iso(s.lastConnectedAt),
    createdAt: s.createdAt.toISOString(),
  };
}

/** A contact as the API shows it, with its identities. */
export const contactSchema = z.strictObject({
  id: z.uuid(),
  displayName: z.string().nullable(),
  pushName: z.string().nullable(),
  /** What the team keeps about the contact. */
  notes: z.string().nullable(),
  identities: z.array(z.strictObject({ kind: z.enum(['pn', 'lid']), value: z.string() })),
  createdAt: z.iso.datetime(),
});

/** The API's view of a contact row. */
export function contactDto(c: Contact & { identities: ContactIdentity[] }) {
  return {
    id: c.id,
    displayName: c.displayName,
    pushName: c.pushName,
    notes: c.notes,
    identities: c.identities.map((i) => ({ kind: i.kind, value: i.value })),
    createdAt: c.createdAt.toISOString(),
  };
}

/** A message template as the API shows it. */
export const templateSchema = z.strictObject({
  id: z.uuid(),
  name: z.string(),
  language: z.string(),
  category: z.string().nullable(),
  body: z.string(),
  components: z.unknown(),
  providerStatus: z.string().nullable(),
  createdAt: z.iso.datetime(),
});
/** The API's view of a template row. */
export function templateDto(t: MessageTemplate) {
  return {
    id: t.id,
    name: t.name,
    language: t.language,
    category: t.category,
    body: t.body,
    components: t.components,
    providerStatus: t.providerStatus,
    createdAt: t.createdAt.toISOString(),
  };
}

/** A quick reply as the API shows it. */
export const quickReplySchema = z.strictObject({
  id: z.uuid(),
  shortcut: z.string(),
  title: z.string(),
  body: z.string(),
  createdAt: z.iso.datetime(),
});
/** The API's view of a quick reply row. */
export function quickReplyDto(r: QuickReply) {
  return {
    id: r.id,
    shortcut: r.shortcut,
    title: r.title,
    body: r.body,
    createdAt: r.createdAt.toISOString(),
  };
}

/** An outbound dead letter as the API shows it. */
export const deadLetterSchema = z.strictObject({
  jobId: z.string(),
  kind: z.enum(['send', 'scheduled']).nullable(),
  messageId: z.uuid().nullable(),
  scheduledMessageId: z.uuid().nullable(),
  failedReason: z.string(),
  attemptsMade: z.number().int(),
  failedAt: isoOrNull,
});

/** The API's view of a dead letter. */
export function deadLetterDto(letter: DeadLetter): z.infer<typeof deadLetterSchema> {
  return {
    jobId: letter.jobId,
    kind: letter.job?.kind ?? null,
    messageId: letter.job?.kind === 'send' ? letter.job.messageId : null,
    scheduledMessageId: letter.job?.kind === 'scheduled' ? letter.job.scheduledMessageId : null,
    failedReason: letter.failedReason,
    attemptsMade: letter.attemptsMade,
    failedAt: iso(letter.failedAt),
  };
}

/** A member of the team as the API shows it. */
export const memberSchema = z.strictObject({
  userId: z.uuid(),
  email: z.string(),
  displayName: z.string(),
  role: z.enum(['owner', 'admin', 'agent', 'viewer']),
  createdAt: z.iso.datetime(),
});

/** The API's view of a membership and its user. */
export function memberDto(m: Membership & { user: User }): z.infer<typeof memberSchema> {
  return {
    userId: m.userId,
    email: m.user.email,
    displayName: m.user.displayName,
    role: m.role,
    createdAt: m.createdAt.toISOString(),
  };
}

/** A conversation as the inbox lists it: its contact and newest message included. */
export const conversationSchema = z.strictObject({
  id: z.uuid(),
  sessionId: z.uuid(),
  contactId: z.uuid(),
  /** Who the conversation is with, so a list renders without a request per row. */
  contact: z.strictObject({
    id: z.uuid(),
    /** The agent-set name, else the contact's own WhatsApp name. */
    name: z.string().nullable(),
    /** E.164 digits without '+', when known. */
    phoneNumber: z.string().nullable(),
    lid: z.string().nullable(),
  }),
  /** The newest message, for the list's preview (body cut to 200 characters). */
  lastMessage: z
    .strictObject({
      id: z.uuid(),
      direction: z.enum(['inbound', 'outbound']),
      type: z.string(),
      body: z.string().nullable(),
      status: z.enum(['queued', 'sent', 'delivered', 'read', 'failed']),
      createdAt: z.iso.datetime(),
    })
    .nullable(),
  status: z.enum(['open', 'resolved']),
  assigneeId: z.uuid().nullable(),
  lastMessageAt: z.iso.datetime(),
  unreadCount: z.number().int(),
  resolvedAt: isoOrNull,
  createdAt: z.iso.datetime(),
  /** Its labels, by name. */
  labels: z.array(z.strictObject({ id: z.uuid(), name: z.string(), color: z.string() })),
});
/** A message as a conversation's history shows it. */
export const conversationMessageSchema = z.strictObject({
  id: z.uuid(),
  conversationId: z.uuid(),
  direction: z.enum(['inbound', 'outbound']),
  status: z.enum(['queued', 'sent', 'delivered', 'read', 'failed']),
  /** Why a failed message failed, as the provider said it. */
  failureReason: z.string().nullable(),
  type: z.string(),
  body: z.string().nullable(),
  /** For reactions: the emoji ('' when removed); the target is replyToMessageId / replyToProviderMessageId. */
  reaction: z.string().nullable(),
  /** The file of a media message; `available` once it is in storage (GET /v1/messages/:id/media). */
  media: z
    .strictObject({
      mimeType: z.string().nullable(),
      fileName: z.string().nullable(),
      sizeBytes: z.number().int().nullable(),
      available: z.boolean(),
    })
    .nullable(),
  replyToMessageId: z.uuid().nullable(),
  replyToProviderMessageId: z.string().nullable(),
  /** The member who sent an outbound message from the inbox. */
  sentById: z.uuid().nullable(),
  /** Who sent an outbound message automatically ('assistant', 'bot'); null: a person or the API. */
  automatedBy: z.string().nullable(),
  editedAt: isoOrNull,
  deletedAt: isoOrNull,
  /**
   * For interactive, interactive_reply, poll and poll_vote: the structured content. interactive:
   * the message sent (`kind` button / list / cta_url); interactive_reply: `{kind, id, title,
   * description?}` (the button or row picked); poll: `{name, options, selectableCount}`;
   * poll_vote: `{pollMessageId, selectedOptions}` (replyToMessageId is the poll).
   */
  interactive: z
    .record(z.string(), z.unknown())
    .nullable()
    .describe('The structured content of interactive, interactive_reply, poll and poll_vote messages.'),
  sentAt: isoOrNull,
  deliveredAt: isoOrNull,
  readAt: isoOrNull,
  createdAt: z.iso.datetime(),
  ...groupMessageShape,
});

/** The API's view of a conversation with its summary. */
export function conversationDto(c: ConversationRow): z.infer<typeof conversationSchema> {
  return {
    id: c.id,
    sessionId: c.sessionId,
    contactId: c.contactId,
    contact: {
      id: c.contactId,
      name: c.contactDisplayName ?? c.contactPushName ?? null,
      phoneNumber: c.phoneNumber,
      lid: c.lid,
    },
    lastMessage:
      c.lastMessageId !== null &&
      c.lastMessageDirection !== null &&
      c.lastMessageType !== null &&
      c.lastMessageStatus !== null &&
      c.lastMessageCreatedAt !== null
        ? {
            id: c.lastMessageId,
            direction: c.lastMessageDirection,
            type: c.lastMessageType,
            body: c.lastMessageBody === null ? null : c.lastMessageBody.slice(0, 200),
            status: c.lastMessageStatus,
            createdAt: c.lastMessageCreatedAt.toISOString(),
          }
        : null,
    status: c.status,
    assigneeId: c.assigneeId,
    lastMessageAt: c.lastMessageAt.toISOString(),
    unreadCount: c.unreadCount,
    resolvedAt: iso(c.resolvedAt),
    createdAt: c.createdAt.toISOString(),
    labels: labelsOfRow(c.labels),
  };
}

const MEDIA_TYPES = new Set(['image', 'video', 'audio', 'document', 'sticker']);

/** The API's view of a message in a conversation's history. */
export function conversationMessageDto(m: Message) {
  return {
    id: m.id,
    conversationId: m.conversationId,
    direction: m.direction,
    status: m.status,
    failureReason: m.failureReason,
    type: m.type,
    body: m.body,
    reaction: m.reaction,
    media: MEDIA_TYPES.has(m.type)
      ? {
          mimeType: m.mediaMimeType,
          fileName: m.mediaFileName,
          sizeBytes: m.mediaSizeBytes === null ? null : Number(m.mediaSizeBytes),
          available: m.mediaStorageKey !== null,
        }
      : null,
    replyToMessageId: m.replyToMessageId,
    replyToProviderMessageId: m.replyToProviderMessageId,
    sentById: m.sentById,
    automatedBy: m.automatedBy,
    editedAt: iso(m.editedAt),
    deletedAt: iso(m.deletedAt),
    interactive: interactiveOf(m),
    sentAt: iso(m.sentAt),
    deliveredAt: iso(m.deliveredAt),
    readAt: iso(m.readAt),
    createdAt: m.createdAt.toISOString(),
    ...groupMessageFields(m),
  };
}

/** An API key as the API shows it (never the key or its hash). */
export const apiKeySchema = z.strictObject({
  id: z.uuid(),
  name: z.string(),
  prefix: z.string(),
  scopes: z.array(z.string()),
  lastUsedAt: isoOrNull,
  expiresAt: isoOrNull,
  revokedAt: isoOrNull,
  createdAt: z.iso.datetime(),
});

/** The API's view of an API key row. */
export function apiKeyDto(row: {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  lastUsedAt: Date | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
  createdAt: Date;
}) {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    scopes: row.scopes,
    lastUsedAt: iso(row.lastUsedAt),
    expiresAt: iso(row.expiresAt),
    revokedAt: iso(row.revokedAt),
    createdAt: row.createdAt.toISOString(),
  };
}

/** A webhook subscription as the API shows it (never its secret). */
export const subscriptionSchema = z.strictObject({
  id: z.uuid(),
  url: z.string(),
  description: z.string().nullable(),
  events: z.array(z.string()),
  active: z.boolean(),
  createdAt: z.iso.datetime(),
});

/** One webhook delivery of the log. */
export const deliverySchema = z.strictObject({
  id: z.uuid(),
  eventId: z.uuid(),
  eventType: z.string(),
  status: z.enum(['pending', 'succeeded', 'failed']),
  attempts: z.number().int(),
  responseCode: z.number().int().nullable(),
  latencyMs: z.number().int().nullable(),
  lastError: z.string().nullable(),
  nextAttemptAt: isoOrNull,
  deliveredAt: isoOrNull,
  createdAt: z.iso.datetime(),
});

/** The API's view of a subscription row. */
export function subscriptionDto(row: {
  id: string;
  url: string;
  description: string | null;
  events: string[];
  active: boolean;
  createdAt: Date;
}) {
  const { id, url, description, events, active, createdAt } = row;
  return { id, url, description, events, active, createdAt: createdAt.toISOString() };
}

/** The API's view of a delivery row. */
export function deliveryDto(row: {
  id: string;
  eventId: string;
  eventType: string;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: number;
  responseCode: number | null;
  latencyMs: number | null;
  lastError: string | null;
  nextAttemptAt: Date | null;
  deliveredAt: Date | null;
  createdAt: Date;
}) {
  return {
    id: row.id,
    eventId: row.eventId,
    eventType: row.eventType,
    status: row.status,
    attempts: row.attempts,
    responseCode: row.responseCode,
    latencyMs: row.latencyMs,
    lastError: row.lastError,
    nextAttemptAt: iso(row.nextAttemptAt),
    deliveredAt: iso(row.deliveredAt),
    createdAt: row.createdAt.toISOString(),
  };
}

/** The statuses of a scheduled message. */
export const SCHEDULED_STATUSES = ['scheduled', 'sent', 'failed', 'cancelled'] as const;

/** A scheduled message as the API shows it. */
export const scheduledMessageSchema = z.strictObject({
  id: z.uuid(),
  conversationId: z.uuid(),
  sessionId: z.uuid(),
  content: z.unknown().describe('What will be sent: the content as created.'),
  sendAt: z.iso.datetime(),
  status: z.enum(SCHEDULED_STATUSES),
  /** The message created when it was sent (GET /v1/messages/:id). */
  messageId: z.uuid().nullable(),
  failureReason: z.string().nullable(),
  createdAt: z.iso.datetime(),
});

/** The API's view of a scheduled message row. */
export function scheduledMessageDto(s: ScheduledMessage): z.infer<typeof scheduledMessageSchema> {
  return {
    id: s.id,
    conversationId: s.conversationId,
    sessionId: s.sessionId,
    content: s.content,
    sendAt: s.sendAt.toISOString(),
    status: s.status,
    messageId: s.messageId,
    failureReason: s.failureReason,
    createdAt: s.createdAt.toISOString(),
  };
}

/** An audit log entry as the API shows it. */
export const auditEntrySchema = z.strictObject({
  id: z.uuid(),
  actorType: z.enum(['user', 'api_key', 'system']),
  actorId: z.uuid().nullable(),
  action: z.string(),
  targetType: z.string().nullable(),
  targetId: z.string().nullable(),
  metadata: z.unknown(),
  at: z.iso.datetime(),
});

/** The API's view of an audit log row. */
export function auditEntryDto(r: AuditLogEntry): z.infer<typeof auditEntrySchema> {
  return {
    id: r.id,
    actorType: r.actorType,
    actorId: r.actorId,
    action: r.action,
    targetType: r.targetType,
    targetId: r.targetId,
    metadata: r.metadata,
    at: r.at.toISOString(),
  };
}
