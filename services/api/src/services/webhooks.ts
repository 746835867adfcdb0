// Webhook subscriptions to the tenant's own systems: the signing secret sealed with the current
// key of SEALING_KEYS (the workers open it to sign deliveries), changes audited, each
// subscription's delivery log, and replay of a delivery through the contract's replay.
import { randomBytes } from 'node:crypto';
import type { WebhookDelivery, WebhookSubscription } from '@switchboard/db';
import {
  checkReceiver,
  QUEUE_NAMES,
  replayWebhookDelivery,
  WEBHOOK_SECRET_PURPOSE,
} from '@switchboard/messaging/producer';
import type { SealingKeyring } from '@switchboard/secrets';
import type { FastifyRequest } from 'fastify';
import { audit } from '../audit.ts';
import { type ApiContext, tenantTx } from '../context.ts';
import { ApiError, notFound } from '../errors.ts';
import { decodeCursor, type newestFirst, rowsAfter } from '../schemas.ts';

/** One page's query, as `newestFirst` builds it. */
type ListQuery = Pick<ReturnType<typeof newestFirst<'createdAt'>>, 'find'>;

/** A page of subscriptions, newest first. */
export async function listSubscriptions(
  ctx: ApiContext,
  request: FastifyRequest,
  list: ListQuery,
): Promise<WebhookSubscription[]> {
  return await tenantTx(ctx, request, (tx) => list.find((args) => tx.webhookSubscription.findMany(args)));
}

/** Refuses a receiver that is, or resolves to, an internal address unless it is allow-listed. */
async function assertReceiverAllowed(ctx: ApiContext, url: string): Promise<void> {
  const check = await checkReceiver(new URL(url), ctx.webhookAllowedHosts);
  if (!check.ok) {
    throw new ApiError('webhook_receiver_refused', check.reason, {
      issues: [{ path: 'body.url', message: check.reason }],
    });
  }
}

/**
 * Subscribes `url` to `events` with a new signing secret, stored sealed with the keyring's
 * current key (SEALING_KEYS); returns the row and the secret (the only time it is shown).
 * Without a keyring subscriptions are off.
 */
export async function createSubscription(
  ctx: ApiContext,
  request: FastifyRequest,
  sealingKeys: SealingKeyring | undefined,
  input: { url: string; events: string[]; description?: string | undefined },
): Promise<{ row: WebhookSubscription; secret: string }> {
  if (!sealingKeys) {
    throw new ApiError(
      'conflict',
      'webhook subscriptions are off: the API has no SEALING_KEYS to seal their secrets with',
    );
  }
  await assertReceiverAllowed(ctx, input.url);
  const secret = `whsec_${randomBytes(24).toString('base64url')}`;
  const row = await tenantTx(ctx, request, async (tx) => {
    const created = await tx.webhookSubscription.create({
      data: {
        tenantId: request.principal.tenantId,
        url: input.url,
        events: [...new Set(input.events)],
        description: input.description ?? null,
        secretCiphertext: sealingKeys.seal(secret, WEBHOOK_SECRET_PURPOSE) as Uint8Array<ArrayBuffer>,
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
  return { row, secret };
}

/** Changes the given fields of subscription `id` (the audit entry names the fields, not their values). */
export async function updateSubscription(
  ctx: ApiContext,
  request: FastifyRequest,
  id: string,
  input: {
    url?: string | undefined;
    events?: string[] | undefined;
    description?: string | null | undefined;
    active?: boolean | undefined;
  },
): Promise<WebhookSubscription> {
  if (input.url !== undefined) await assertReceiverAllowed(ctx, input.url);
  const { events, ...rest } = input;
  return await tenantTx(ctx, request, async (tx) => {
    const found = await tx.webhookSubscription.findUnique({ where: { id } });
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
      { fields: Object.keys(input) },
    );
    return updated;
  });
}

/** Deletes subscription `id` and its delivery log. */
export async function deleteSubscription(
  ctx: ApiContext,
  request: FastifyRequest,
  id: string,
): Promise<void> {
  await tenantTx(ctx, request, async (tx) => {
    const deleted = await tx.webhookSubscription.deleteMany({ where: { id } });
    if (deleted.count === 0) throw notFound('webhook subscription');
    await audit(tx, request, 'webhook.deleted', { type: 'webhook_subscription', id }, {});
  });
}

/** The delivery log of subscription `id`, newest first after `cursor`, `limit + 1` of them. */
export async function listDeliveries(
  ctx: ApiContext,
  request: FastifyRequest,
  id: string,
  query: { cursor?: string | undefined; limit: number },
): Promise<WebhookDelivery[]> {
  const cursor = decodeCursor(query.cursor);
  return await tenantTx(ctx, request, async (tx) => {
    const found = await tx.webhookSubscription.findUnique({ where: { id } });
    if (!found) throw notFound('webhook subscription');
    return await rowsAfter(cursor, 'createdAt', query.limit, (page) =>
      tx.webhookDelivery.findMany({
        ...page,
        where: { subscriptionId: found.id, ...page.where },
      }),
    );
  });
}

/** Puts delivery `id` back in line (attempts keep counting), audited; returns the row as it is now. */
export async function replayDelivery(
  ctx: ApiContext,
  request: FastifyRequest,
  id: string,
): Promise<WebhookDelivery> {
  const found = await tenantTx(ctx, request, (tx) => tx.webhookDelivery.findUnique({ where: { id } }));
  if (!found) throw notFound('webhook delivery');
  await replayWebhookDelivery(
    ctx.db,
    ctx.queues.get(request.principal.slug, QUEUE_NAMES.webhookDeliveries),
    request.principal.tenantId,
    found.id,
  );
  await tenantTx(ctx, request, (tx) =>
    audit(tx, request, 'webhook.delivery_replayed', { type: 'webhook_delivery', id: found.id }, {}),
  );
  return await tenantTx(ctx, request, (tx) =>
    tx.webhookDelivery.findUniqueOrThrow({ where: { id: found.id } }),
  );
}
