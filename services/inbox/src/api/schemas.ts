import { z } from 'zod';
import { groupMentionsSchema, groupSenderSchema } from './group-schemas.ts';

/*
 * The shapes the inbox reads from the API (services/api/src/routes/*.ts). Every response is
 * parsed with these before use, so a changed API fails loudly, naming the field, instead of
 * rendering `undefined`. Objects are not strict: a field the API adds later is ignored, not an
 * error (the API evolves beside the inbox).
 */

const iso = z.string().min(1);

/** The error body of every 4xx/5xx. */
export const errorBodySchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  }),
});

/** A keyset page of `item`. */
export function pageOf<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable() });
}

export const tokenPairSchema = z.object({
  accessToken: z.string().min(1),
  refreshToken: z.string().min(1),
  expiresIn: z.number(),
});
export type TokenPair = z.infer<typeof tokenPairSchema>;

export const roleSchema = z.enum(['owner', 'admin', 'agent', 'viewer']);
export type Role = z.infer<typeof roleSchema>;

export const meSchema = z.object({
  id: z.string(),
  email: z.string(),
  displayName: z.string(),
  role: roleSchema,
  tenant: z.string(),
});
export type Me = z.infer<typeof meSchema>;

/** The newest message of a conversation, as the list shows it. */
export const lastMessageSchema = z.object({
  id: z.string(),
  direction: z.enum(['inbound', 'outbound']),
  type: z.string(),
  body: z.string().nullable(),
  status: z.enum(['queued', 'sent', 'delivered', 'read', 'failed']),
  createdAt: iso,
});
export type LastMessage = z.infer<typeof lastMessageSchema>;

export const conversationSchema = z.object({
  id: z.string(),
  sessionId: z.string(),
  contactId: z.string(),
  // Summaries the list renders without a request per row (optional: older APIs lack them, and the
  // inbox then fetches the contact and the newest message itself).
  contact: z
    .object({
      id: z.string(),
      name: z.string().nullable(),
      phoneNumber: z.string().nullable(),
      lid: z.string().nullable(),
    })
    .optional(),
  lastMessage: lastMessageSchema.nullable().optional(),
  status: z.enum(['open', 'resolved']),
  assigneeId: z.string().nullable(),
  lastMessageAt: iso,
  unreadCount: z.number().int(),
  resolvedAt: iso.nullable(),
  createdAt: iso,
  // Its labels (components/labels.tsx; optional: older APIs lack them).
  labels: z.array(z.object({ id: z.string(), name: z.string(), color: z.string() })).optional(),
});
export type Conversation = z.infer<typeof conversationSchema>;

export const messageStatusSchema = z.enum(['queued', 'sent', 'delivered', 'read', 'failed']);
export type MessageStatus = z.infer<typeof messageStatusSchema>;

/** A message as the history and GET /v1/messages/:id return it (the latter adds failureReason). */
export const messageSchema = z.object({
  id: z.string(),
  conversationId: z.string(),
  direction: z.enum(['inbound', 'outbound']),
  status: messageStatusSchema,
  type: z.string(),
  body: z.string().nullable(),
  replyToMessageId: z.string().nullable(),
  createdAt: iso,
  failureReason: z.string().nullable().optional(),
  // Reactions carry the emoji here ('' when removed); the target is replyToMessageId.
  reaction: z.string().nullable().optional(),
  // Who sent an outbound message automatically ('assistant'); null: a person or the API.
  automatedBy: z.string().nullable().optional(),
  // The stored file of a media message; the history says whether it is downloadable yet.
  media: z
    .object({
      mimeType: z.string().nullable(),
      fileName: z.string().nullable(),
      available: z.boolean().optional(),
    })
    .nullable()
    .optional(),
  // Groups: who wrote it and whom it mentions (group-schemas.ts).
  sender: groupSenderSchema.nullable().optional(),
  mentions: groupMentionsSchema.nullable().optional(),
  // Interactive messages, polls and their answers: the structured content (components/interactive-content.tsx).
  interactive: z.record(z.string(), z.unknown()).nullable().optional(),
});
export type Message = z.infer<typeof messageSchema>;

export const contactSchema = z.object({
  id: z.string(),
  displayName: z.string().nullable(),
  pushName: z.string().nullable(),
  notes: z.string().nullable().default(null),
  identities: z.array(z.object({ kind: z.enum(['pn', 'lid']), value: z.string() })),
  createdAt: iso,
});
export type Contact = z.infer<typeof contactSchema>;

export const sessionStateSchema = z.enum([
  'unpaired',
  'pairing',
  'connecting',
  'connected',
  'disconnected',
  'logged_out',
]);
export const sessionSchema = z.object({
  id: z.string(),
  name: z.string(),
  channel: z.enum(['baileys', 'cloud-api']),
  state: sessionStateSchema,
  stateReason: z.string().nullable(),
  declared: z.boolean(),
  phoneNumber: z.string().nullable(),
  stateChangedAt: iso,
  lastConnectedAt: iso.nullable(),
  createdAt: iso,
});
export type Session = z.infer<typeof sessionSchema>;

