// What the API answers for each resource: the response schema and the mapper from the database
// row, side by side. Routes declare the schemas; services return rows; routes map them here.
import type {
  Contact,
  ContactIdentity,
  Membership,
  Message,
  MessageTemplate,
  QuickReply,
  Session,
  User,
} from '@switchboard/db';
import type { DeadLetter } from '@switchboard/messaging/producer';
import { z } from 'zod';
import { iso, isoOrNull } from './schemas.ts';

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
  sentAt: isoOrNull,
  deliveredAt: isoOrNull,
  readAt: isoOrNull,
  createdAt: z.iso.datetime(),
});
export type MessageDto = z.infer<typeof messageSchema>;

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
    sentAt: iso(m.sentAt),
    deliveredAt: iso(m.deliveredAt),
    readAt: iso(m.readAt),
    createdAt: m.createdAt.toISOString(),
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
