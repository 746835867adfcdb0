import { z } from 'zod';

/** A WhatsApp group as GET /v1/groups returns it. */
export const groupSchema = z.object({
  id: z.string(),
  contactId: z.string().nullable(),
  subject: z.string().nullable(),
  description: z.string().nullable(),
  participants: z.array(
    z.object({
      jid: z.string(),
      phone: z.string().nullable(),
      name: z.string().nullable(),
      role: z.enum(['member', 'admin', 'superadmin']),
    }),
  ),
});
export type Group = z.infer<typeof groupSchema>;

export const groupListSchema = z.object({ data: z.array(groupSchema) });

/** Who wrote a group message, and whom it mentions (optional fields of a message). */
export const groupSenderSchema = z.object({
  jid: z.string(),
  pn: z.string().nullable(),
  name: z.string().nullable(),
});
export const groupMentionsSchema = z.array(
  z.object({ jid: z.string(), pn: z.string().optional(), name: z.string().optional() }),
);
