// What the API answers about WhatsApp groups: the group (subject, participants), and the sender
// and mentions a message of a group conversation carries (added to the message schemas of dto.ts).
import type { Message, WhatsappGroup } from '@switchboard/db';
import {
  groupMentionsSchema,
  groupSenderSchema,
  storedParticipantsSchema,
} from '@switchboard/messaging/producer';
import { z } from 'zod';
import { isoOrNull } from './schemas.ts';

/** The fields a message of a group conversation adds (absent on other messages). */
export const groupMessageShape = {
  /** Who wrote it, in a group: JID, phone digits when known, push name. */
  sender: groupSenderSchema.optional().describe('Groups: who wrote the message.'),
  /** Whom it mentions (phone digits in `pn`), in a group. */
  mentions: groupMentionsSchema.optional().describe('Groups: the people the message mentions.'),
};

/** The sender and mentions of `m`, when it has them. */
export function groupMessageFields(m: Pick<Message, 'senderJid' | 'senderPn' | 'senderName' | 'mentions'>): {
  sender?: z.infer<typeof groupSenderSchema>;
  mentions?: z.infer<typeof groupMentionsSchema>;
} {
  const mentions = groupMentionsSchema.safeParse(m.mentions);
  return {
    ...(m.senderJid ? { sender: { jid: m.senderJid, pn: m.senderPn, name: m.senderName } } : {}),
    ...(mentions.success && mentions.data.length > 0 ? { mentions: mentions.data } : {}),
  };
}

/** A participant as the API shows it. */
const participantSchema = z.strictObject({
  jid: z.string(),
  phone: z.string().nullable().describe('Phone number digits, when WhatsApp gave them.'),
  name: z.string().nullable().describe("The team's name for them (their contact), else their push name."),
  role: z.enum(['member', 'admin', 'superadmin']),
});

/** A WhatsApp group as the API shows it. */
export const groupSchema = z.strictObject({
  id: z.string().describe('The group id (`<digits>@g.us`).'),
  contactId: z
    .uuid()
    .nullable()
    .describe(
      "The contact the group's conversations are filed under (null in an answer the worker gave before it stored the group).",
    ),
  subject: z.string().nullable(),
  description: z.string().nullable(),
  owner: z.string().nullable().describe('Who created it (a JID).'),
  participants: z.array(participantSchema),
  createdAt: isoOrNull.describe('When the group was created on WhatsApp.'),
  refreshedAt: isoOrNull.describe('When its info was last read from WhatsApp.'),
});
export type GroupDto = z.infer<typeof groupSchema>;

/** The API's view of a group row; `names` maps phone digits to the team's contact names. */
export function groupDto(row: WhatsappGroup, names: ReadonlyMap<string, string> = new Map()): GroupDto {
  const parsed = storedParticipantsSchema.safeParse(row.participants);
  return {
    id: row.jid,
    contactId: row.contactId,
    subject: row.subject,
    description: row.description,
    owner: row.ownerJid,
    participants: (parsed.success ? parsed.data : []).map((p) => ({
      jid: p.jid,
      phone: p.pn ?? null,
      name: (p.pn ? names.get(p.pn) : undefined) ?? p.name ?? null,
      role: p.role,
    })),
    createdAt: row.groupCreatedAt?.toISOString() ?? null,
    refreshedAt: row.refreshedAt?.toISOString() ?? null,
  };
}
