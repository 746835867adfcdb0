/**
 * Graph's `interactive` send object (`type: button | list | cta_url`) with the limits of Meta's
 * message reference, for the send schema in wire.ts (interactive.ts handles the rest).
 */
import { z } from 'zod';

const text = (max: number) =>
  z.string().min(1, 'must not be empty').max(max, `must be at most ${max} characters`);

const header = z.looseObject({
  type: z.enum(['text', 'image', 'video', 'document']),
  text: text(60).optional(),
});
const body = z.strictObject({ text: text(1024) });
const footer = z.strictObject({ text: text(60) });

/** Graph's `interactive` object, with the limits of Meta's message reference. */
export const interactiveSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('button'),
    header: header.optional(),
    body,
    footer: footer.optional(),
    action: z.strictObject({
      buttons: z
        .array(
          z.strictObject({
            type: z.literal('reply'),
            reply: z.strictObject({ id: text(256), title: text(20) }),
          }),
        )
        .min(1)
        .max(3, 'at most 3 reply buttons')
        .refine((b) => new Set(b.map((x) => x.reply.id)).size === b.length, 'button ids must be unique'),
    }),
  }),
  z.strictObject({
    type: z.literal('list'),
    header: header.optional(),
    body,
    footer: footer.optional(),
    action: z.strictObject({
      button: text(20),
      sections: z
        .array(
          z.strictObject({
            title: text(24).optional(),
            rows: z
              .array(z.strictObject({ id: text(200), title: text(24), description: text(72).optional() }))
              .min(1),
          }),
        )
        .min(1)
        .max(10, 'at most 10 sections')
        .refine((s) => s.flatMap((x) => x.rows).length <= 10, 'at most 10 rows in all sections')
        .refine(
          (s) => s.length === 1 || s.every((x) => x.title),
          'sections need a title when there are several',
        ),
    }),
  }),
  z.strictObject({
    type: z.literal('cta_url'),
    header: header.optional(),
    body,
    footer: footer.optional(),
    action: z.strictObject({
      name: z.literal('cta_url'),
      parameters: z.strictObject({ display_text: text(20), url: z.url({ protocol: /^https?$/ }) }),
    }),
  }),
]);
/** A validated `interactive` object. */
export type GraphInteractive = z.infer<typeof interactiveSchema>;
