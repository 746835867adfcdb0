import { z } from 'zod';

/**
 * Template components as Meta's Graph API takes them in a template send
 * (`template.components`: header, body and button components, each with its parameters):
 * https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages#template-object
 * Strict: a misspelt field is refused here instead of by Meta after the message was queued.
 */
const mediaRef = z
  .strictObject({ id: z.string().min(1).max(200).optional(), link: z.url().max(2000).optional() })
  .refine((m) => (m.id === undefined) !== (m.link === undefined), 'give exactly one of id or link');

const parameter = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('text'), text: z.string().min(1).max(1024) }),
  z.strictObject({
    type: z.literal('currency'),
    currency: z.strictObject({
      fallback_value: z.string().min(1).max(200),
      code: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code'),
      amount_1000: z.number().int(),
    }),
  }),
  z.strictObject({
    type: z.literal('date_time'),
    date_time: z.strictObject({ fallback_value: z.string().min(1).max(200) }),
  }),
  z.strictObject({ type: z.literal('image'), image: mediaRef }),
  z.strictObject({ type: z.literal('video'), video: mediaRef }),
  z.strictObject({
    type: z.literal('document'),
    document: z.strictObject({
      id: z.string().min(1).max(200).optional(),
      link: z.url().max(2000).optional(),
      filename: z.string().max(240).optional(),
    }),
  }),
  z.strictObject({ type: z.literal('payload'), payload: z.string().min(1).max(1000) }),
  z.strictObject({ type: z.literal('coupon_code'), coupon_code: z.string().min(1).max(20) }),
]);

/** One template component of a send. */
export const templateComponentSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('header'), parameters: z.array(parameter).max(10) }),
  z.strictObject({ type: z.literal('body'), parameters: z.array(parameter).max(100) }),
  z.strictObject({
    type: z.literal('button'),
    sub_type: z.enum(['quick_reply', 'url', 'copy_code', 'flow', 'catalog']),
    index: z.union([z.number().int().min(0).max(9), z.string().regex(/^[0-9]$/)]),
    parameters: z.array(parameter).max(10),
  }),
]);
export type TemplateComponent = z.infer<typeof templateComponentSchema>;

/** The `{{n}}` placeholders of a template body, as the numbers n. */
export function placeholdersOf(body: string): number[] {
  return [...new Set([...body.matchAll(/\{\{\s*(\d+)\s*\}\}/g)].map((m) => Number(m[1])))].sort(
    (a, b) => a - b,
  );
}

/** The body's text parameters, in order (other parameter types render by their fallback). */
function bodyTexts(components: readonly TemplateComponent[]): string[] {
  const body = components.find((c) => c.type === 'body');
  return (body?.parameters ?? []).map((p) => {
    switch (p.type) {
      case 'text':
        return p.text;
      case 'currency':
        return p.currency.fallback_value;
      case 'date_time':
        return p.date_time.fallback_value;
      default:
        return `[${p.type}]`;
    }
  });
}

/** How many body parameters `components` give. */
export function bodyParameterCount(components: readonly TemplateComponent[]): number {
  return components.find((c) => c.type === 'body')?.parameters.length ?? 0;
}

/**
 * A readable rendering of the send for the inbox (messages.body): the stored template's body with
 * the parameters filled in when the tenant keeps the template here, else its name and language.
 */
export function renderTemplate(
  send: { name: string; language: string; components: readonly TemplateComponent[] },
  storedBody: string | undefined,
): string {
  if (storedBody === undefined) return `[template ${send.name} (${send.language})]`;
  const texts = bodyTexts(send.components);
  return storedBody.replace(/\{\{\s*(\d+)\s*\}\}/g, (whole, n: string) => texts[Number(n) - 1] ?? whole);
}
