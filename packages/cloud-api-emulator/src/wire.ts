/**
 * Meta's Cloud API wire formats as the emulator speaks them: the send request (validated the way
 * Graph validates it), the error body, and the webhook envelope.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { interactiveSchema } from './interactive-wire.ts';

/** Graph's error body: `{ error: { message, type, code, error_subcode?, error_data, fbtrace_id } }`. */
export interface GraphErrorBody {
  error: {
    message: string;
    type: string;
    code: number;
    error_subcode?: number;
    error_data: { messaging_product: 'whatsapp'; details: string };
    fbtrace_id: string;
  };
}

/** The HTTP status and title Meta answers a code with (titles as Meta's error-code page names them). */
export const GRAPH_ERRORS: Record<number, { status: number; type: string; title: string }> = {
  0: { status: 401, type: 'OAuthException', title: 'AuthException' },
  4: { status: 400, type: 'OAuthException', title: 'API Too Many Calls' },
  10: { status: 403, type: 'OAuthException', title: 'Permission denied' },
  100: { status: 400, type: 'OAuthException', title: 'Invalid parameter' },
  190: { status: 401, type: 'OAuthException', title: 'Access token has expired' },
  80007: { status: 400, type: 'OAuthException', title: 'Rate limit issues' },
  130429: { status: 400, type: 'OAuthException', title: 'Rate limit hit' },
  131000: { status: 500, type: 'OAuthException', title: 'Something went wrong' },
  131008: { status: 400, type: 'OAuthException', title: 'Required parameter is missing' },
  131009: { status: 400, type: 'OAuthException', title: 'Parameter value is not valid' },
  131016: { status: 503, type: 'OAuthException', title: 'Service unavailable' },
  131026: { status: 400, type: 'OAuthException', title: 'Message Undeliverable' },
  131030: { status: 400, type: 'OAuthException', title: 'Recipient phone number not in allowed list' },
  131047: { status: 400, type: 'OAuthException', title: 'Re-engagement message' },
  131051: { status: 400, type: 'OAuthException', title: 'Unsupported message type' },
  131053: { status: 400, type: 'OAuthException', title: 'Media upload error' },
  131056: {
    status: 400,
    type: 'OAuthException',
    title: '(Business Account, Consumer Account) pair rate limit hit',
  },
  132001: { status: 400, type: 'OAuthException', title: 'Template does not exist' },
  133010: { status: 400, type: 'OAuthException', title: 'Phone number Not Registered' },
};

/** A fbtrace_id-like opaque id. */
export function fbtraceId(): string {
  return randomBytes(9).toString('base64url');
}

/** A wamid-like message id: `wamid.` + base64 (Meta's are base64 of a protobuf naming the chat). */
export function wamid(): string {
  return `wamid.${randomBytes(24).toString('base64')}`;
}

/** A media id as Graph writes them: a decimal number of about 16 digits. */
export function newMediaId(): string {
  return String(BigInt(`0x${randomBytes(7).toString('hex')}`));
}

/** Builds Graph's error body for `code`. */
export function graphError(
  code: number,
  details: string,
  options: { subcode?: number; message?: string; status?: number } = {},
): { status: number; body: GraphErrorBody } {
  const known = GRAPH_ERRORS[code] ?? { status: 400, type: 'OAuthException', title: 'Error' };
  return {
    status: options.status ?? known.status,
    body: {
      error: {
        message: options.message ?? `(#${code}) ${known.title}`,
        type: known.type,
        code,
        ...(options.subcode === undefined ? {} : { error_subcode: options.subcode }),
        error_data: { messaging_product: 'whatsapp', details },
        fbtrace_id: fbtraceId(),
      },
    },
  };
}

const mediaObject = z
  .strictObject({
    id: z.string().min(1).optional(),
    link: z.url({ error: 'must be an http(s) URL' }).optional(),
    caption: z.string().max(1024).optional(),
    filename: z.string().optional(),
  })
  .refine((m) => (m.id === undefined) !== (m.link === undefined), {
    error: 'exactly one of id or link is required',
  });

const templateParameter = z.looseObject({ type: z.string().min(1) });

/** The send request body, as `POST /{version}/{phone-number-id}/messages` accepts it. */
export const sendRequestSchema = z
  .strictObject({
    messaging_product: z.literal('whatsapp', { error: "must be 'whatsapp'" }),
    recipient_type: z.literal('individual').optional(),
    to: z.string().regex(/^\+?\d{5,15}$/, { error: 'must be a phone number (digits, optional +)' }),
    type: z
      .enum([
        'text',
        'image',
        'document',
        'audio',
        'video',
        'sticker',
        'template',
        'reaction',
        'location',
        'contacts',
        'interactive',
      ])
      .default('text'),
    context: z.strictObject({ message_id: z.string().min(1) }).optional(),
    biz_opaque_callback_data: z.string().max(512).optional(),
    text: z
      .strictObject({ body: z.string().min(1).max(4096), preview_url: z.boolean().optional() })
      .optional(),
    image: mediaObject.optional(),
    document: mediaObject.optional(),
    audio: mediaObject.optional(),
    video: mediaObject.optional(),
    sticker: mediaObject.optional(),
    template: z
      .strictObject({
        name: z.string().min(1).max(512),
        language: z.strictObject({ code: z.string().min(2), policy: z.literal('deterministic').optional() }),
        components: z
          .array(
            z.looseObject({
              type: z.enum(['header', 'body', 'button', 'footer']),
              parameters: z.array(templateParameter).optional(),
            }),
          )
          .optional(),
      })
      .optional(),
    reaction: z.strictObject({ message_id: z.string().min(1), emoji: z.string() }).optional(),
    interactive: interactiveSchema.optional(),
    location: z
      .strictObject({
        latitude: z.number().min(-90).max(90),
        longitude: z.number().min(-180).max(180),
        name: z.string().optional(),
        address: z.string().optional(),
      })
      .optional(),
    contacts: z
      .array(
        z.looseObject({
          name: z.looseObject({ formatted_name: z.string().min(1) }),
          phones: z
            .array(z.looseObject({ phone: z.string().optional(), wa_id: z.string().optional() }))
            .optional(),
        }),
      )
      .min(1)
      .optional(),
  })
  .superRefine((body, ctx) => {
    // Graph requires the object named by `type`: `{type:'image'}` without `image` is a 100.
    if (body[body.type] === undefined)
      ctx.addIssue({ code: 'custom', path: [body.type], message: 'is required' });
  });
/** A validated send request. */
export type SendRequest = z.infer<typeof sendRequestSchema>;

/** Names each zod issue as `path: message`, the way Graph's `details` names the parameter. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : 'body'}: ${i.message}`).join('; ');
}

/** One `statuses[]` entry of a status webhook. */
export interface StatusEntry {
  id: string;
  status: 'sent' | 'delivered' | 'read' | 'failed';
  timestamp: string;
  recipient_id: string;
  /** Echoed from the send's `biz_opaque_callback_data`, as Meta does, when it had one. */
  biz_opaque_callback_data?: string;
  errors?: { code: number; title: string; message: string; error_data: { details: string } }[];
}

/** Meta's webhook envelope around one change of one phone number. */
export function webhookEnvelope(
  businessAccountId: string,
  metadata: { display_phone_number: string; phone_number_id: string },
  value: Record<string, unknown>,
): Record<string, unknown> {
  return {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: businessAccountId,
        changes: [{ field: 'messages', value: { messaging_product: 'whatsapp', metadata, ...value } }],
      },
    ],
  };
}
