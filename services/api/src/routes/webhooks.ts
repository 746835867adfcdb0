import { randomBytes } from 'node:crypto';
import {
  QUEUE_NAMES,
  queuePrefix,
  replayWebhookDelivery,
  WEBHOOK_SECRET_PURPOSE,
} from '@switchboard/messaging/producer';
import { sealSecret } from '@switchboard/secrets';
import { Queue } from 'bullmq';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { audit } from '../audit.ts';
import { keyPrefixOf, tenantTx } from '../context.ts';
import { ApiError, notFound } from '../errors.ts';
import {
  afterCursor,
  decodeCursor,
  errorBody,
  idParams,
  iso,
  isoOrNull,
  newestFirst,
  page,
  pageQuery,
  toPage,
} from '../schemas.ts';

/**
 * Webhook subscriptions to the tenant's own systems: created with a signing secret shown once
 * (sealed in the database under a key derived from INTERNAL_TOKEN, which the workers open to
 * sign deliveries), listed, changed, deleted; each one's delivery log, and replay of a delivery.
 * Admins and up (API keys: `manage`).
 */

const EVENT_TYPES = ['message.received', 'message.sent', '*'] as const;

const subscription = z.strictObject({
  id: z.uuid(),
  url: z.string(),
  description: z.string().nullable(),
  events: z.array(z.string()),
  active: z.boolean(),
  createdAt: z.iso.datetime(),
});

const delivery = z.strictObject({
  id: z.uuid(),
  eventId: z.uuid(),
  eventType: z.string(),
  status: z.enum(['pending', 'succeeded', 'failed']),
  attempts: z.number().int(),
  responseCode: z.number().int().nullable(),
  latencyMs: z.number().int().nullable(),
  lastError: z.string().nullable(),
  nextAttemptAt: isoOrNull,
  deliveredAt: isoOrNull,
  createdAt: z.iso.datetime(),
});

// Receivers are the tenant's own HTTPS endpoints; plain http only for loopback (local testing).
const receiverUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
  .max(2000)
  .refine((value) => {
    const url = new URL(value);
    return url.protocol === 'https:' || ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  }, 'must be https (http only for loopback)');

function subscriptionDto(row: {
  id: string;
  url: string;
  description: string | null;
  events: string[];
  active: boolean;
  createdAt: Date;
}) {
  const { id, url, description, events, active, createdAt } = row;
  return { id, url, description, events, active, createdAt: createdAt.toISOString() };
}

function deliveryDto(row: {
  id: string;
  eventId: string;
  eventType: string;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: number;
  responseCode: number | null;
  latencyMs: number | null;
  lastError: string | null;
  nextAttemptAt: Date | null;
  deliveredAt: Date | null;
  createdAt: Date;
}) {
  return {
    id: row.id,
    eventId: row.eventId,
    eventType: row.eventType,
    status: row.status,
    attempts: row.attempts,
    responseCode: row.responseCode,
    latencyMs: row.latencyMs,
    lastError: row.lastError,
    nextAttemptAt: iso(row.nextAttemptAt),
    deliveredAt: iso(row.deliveredAt),
    createdAt: row.createdAt.toISOString(),
  };
}

/** Options of {@link webhookRoutes}. */
export interface WebhookRoutesOptions {
  /** INTERNAL_TOKEN: the key material subscription secrets are sealed with; creation is refused without it. */
  sealingKey?: string;
}

