/**
 * Meta's webhook batch to domain events, as a pure function. One POST can carry several entries,
 * each with several changes, each with messages and statuses together; every item is validated
 * on its own so one odd message never drops the rest, and every item that is not mapped comes
 * back as an UnsupportedEvent.
 */
import { z } from 'zod';
import type {
  ContactRef,
  InboundMessage,
  MediaRef,
  MessageContent,
  Receipt,
  UnsupportedEvent,
} from '../channel.ts';
import { interactiveReplyContent, legacyButtonReply } from './interactive.ts';

/** One domain event parsed from a webhook, in payload order. */
export type CloudApiWebhookEvent =
  | { event: 'message'; payload: InboundMessage }
  | { event: 'receipt'; payload: Receipt }
  | { event: 'unsupported'; payload: UnsupportedEvent };

/** What {@link parseCloudApiWebhook} returns. */
export interface ParsedCloudApiWebhook {
  events: CloudApiWebhookEvent[];
  /** phone_number_ids the payload named that no session of ours has (their items are skipped). */
  unrouted: string[];
}

/** Options of {@link parseCloudApiWebhook}. */
export interface ParseCloudApiWebhookOptions {
  /** Which session each business phone number id belongs to. */
  sessionsByPhoneNumberId: Record<string, string> | ReadonlyMap<string, string>;
  /** Stamped on UnsupportedEvents (default now). */
  now?: Date;
}

const SOURCE = 'cloud-api.webhook';

const envelopeSchema = z.object({
  object: z.literal('whatsapp_business_account'),
  entry: z.array(
    z.object({
      id: z.string(),
      changes: z.array(z.object({ field: z.string(), value: z.unknown() })),
    }),
  ),
});

const valueSchema = z.object({
  messaging_product: z.literal('whatsapp'),
  metadata: z.object({ display_phone_number: z.string(), phone_number_id: z.string() }),
  contacts: z
    .array(
      z.looseObject({
        wa_id: z.string(),
        profile: z.looseObject({ name: z.string().optional() }).optional(),
      }),
    )
    .optional(),
  messages: z.array(z.unknown()).optional(),
  statuses: z.array(z.unknown()).optional(),
  errors: z.array(z.looseObject({ code: z.number().optional(), title: z.string().optional() })).optional(),
});

const mediaSchema = z.looseObject({
  id: z.string().min(1),
  mime_type: z.string().optional(),
  sha256: z.string().optional(),
  caption: z.string().optional(),
  filename: z.string().optional(),
  voice: z.boolean().optional(),
  animated: z.boolean().optional(),
});

const messageBase = z.looseObject({
  from: z.string().min(1),
  id: z.string().min(1),
  timestamp: z.string().regex(/^\d+$/),
  type: z.string(),
  context: z
    .looseObject({
      from: z.string().optional(),
      id: z.string().optional(),
      forwarded: z.boolean().optional(),
      frequently_forwarded: z.boolean().optional(),
    })
    .optional(),
});
type MessageBase = z.infer<typeof messageBase>;

const bodies = {
  text: z.object({ text: z.looseObject({ body: z.string() }) }),
  location: z.object({
    location: z.looseObject({
      latitude: z.number(),
      longitude: z.number(),
      name: z.string().optional(),
      address: z.string().optional(),
    }),
  }),
  contacts: z.object({
    contacts: z.array(
      z.looseObject({
        name: z
          .looseObject({ formatted_name: z.string().optional(), first_name: z.string().optional() })
          .optional(),
        phones: z
          .array(
            z.looseObject({
              phone: z.string().optional(),
              wa_id: z.string().optional(),
              type: z.string().optional(),
            }),
          )
          .optional(),
        emails: z.array(z.looseObject({ email: z.string().optional() })).optional(),
      }),
    ),
  }),
  reaction: z.object({
    reaction: z.looseObject({ message_id: z.string().min(1), emoji: z.string().optional() }),
  }),
  button: z.object({ button: z.looseObject({ text: z.string(), payload: z.string().optional() }) }),
  interactive: z.object({
    interactive: z.union([
      z.looseObject({
        type: z.literal('button_reply'),
        button_reply: z.looseObject({ id: z.string(), title: z.string() }),
      }),
      z.looseObject({
        type: z.literal('list_reply'),
        list_reply: z.looseObject({ id: z.string(), title: z.string(), description: z.string().optional() }),
      }),
      z.looseObject({
        type: z.literal('nfm_reply'),
        nfm_reply: z.looseObject({ response_json: z.string().optional(), body: z.string().optional() }),
      }),
    ]),
  }),
};
const MEDIA_TYPES = ['image', 'video', 'audio', 'document', 'sticker'] as const;

const statusSchema = z.looseObject({
  id: z.string().min(1),
  status: z.string(),
  timestamp: z.string().regex(/^\d+$/),
  recipient_id: z.string().min(1),
  biz_opaque_callback_data: z.string().min(1).max(512).optional(),
  errors: z
    .array(
      z.looseObject({
        code: z.number().optional(),
        title: z.string().optional(),
        message: z.string().optional(),
        error_data: z.looseObject({ details: z.string().optional() }).optional(),
      }),
    )
    .optional(),
});

