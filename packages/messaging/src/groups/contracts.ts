// What the API and the workers agree on about WhatsApp groups: the group command the API puts on a
// session's command queue (and the result the worker answers), and the sender and mentions a
// group message carries in realtime events.
import { z } from 'zod';

const uuid = z.uuid();

/** A group's address, `<digits>[-<digits>]@g.us`. */
export const groupJidSchema = z
  .string()
  .trim()
  .regex(/^[0-9-]{1,64}@g\.us$/, 'must be a group id such as 120363025246125486@g.us');

/** A participant for a group operation: a phone number, E.164 digits without '+'. */
export const participantPhoneSchema = z
  .string()
  .regex(/^[1-9][0-9]{6,14}$/, 'must be an E.164 number without "+" (7 to 15 digits)');

/** WhatsApp caps a group's subject at 100 characters. */
export const groupSubjectSchema = z.string().trim().min(1, 'must not be empty').max(100);

/** At most this many participants in one operation (WhatsApp's group size limit is 1024). */
export const MAX_GROUP_OPERATION_PARTICIPANTS = 256;

const participants = z
  .array(participantPhoneSchema)
  .min(1, 'needs at least one participant')
  .max(MAX_GROUP_OPERATION_PARTICIPANTS);

/** One group operation, run by the worker holding the session. */
export const groupOperationSchema = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('create'), subject: groupSubjectSchema, participants }),
  z.strictObject({
    op: z.literal('participants'),
    group: groupJidSchema,
    action: z.enum(['add', 'remove', 'promote', 'demote']),
    participants,
  }),
  z.strictObject({ op: z.literal('subject'), group: groupJidSchema, subject: groupSubjectSchema }),
  /** Reads the group's info from WhatsApp again (and stores it). */
  z.strictObject({ op: z.literal('refresh'), group: groupJidSchema }),
]);
export type GroupOperation = z.infer<typeof groupOperationSchema>;

/** The session command that carries a group operation (one of `sessionCommandSchema`'s kinds). */
export const groupSessionCommandSchema = z.strictObject({
  type: z.literal('group'),
  tenantId: uuid,
  sessionId: uuid,
  /** Names the job (`group-<requestId>`): the API waits for this job's result. */
  requestId: uuid,
  operation: groupOperationSchema,
  requestedBy: z.string().min(1),
});
export type GroupSessionCommand = z.infer<typeof groupSessionCommandSchema>;

/** A group's info as the worker read it from WhatsApp (`create`, `refresh`). */
export const groupInfoResultSchema = z.strictObject({
  subject: z.string().nullable(),
  description: z.string().nullable(),
  owner: z.string().nullable(),
  createdAt: z.iso.datetime().nullable(),
  participants: z.array(
    z.strictObject({
      jid: z.string(),
      pn: z.string().nullable(),
      role: z.enum(['member', 'admin', 'superadmin']),
    }),
  ),
});
export type GroupInfoResult = z.infer<typeof groupInfoResultSchema>;

/** What the worker answers for a group command (the job's return value). */
export const groupCommandResultSchema = z.strictObject({
  /** The group operated on (created, for `create`). */
  group: groupJidSchema,
  info: groupInfoResultSchema.optional(),
  /** For `participants`: WhatsApp's answer per participant (200 is success; 403 privacy, 408 not on WhatsApp...). */
  participants: z
    .array(z.strictObject({ phone: z.string().nullable(), status: z.number().int() }))
    .optional(),
});
export type GroupCommandResult = z.infer<typeof groupCommandResultSchema>;

/** Who wrote a group message: their JID, phone digits when known, and push name. */
export const groupSenderSchema = z.strictObject({
  jid: z.string().max(128),
  pn: z.string().max(32).nullable(),
  name: z.string().max(256).nullable(),
});
export type GroupSender = z.infer<typeof groupSenderSchema>;

/** The people a message mentions: [{jid, pn?, name?}] (the `messages.mentions` column). */
export const groupMentionsSchema = z
  .array(
    z.strictObject({
      jid: z.string().max(128),
      pn: z.string().max(32).optional(),
      name: z.string().max(256).optional(),
    }),
  )
  .max(MAX_GROUP_OPERATION_PARTICIPANTS);
export type GroupMentions = z.infer<typeof groupMentionsSchema>;

/** The participants a group row holds (`whatsapp_groups.participants`). */
export const storedParticipantsSchema = z.array(
  z.object({
    jid: z.string(),
    pn: z.string().optional(),
    lid: z.string().optional(),
    name: z.string().optional(),
    role: z.enum(['member', 'admin', 'superadmin']),
  }),
);
export type StoredParticipant = z.infer<typeof storedParticipantsSchema>[number];