export const webhookRoutes: FastifyPluginAsyncZod<WebhookRoutesOptions> = async (app, options) => {
  const ctx = app.sb;
  const access = { role: 'admin', scope: 'manage' } as const;
  const queues = new Map<string, Queue>();
  const queueFor = (keyPrefix: string): Queue => {
    let queue = queues.get(keyPrefix);
    if (!queue) {
      queue = new Queue(QUEUE_NAMES.webhookDeliveries, {
        connection: ctx.redis,
        prefix: queuePrefix(keyPrefix),
      });
      queues.set(keyPrefix, queue);
    }
    return queue;
  };
  app.addHook('onClose', async () => {
    await Promise.all([...queues.values()].map((queue) => queue.close()));
  });

  app.get(
    '/',
    {
      config: { access },
      schema: {
        summary: 'List webhook subscriptions',
        tags: ['webhooks'],
        querystring: pageQuery,
        response: { 200: page(subscription), 400: errorBody },
      },
    },
    async (request) => {
      const list = newestFirst(request.query, 'createdAt');
      const rows = await tenantTx(ctx, request, (tx) =>
        tx.webhookSubscription.findMany({ where: list.where, orderBy: list.orderBy, take: list.take }),
      );
      return list.page(rows, subscriptionDto);
    },
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
          events: z.array(z.enum(EVENT_TYPES)).min(1).max(EVENT_TYPES.length),
          description: z.string().trim().max(200).optional(),
        }),
        response: {
          201: subscription.extend({
            secret: z.string().describe('Verifies X-Switchboard-Signature; shown once, stored sealed.'),
          }),
          400: errorBody,
          409: errorBody,
        },
      },
    },
    async (request, reply) => {
      if (!options.sealingKey) {
        throw new ApiError(
          'conflict',
          'webhook subscriptions are off: the API has no INTERNAL_TOKEN to seal their secrets with',
        );
      }
      const secret = `whsec_${randomBytes(24).toString('base64url')}`;
      const row = await tenantTx(ctx, request, async (tx) => {
        const created = await tx.webhookSubscription.create({
          data: {
            tenantId: request.principal.tenantId,
            url: request.body.url,
            events: [...new Set(request.body.events)],
            description: request.body.description ?? null,
            secretCiphertext: sealSecret(
              secret,
              options.sealingKey!,
              WEBHOOK_SECRET_PURPOSE,
            ) as Uint8Array<ArrayBuffer>,
          },
        });
        await audit(
          tx,
          request,
          'webhook.created',
          { type: 'webhook_subscription', id: created.id },
          { events: created.events },
        );
        return created;
      });
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
            events: z.array(z.enum(EVENT_TYPES)).min(1).max(EVENT_TYPES.length).optional(),
            description: z.string().trim().max(200).nullable().optional(),
            active: z.boolean().optional(),
          })
          .refine((body) => Object.keys(body).length > 0, 'give at least one field to change'),
        response: { 200: subscription, 400: errorBody, 404: errorBody },
      },
    },
    async (request) => {
      const { events, ...rest } = request.body;
      const row = await tenantTx(ctx, request, async (tx) => {
        const found = await tx.webhookSubscription.findUnique({ where: { id: request.params.id } });
        if (!found) throw notFound('webhook subscription');
        const updated = await tx.webhookSubscription.update({
          where: { id: found.id },
          data: { ...rest, ...(events ? { events: [...new Set(events)] } : {}) },
        });
        await audit(
          tx,
          request,
          'webhook.updated',
          { type: 'webhook_subscription', id: found.id },
          {
            fields: Object.keys(request.body),
          },
        );
        return updated;
      });
      return subscriptionDto(row);
    },
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
      await tenantTx(ctx, request, async (tx) => {
        const deleted = await tx.webhookSubscription.deleteMany({ where: { id: request.params.id } });
        if (deleted.count === 0) throw notFound('webhook subscription');
        await audit(
          tx,
          request,
          'webhook.deleted',
          { type: 'webhook_subscription', id: request.params.id },
          {},
        );
      });
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
        response: { 200: page(delivery), 400: errorBody, 404: errorBody },
      },
    },
    async (request) => {
      const { limit } = request.query;
      const cursor = decodeCursor(request.query.cursor);
      const rows = await tenantTx(ctx, request, async (tx) => {
        const found = await tx.webhookSubscription.findUnique({ where: { id: request.params.id } });
        if (!found) throw notFound('webhook subscription');
        return tx.webhookDelivery.findMany({
          where: { subscriptionId: found.id, ...afterCursor(cursor, 'createdAt') },
          orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
          take: limit + 1,
        });
      });
      return toPage(rows, limit, (r) => r.createdAt, deliveryDto);
    },
  );

  app.post(
    '/deliveries/:id/replay',
    {
      config: { access },
      schema: {
        summary: 'Deliver again (after fixing the receiver); attempts keep counting',
        tags: ['webhooks'],
        params: idParams,
        response: { 202: delivery, 400: errorBody, 404: errorBody },
      },
    },
    async (request, reply) => {
      const found = await tenantTx(ctx, request, (tx) =>
        tx.webhookDelivery.findUnique({ where: { id: request.params.id } }),
      );
      if (!found) throw notFound('webhook delivery');
      await replayWebhookDelivery(
        ctx.db,
        queueFor(keyPrefixOf(request)),
        request.principal.tenantId,
        found.id,
      );
      await tenantTx(ctx, request, (tx) =>
        audit(tx, request, 'webhook.delivery_replayed', { type: 'webhook_delivery', id: found.id }, {}),
      );
      const row = await tenantTx(ctx, request, (tx) =>
        tx.webhookDelivery.findUniqueOrThrow({ where: { id: found.id } }),
      );
      return reply.status(202).send(deliveryDto(row));
    },
  );
};
