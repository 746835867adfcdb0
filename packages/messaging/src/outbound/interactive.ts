/**
 * Interactive messages (Cloud API reply buttons, lists, CTA URLs), polls (Baileys), and what the
 * customer answers them with: the schemas the API validates sends with (Meta's and WhatsApp's
 * limits, each issue naming its field), and the `messages.interactive` column each of the four
 * message types keeps (migration 0017):
 *
 * | type                | interactive                                            | body            |
 * |---------------------|--------------------------------------------------------|-----------------|
 * | `interactive`       | the message as sent (`kind` button / list / cta_url)   | its body text   |
 * | `poll`              | `{name, options, selectableCount}`                     | the question    |
 * | `interactive_reply` | `{kind, id, title, description?}`: the button or row   | the title       |
 * | `poll_vote`         | `{pollMessageId, selectedOptions}` (the provider's id) | the options     |
 *
 * Nothing here imports a channel: the API reads it through the producer entry.
 */
import { z } from 'zod';

/** Meta's limits on interactive messages (characters), from the Cloud API's message reference. */
export const INTERACTIVE_LIMITS = {
  body: 1024,
  header: 60,
  footer: 60,
  buttons: 3,
  buttonTitle: 20,
  buttonId: 256,
  listButton: 20,
  sections: 10,
  rows: 10,
  sectionTitle: 24,
  rowTitle: 24,
  rowDescription: 72,
  rowId: 200,
  ctaDisplayText: 20,
} as const;

/** WhatsApp's poll limits: 2 to 12 options; a question of up to 255 characters, options of up to 100. */
export const POLL_LIMITS = { minOptions: 2, maxOptions: 12, nameLength: 255, optionLength: 100 } as const;

const L = INTERACTIVE_LIMITS;
const text = (max: number, what: string) =>
  z
    .string({ error: `${what} must be a string` })
    .min(1, `${what} must not be empty`)
    .max(max, `${what} must be at most ${max} characters`);

const common = {
  body: text(L.body, 'body'),
  header: text(L.header, 'header').optional(),
  footer: text(L.footer, 'footer').optional(),
};

function unique(ids: string[]): boolean {
  return new Set(ids).size === ids.length;
}

/** An interactive message as the API takes it and the `interactive` column keeps it. */
export const interactiveMessageSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('button'),
    ...common,
    buttons: z
      .array(
        z.strictObject({ id: text(L.buttonId, 'button id'), title: text(L.buttonTitle, 'button title') }),
      )
      .min(1, 'needs at least one button')
      .max(L.buttons, `at most ${L.buttons} reply buttons`)
      .refine((b) => unique(b.map((x) => x.id)), 'button ids must differ'),
  }),
  z.strictObject({
    kind: z.literal('list'),
    ...common,
    button: text(L.listButton, 'list button'),
    sections: z
      .array(
        z.strictObject({
          title: text(L.sectionTitle, 'section title').optional(),
          rows: z
            .array(
              z.strictObject({
                id: text(L.rowId, 'row id'),
                title: text(L.rowTitle, 'row title'),
                description: text(L.rowDescription, 'row description').optional(),
              }),
            )
            .min(1, 'a section needs at least one row'),
        }),
      )
      .min(1, 'needs at least one section')
      .max(L.sections, `at most ${L.sections} sections`)
      .refine((s) => s.flatMap((x) => x.rows).length <= L.rows, `at most ${L.rows} rows in all sections`)
      .refine((s) => unique(s.flatMap((x) => x.rows.map((r) => r.id))), 'row ids must differ')
      .refine(
        (s) => s.length === 1 || s.every((x) => x.title),
        'sections need a title when there are several',
      ),
  }),
  z.strictObject({
    kind: z.literal('cta_url'),
    ...common,
    displayText: text(L.ctaDisplayText, 'displayText'),
    url: z.url({ protocol: /^https?$/, error: 'url must be an http(s) URL' }).max(2000),
  }),
]);
/** See {@link interactiveMessageSchema}. */
export type InteractiveMessageInput = z.infer<typeof interactiveMessageSchema>;

/** A poll as the API takes it and the `interactive` column keeps it. */
export const pollSchema = z
  .strictObject({
    name: text(POLL_LIMITS.nameLength, 'name'),
    options: z
      .array(text(POLL_LIMITS.optionLength, 'option'))
      .min(POLL_LIMITS.minOptions, `needs at least ${POLL_LIMITS.minOptions} options`)
      .max(POLL_LIMITS.maxOptions, `at most ${POLL_LIMITS.maxOptions} options`)
      .refine(unique, 'options must differ'),
    selectableCount: z
      .number()
      .int()
      .min(0)
      .default(1)
      .describe('How many options a voter may pick; 0 = any number.'),
  })
  .refine((p) => p.selectableCount <= p.options.length, {
    error: 'selectableCount must be at most the number of options',
    path: ['selectableCount'],
  });
/** See {@link pollSchema}. */
export type PollInput = z.infer<typeof pollSchema>;

/** The `interactive` column of an `interactive_reply` message. */
export const interactiveReplySchema = z.strictObject({
  kind: z.enum(['button', 'list']),
  id: z.string(),
  title: z.string(),
  description: z.string().optional(),
});

/** The `interactive` column of a `poll_vote` message. */
export const pollVoteSchema = z.strictObject({
  pollMessageId: z.string(),
  selectedOptions: z.array(z.string()),
});

/** The message columns of an interactive send. */
export function interactiveColumns(message: InteractiveMessageInput): {
  type: 'interactive';
  body: string;
  interactive: InteractiveMessageInput;
} {
  return { type: 'interactive', body: message.body, interactive: message };
}

/** The message columns of a poll send. */
export function pollColumns(poll: PollInput): { type: 'poll'; body: string; interactive: PollInput } {
  return { type: 'poll', body: poll.name, interactive: poll };
}
