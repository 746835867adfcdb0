import {
  isWebhookEventType,
  WEBHOOK_EVENT_SUMMARIES,
  WEBHOOK_EVENT_TYPES,
  WEBHOOK_EVENT_VERSION,
} from '@switchboard/messaging/producer';
import type { SealingKeyring } from '@switchboard/secrets';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { deliveryDto, deliverySchema, subscriptionDto, subscriptionSchema } from '../dto.ts';
import { errorBody, idParams, newestFirst, page, pageQuery, toPage } from '../schemas.ts';
import {
  createSubscription,
  deleteSubscription,
  listDeliveries,
  listSubscriptions,
  replayDelivery,
  updateSubscription,
} from '../services/webhooks.ts';

/**
 * Webhook subscriptions to the tenant's own systems: created with a signing secret shown once
 * (sealed in the database with the current key of SEALING_KEYS, which the workers open to
 * sign deliveries), listed, changed, deleted; each one's delivery log, and replay of a delivery.
 * Admins and up (API keys: `manage`).
 */

/**
 * A subscription's event filter: event types of the catalogue (packages/messaging
 * webhooks/events.ts), or `*` for every type, including types added later. Anything else is a 400
 * naming the known types. Omitted on creation, it is `["*"]`. Subscriptions made before the
 * catalogue grew keep their list: those listing `*` get the new types, those listing types by
 * name get only those.
 */
const SELECTABLE = [...WEBHOOK_EVENT_TYPES, '*'] as const;
const eventFilter = z
  .array(
    z.string().refine((type) => type === '*' || isWebhookEventType(type), {
      error: (issue) =>
        `unknown event type ${JSON.stringify(issue.input)}: known types are ${SELECTABLE.join(', ')}`,
    }),
  )
  .min(1, 'list at least one event type (or "*" for all)')
  .max(SELECTABLE.length)
  .describe(`Event types to deliver: ${SELECTABLE.join(', ')} (\`*\`: all, including types added later).`);

// Receivers are the tenant's own HTTPS endpoints; plain http only for loopback (local testing).
const receiverUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
  .max(2000)
  .refine((value) => {
    // zod runs this even when the URL check above failed; that failure is already reported.
    const url = URL.parse(value);
    return !url || url.protocol === 'https:' || ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  }, 'must be https (http only for loopback)');

/** Options of {@link webhookRoutes}. */
export interface WebhookRoutesOptions {
  /** SEALING_KEYS: the keyring subscription secrets are sealed with; creation is refused without it. */
  sealingKeys?: SealingKeyring;
}

export const webhookRoutes: FastifyPluginAsyncZod<WebhookRoutesOptions> = async (app, options) => {
  const ctx = app.sb;
  const access = { role: 'admin', scope: 'manage' } as const;
  app.get(
    '/',
    {
      config: { access },
      schema: {
        summary: 'List webhook subscriptions',
        tags: ['webhooks'],
        querystring: pageQuery,
        response: { 200: page(subscriptionSchema), 400: errorBody },
      },
    },
    async (request) => {
      const list = newestFirst(request.query, 'createdAt');
      return list.page(await listSubscriptions(ctx, request, list), subscriptionDto);
    },
  );

  app.get(
    '/event-types',
    {
      config: { access },
      schema: {
        summary: 'The event types a subscription can select, with their payload version',
        description:
          "Each type's payload schema is in this document's `webhooks` section; deliveries carry the version in X-Switchboard-Event-Version.",
        tags: ['webhooks'],
        response: {
          200: z.strictObject({
            data: z.array(
              z.strictObject({ type: z.string(), version: z.number().int(), description: z.string() }),
            ),
          }),
        },
      },
    },
    async () => ({
      data: WEBHOOK_EVENT_TYPES.map((type) => ({
        type,
        version: WEBHOOK_EVENT_VERSION,
        description: WEBHOOK_EVENT_SUMMARIES[type],
      })),
    }),
  );

  app.post(
    '/',
    {
      config: { access },
      schema: {
        summary: 'Subscribe a URL to events; the signing secret is in this response only',
        tags: ['webhooks'],
        body: z.strictObject({
          url: receiverUrl,
          events: eventFilter.default(['*']),
          description: z.string().trim().max(200).optional(),
        }),
        response: {
          201: subscriptionSchema.extend({
            secret: z.string().describe('Verifies X-Switchboard-Signature; shown once, stored sealed.'),
          }),
          400: errorBody,
          409: errorBody,
          422: errorBody,
        },
      },
    },
    async (request, reply) => {
      const { row, secret } = await createSubscription(ctx, request, options.sealingKeys, request.body);
      return reply.status(201).send({ ...subscriptionDto(row), secret });
    },
  );

  app.patch(
    '/:id',
    {
      config: { access },
      schema: {
        summary: 'Change a subscription (URL, events, description, active)',
        tags: ['webhooks'],
        params: idParams,
        body: z
          .strictObject({
            url: receiverUrl.optional(),
            events: eventFilter.optional(),
            description: z.string().trim().max(200).nullable().optional(),
            active: z.boolean().optional(),
          })
          .refine((body) => Object.keys(body).length > 0, 'give at least one field to change'),
        response: { 200: subscriptionSchema, 400: errorBody, 404: errorBody, 422: errorBody },
      },
    },
    async (request) =>
      subscriptionDto(await updateSubscription(ctx, request, request.params.id, request.body)),
  );

  app.delete(
    '/:id',
    {
      config: { access },
      schema: {
        summary: 'Delete a subscription and its delivery log',
        tags: ['webhooks'],
        params: idParams,
        response: { 204: z.null(), 400: errorBody, 404: errorBody },
      },
    },
    async (request, reply) => {
      await deleteSubscription(ctx, request, request.params.id);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/:id/deliveries',
    {
      config: { access },
      schema: {
        summary: "A subscription's delivery log, newest first",
        tags: ['webhooks'],
        params: idParams,
        querystring: pageQuery,
        response: { 200: page(deliverySchema), 400: errorBody, 404: errorBody },
      },
    },
    async (request) =>
      toPage(
        await listDeliveries(ctx, request, request.params.id, request.query),
        request.query.limit,
        (r) => r.createdAt,
        deliveryDto,
      ),
  );

  app.post(
    '/deliveries/:id/replay',
    {
      config: { access },
      schema: {
        summary: 'Deliver again (after fixing the receiver); attempts keep counting',
        tags: ['webhooks'],
        params: idParams,
        response: { 202: deliverySchema, 400: errorBody, 404: errorBody },
      },
    },
    async (request, reply) =>
      reply.status(202).send(deliveryDto(await replayDelivery(ctx, request, request.params.id))),
  );
};