export const pairingSchema = z.object({
  sessionId: z.string(),
  kind: z.enum(['qr', 'code']),
  code: z.string().min(1),
  phoneNumber: z.string().optional(),
  expiresAt: iso,
  sequence: z.number().int(),
});
export type Pairing = z.infer<typeof pairingSchema>;

export const memberSchema = z.object({
  userId: z.string(),
  email: z.string(),
  displayName: z.string(),
  role: roleSchema,
  createdAt: iso,
});
export type Member = z.infer<typeof memberSchema>;

/** POST /v1/team's answer: the member and the invite token of their accept-invite link. */
export const invitedSchema = memberSchema.extend({
  invite: z.object({ token: z.string(), expiresAt: iso }),
});

/** An invite not accepted yet (GET /v1/team/invites): expiresAt null when no link of it works. */
export const pendingInviteSchema = memberSchema.extend({ expiresAt: iso.nullable() });
export type PendingInvite = z.infer<typeof pendingInviteSchema>;

/** Who an invite (or password reset) token is for (POST /v1/auth/invite). */
export const inviteSchema = z.object({
  email: z.string(),
  displayName: z.string(),
  tenant: z.string(),
  expiresAt: iso,
  /** What the token was issued for; an API without the field issued invites. */
  purpose: z.enum(['invite', 'reset']).default('invite'),
});
export type InviteDetails = z.infer<typeof inviteSchema>;

export const apiKeySchema = z.object({
  id: z.string(),
  name: z.string(),
  prefix: z.string(),
  scopes: z.array(z.string()),
  lastUsedAt: iso.nullable(),
  expiresAt: iso.nullable(),
  revokedAt: iso.nullable(),
  createdAt: iso,
});
export type ApiKey = z.infer<typeof apiKeySchema>;
export const createdApiKeySchema = apiKeySchema.extend({ key: z.string().min(1) });

export const webhookSchema = z.object({
  id: z.string(),
  url: z.string(),
  description: z.string().nullable(),
  events: z.array(z.string()),
  active: z.boolean(),
  createdAt: iso,
});
export type Webhook = z.infer<typeof webhookSchema>;
export const createdWebhookSchema = webhookSchema.extend({ secret: z.string().min(1) });

export const templateSchema = z.object({
  id: z.string(),
  name: z.string(),
  language: z.string(),
  category: z.string().nullable(),
  body: z.string(),
  components: z.unknown(),
});
export type Template = z.infer<typeof templateSchema>;

export const quickReplySchema = z.object({
  id: z.string(),
  shortcut: z.string(),
  title: z.string(),
  body: z.string(),
});
export type QuickReply = z.infer<typeof quickReplySchema>;

export const contactExportSchema = z.object({
  contact: contactSchema,
  conversations: z.array(z.unknown()),
  messages: z.array(z.unknown()),
});

/** The realtime events (packages/messaging contracts: ids, and message events may carry the message). */
export const realtimeEventSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('message.created'),
    at: iso,
    data: z.object({
      messageId: z.string(),
      conversationId: z.string(),
      sessionId: z.string(),
      direction: z.enum(['inbound', 'outbound']),
      // The message itself when it fits an event (bounded body, media by reference): shown
      // without fetching it.
      message: messageSchema.optional(),
    }),
  }),
  z.object({
    type: z.literal('message.updated'),
    at: iso,
    data: z.object({
      messageId: z.string(),
      conversationId: z.string(),
      status: messageStatusSchema,
      reason: z.string().optional(),
      message: messageSchema.optional(),
    }),
  }),
  z.object({
    type: z.literal('conversation.updated'),
    at: iso,
    data: z.object({ conversationId: z.string() }),
  }),
  z.object({
    type: z.literal('session.state'),
    at: iso,
    data: z.object({
      sessionId: z.string(),
      state: sessionStateSchema,
      reason: z.string().optional(),
      phoneNumber: z.string().optional(),
    }),
  }),
  z.object({
    type: z.literal('conversation.typing'),
    at: iso,
    data: z.object({
      conversationId: z.string(),
      sessionId: z.string(),
      state: z.enum(['typing', 'recording', 'paused']),
    }),
  }),
  z.object({
    type: z.literal('session.pairing'),
    at: iso,
    data: z.object({
      sessionId: z.string(),
      kind: z.enum(['qr', 'code']),
      sequence: z.number().int(),
      expiresAt: iso,
    }),
  }),
]);
export type RealtimeEvent = z.infer<typeof realtimeEventSchema>;