function issuesOf(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || 'value'}: ${i.message}`).join('; ');
}

/** Meta sends the media hash base64-encoded; MediaRef wants hex. */
function sha256Hex(value: string | undefined): string | undefined {
  if (!value) return undefined;
  if (/^[0-9a-f]{64}$/i.test(value)) return value.toLowerCase();
  const bytes = Buffer.from(value, 'base64');
  return bytes.length === 32 ? bytes.toString('hex') : undefined;
}

function vcardOf(contact: z.infer<typeof bodies.contacts>['contacts'][number]): {
  displayName?: string;
  vcard: string;
} {
  const name = contact.name?.formatted_name ?? contact.name?.first_name;
  const lines = ['BEGIN:VCARD', 'VERSION:3.0', `FN:${name ?? ''}`];
  for (const phone of contact.phones ?? []) {
    const number = phone.phone ?? (phone.wa_id ? `+${phone.wa_id}` : undefined);
    if (!number) continue;
    lines.push(
      phone.wa_id
        ? `TEL;type=${phone.type ?? 'CELL'};waid=${phone.wa_id}:${number}`
        : `TEL;type=${phone.type ?? 'CELL'}:${number}`,
    );
  }
  for (const email of contact.emails ?? []) if (email.email) lines.push(`EMAIL:${email.email}`);
  lines.push('END:VCARD');
  return { ...(name ? { displayName: name } : {}), vcard: lines.join('\n') };
}

/** The content of one message, or why it has none we map. */
function contentOf(
  message: MessageBase,
): MessageContent | { unsupported: UnsupportedEvent['reason']; detail: string } {
  const type = message.type;
  const parse = <S extends z.ZodType>(
    schema: S,
  ): z.infer<S> | { unsupported: 'malformed'; detail: string } => {
    const result = schema.safeParse(message);
    return result.success
      ? result.data
      : { unsupported: 'malformed', detail: `${type}: ${issuesOf(result.error)}` };
  };
  if (type === 'text') {
    const b = parse(bodies.text);
    return 'unsupported' in b ? b : { type: 'text', text: b.text.body };
  }
  if ((MEDIA_TYPES as readonly string[]).includes(type)) {
    const kind = type as (typeof MEDIA_TYPES)[number];
    const result = z.object({ [kind]: mediaSchema }).safeParse(message);
    if (!result.success) return { unsupported: 'malformed', detail: `${type}: ${issuesOf(result.error)}` };
    const m = (result.data as Record<string, z.infer<typeof mediaSchema>>)[kind]!;
    const sha256 = sha256Hex(m.sha256);
    const media: MediaRef = {
      ...(m.mime_type ? { mimetype: m.mime_type } : {}),
      ...(sha256 ? { sha256 } : {}),
      ...(m.filename ? { fileName: m.filename } : {}),
      // The worker's download: GET /{version}/{media-id} for the URL, then the URL with the token.
      download: { provider: 'cloud-api', data: m.id },
    };
    return {
      type: kind,
      media,
      ...(m.caption ? { caption: m.caption } : {}),
      ...(kind === 'audio' && m.voice ? { voiceNote: true } : {}),
      ...(kind === 'sticker' && m.animated ? { animated: true } : {}),
    };
  }
  if (type === 'location') {
    const b = parse(bodies.location);
    if ('unsupported' in b) return b;
    const { latitude, longitude, name, address } = b.location;
    return {
      type: 'location',
      latitude,
      longitude,
      ...(name ? { name } : {}),
      ...(address ? { address } : {}),
    };
  }
  if (type === 'contacts') {
    const b = parse(bodies.contacts);
    return 'unsupported' in b ? b : { type: 'contact', contacts: b.contacts.map(vcardOf) };
  }
  if (type === 'reaction') {
    const b = parse(bodies.reaction);
    // An empty or missing emoji is Meta's way of saying the reaction was removed.
    return 'unsupported' in b
      ? b
      : { type: 'reaction', targetId: b.reaction.message_id, emoji: b.reaction.emoji || null };
  }
  if (type === 'button') {
    // A template's quick-reply button: structured, its payload as the id (interactive.ts).
    const b = parse(bodies.button);
    return 'unsupported' in b ? b : legacyButtonReply(b.button);
  }
  if (type === 'interactive') {
    const b = parse(bodies.interactive);
    if ('unsupported' in b) return b;
    return (
      interactiveReplyContent(b.interactive) ?? {
        unsupported: 'unknown-content',
        detail: 'interactive: nfm_reply (flow response)',
      }
    );
  }
  if (type === 'system') return { unsupported: 'system-notification', detail: 'system' };
  if (type === 'unsupported')
    return { unsupported: 'unknown-content', detail: 'unsupported (Meta could not render it)' };
  return { unsupported: 'unknown-content', detail: `type ${type}` };
}

function lookup(map: ParseCloudApiWebhookOptions['sessionsByPhoneNumberId'], id: string): string | undefined {
  return map instanceof Map ? map.get(id) : (map as Record<string, string>)[id];
}

/** Parses one webhook POST body (already signature-checked) into domain events. */
export function parseCloudApiWebhook(
  payload: unknown,
  options: ParseCloudApiWebhookOptions,
): ParsedCloudApiWebhook {
  const now = options.now ?? new Date();
  const events: CloudApiWebhookEvent[] = [];
  const unrouted = new Set<string>();
  const unsupported = (
    sessionId: string,
    reason: UnsupportedEvent['reason'],
    detail: string,
    extra: Partial<UnsupportedEvent> = {},
  ) =>
    events.push({
      event: 'unsupported',
      payload: { sessionId, source: SOURCE, reason, detail, at: now, ...extra },
    });

  const envelope = envelopeSchema.safeParse(payload);
  if (!envelope.success) {
    // No session can be told from a payload without its envelope: sessionId stays empty.
    unsupported('', 'malformed', `envelope: ${issuesOf(envelope.error)}`);
    return { events, unrouted: [] };
  }
  for (const entry of envelope.data.entry) {
    for (const change of entry.changes) {
      if (change.field !== 'messages') {
        // Other fields (account_update, message_template_status_update...) have their own shapes,
        // often without metadata: route them when they name a number, else leave the session empty.
        const id = (change.value as { metadata?: { phone_number_id?: unknown } } | null)?.metadata
          ?.phone_number_id;
        const owner = typeof id === 'string' ? lookup(options.sessionsByPhoneNumberId, id) : undefined;
        unsupported(owner ?? '', 'unknown-update', `entry ${entry.id} field ${change.field}`);
        continue;
      }
      const value = valueSchema.safeParse(change.value);
      if (!value.success) {
        unsupported('', 'malformed', `entry ${entry.id} field ${change.field}: ${issuesOf(value.error)}`);
        continue;
      }
      const phoneNumberId = value.data.metadata.phone_number_id;
      const sessionId = lookup(options.sessionsByPhoneNumberId, phoneNumberId);
      if (!sessionId) {
        unrouted.add(phoneNumberId);
        continue;
      }
      const names = new Map((value.data.contacts ?? []).map((c) => [c.wa_id, c.profile?.name]));
      for (const error of value.data.errors ?? [])
        unsupported(
          sessionId,
          'unknown-update',
          `errors: Graph error ${error.code ?? '?'} ${error.title ?? ''}`.trim(),
        );

      for (const raw of value.data.messages ?? []) {
        const base = messageBase.safeParse(raw);
        if (!base.success) {
          const id = (raw as { id?: unknown })?.id;
          unsupported(
            sessionId,
            'malformed',
            `message: ${issuesOf(base.error)}`,
            typeof id === 'string' ? { providerMessageId: id } : {},
          );
          continue;
        }
        const m = base.data;
        const content = contentOf(m);
        if ('unsupported' in content) {
          unsupported(sessionId, content.unsupported, content.detail, {
            providerMessageId: m.id,
            chat: m.from,
          });
          continue;
        }
        const pushName = names.get(m.from);
        const sender: ContactRef = { address: m.from, pn: m.from, ...(pushName ? { pushName } : {}) };
        const forwarded = m.context?.forwarded || m.context?.frequently_forwarded;
        events.push({
          event: 'message',
          payload: {
            sessionId,
            providerMessageId: m.id,
            chat: { address: m.from, kind: 'direct', contact: sender },
            sender,
            fromMe: false,
            timestamp: new Date(Number(m.timestamp) * 1000),
            live: true,
            content,
            ...(m.context?.id && m.type !== 'reaction'
              ? {
                  replyTo: {
                    providerMessageId: m.context.id,
                    ...(m.context.from ? { author: m.context.from } : {}),
                  },
                }
              : {}),
            ...(forwarded ? { forwarded: true } : {}),
          },
        });
      }

      for (const raw of value.data.statuses ?? []) {
        const parsed = statusSchema.safeParse(raw);
        if (!parsed.success) {
          unsupported(sessionId, 'malformed', `status: ${issuesOf(parsed.error)}`);
          continue;
        }
        const s = parsed.data;
        if (s.status !== 'sent' && s.status !== 'delivered' && s.status !== 'read' && s.status !== 'failed') {
          unsupported(sessionId, 'unknown-update', `status ${s.status}`, {
            providerMessageId: s.id,
            chat: s.recipient_id,
          });
          continue;
        }
        const error = s.errors?.[0];
        events.push({
          event: 'receipt',
          payload: {
            sessionId,
            providerMessageId: s.id,
            chat: s.recipient_id,
            status: s.status,
            fromMe: true,
            recipient: { address: s.recipient_id, pn: s.recipient_id },
            at: new Date(Number(s.timestamp) * 1000),
            ...(s.biz_opaque_callback_data ? { callbackData: s.biz_opaque_callback_data } : {}),
            ...(s.status === 'failed' && error
              ? {
                  failure: {
                    ...(error.code === undefined ? {} : { code: error.code }),
                    ...(error.title ? { title: error.title } : {}),
                    ...(error.error_data?.details ? { detail: error.error_data.details } : {}),
                  },
                }
              : {}),
          },
        });
      }
    }
  }
  return { events, unrouted: [...unrouted] };
}
