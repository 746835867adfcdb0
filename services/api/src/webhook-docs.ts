// The OpenAPI document's `webhooks` section (OpenAPI 3.1): one entry per event type of the
// catalogue (packages/messaging webhooks/events.ts), the body being that type's envelope schema.

import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import {
  WEBHOOK_EVENT_SUMMARIES,
  WEBHOOK_EVENT_TYPES,
  WEBHOOK_EVENT_VERSION,
  webhookBodyJsonSchema,
} from '@switchboard/messaging/producer';

/** The type @fastify/swagger gives the document's `webhooks` (OpenAPI 3.1 path items by name). */
type WebhooksOf<T> = T extends unknown
  ? 'webhooks' extends keyof T
    ? NonNullable<T['webhooks']>
    : never
  : never;
type WebhooksObject = WebhooksOf<NonNullable<FastifyDynamicSwaggerOptions['openapi']>>;

/** The headers every delivery carries (packages/messaging webhooks/signature.ts). */
const DELIVERY_HEADERS = [
  [
    'X-Switchboard-Event-Id',
    'The event id; receivers de-duplicate on it.',
    { type: 'string', format: 'uuid' },
  ],
  ['X-Switchboard-Event-Type', "The event type (the body's `type`).", { type: 'string' }],
  [
    'X-Switchboard-Event-Version',
    "The version of the type's payload schema.",
    { type: 'string', const: String(WEBHOOK_EVENT_VERSION) },
  ],
  ['X-Switchboard-Timestamp', 'Unix seconds, signed with the body.', { type: 'string' }],
  [
    'X-Switchboard-Signature',
    '`v1=` + hex HMAC-SHA256(secret, timestamp + "." + raw body); several `v1=` values during a secret rotation.',
    { type: 'string' },
  ],
] as const;

/** The `webhooks` object: each event type as the POST Switchboard makes to a subscription's URL. */
export function webhookDocuments(): WebhooksObject {
  return Object.fromEntries(
    WEBHOOK_EVENT_TYPES.map((type) => [
      type,
      {
        post: {
          summary: WEBHOOK_EVENT_SUMMARIES[type],
          description: `Delivered to subscriptions selecting \`${type}\` or \`*\`, signed (X-Switchboard-Signature), payload version ${WEBHOOK_EVENT_VERSION}. Answer 2xx; anything else is retried with backoff for about two hours.`,
          operationId: `webhook_${type.replaceAll('.', '_')}`,
          tags: ['webhooks'],
          parameters: DELIVERY_HEADERS.map(([name, description, schema]) => ({
            name,
            in: 'header',
            required: true,
            description,
            schema,
          })),
          requestBody: {
            required: true,
            content: { 'application/json': { schema: webhookBodyJsonSchema(type) } },
          },
          responses: { '2XX': { description: 'Received; not sent again.' } },
        },
      },
    ]),
  ) as WebhooksObject;
}
