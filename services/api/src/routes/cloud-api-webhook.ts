import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { tenantIdForSlug } from '@switchboard/db';
import {
  type CloudApiInboundJob,
  cloudApiInboundJobSchema,
  QUEUE_NAMES,
  queuePrefix,
  tenantKeyPrefix,
} from '@switchboard/messaging';
import { Queue } from 'bullmq';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ApiError } from '../errors.ts';
import { errorBody } from '../schemas.ts';

/** Options of the Cloud API webhook receiver: the Meta app's secret and the handshake token. */
export interface CloudApiWebhookOptions {
  appSecret: string;
  verifyToken: string;
}

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * Meta's webhook for the configured tenant's Cloud API numbers. GET answers the subscription
 * handshake; POST checks X-Hub-Signature-256 (HMAC-SHA256 of the raw bytes with the app
 * secret, compared in constant time), enqueues the payload on cloud-api-inbound with
 * jobId = SHA-256 of the raw body (Meta's retries of one delivery are one job) and answers 200
 * at once: Meta retries slow answers, and the worker does the processing.
 */
export const cloudApiWebhookRoutes: FastifyPluginAsyncZod<CloudApiWebhookOptions> = async (app, options) => {
  const ctx = app.sb;
  const slug = ctx.defaultTenant;
  const tenantId = tenantIdForSlug(slug);
  const queue = new Queue(QUEUE_NAMES.cloudApiInbound, {
    connection: ctx.redis,
    prefix: queuePrefix(tenantKeyPrefix(slug)),
  });
  app.addHook('onClose', async () => {
    await queue.close();
  });
  // The signature is over the bytes Meta sent, so this route keeps them (re-serialized JSON would differ).
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) =>
    done(null, body),
  );

  app.get(
    '/',
    {
      config: { public: true },
      schema: {
        summary: "Meta's webhook verification handshake",
        tags: ['webhooks'],
        security: [],
        querystring: z.object({
          'hub.mode': z.literal('subscribe', { error: 'must be subscribe' }),
          'hub.verify_token': z.string().max(200),
          'hub.challenge': z.string().max(200),
        }),
        response: { 200: z.string(), 400: errorBody, 403: errorBody },
      },
    },
    async (request, reply) => {
      if (!safeEqual(request.query['hub.verify_token'], options.verifyToken)) {
        throw new ApiError('forbidden', 'query.hub.verify_token does not match');
      }
      return reply.type('text/plain').send(request.query['hub.challenge']);
    },
  );

  app.post(
    '/',
    {
      config: { public: true },
      schema: {
        summary: "Meta's webhook deliveries (signed with X-Hub-Signature-256)",
        tags: ['webhooks'],
        security: [],
        response: { 200: z.strictObject({ received: z.literal(true) }), 400: errorBody, 401: errorBody },
      },
    },
    async (request) => {
      const raw = request.body;
      if (!Buffer.isBuffer(raw)) throw new ApiError('validation_failed', 'the body must be application/json');
      const header = request.headers['x-hub-signature-256'];
      const expected = `sha256=${createHmac('sha256', options.appSecret).update(raw).digest('hex')}`;
      if (typeof header !== 'string' || !safeEqual(header, expected)) {
        throw new ApiError('unauthenticated', 'X-Hub-Signature-256 is missing or does not match the body');
      }
      let payload: unknown;
      try {
        payload = JSON.parse(raw.toString('utf8'));
      } catch {
        throw new ApiError('validation_failed', 'the body is not JSON');
      }
      const job: CloudApiInboundJob = cloudApiInboundJobSchema.parse({
        tenantId,
        receivedAt: new Date().toISOString(),
        payload,
      });
      await queue.add('inbound', job, {
        jobId: createHash('sha256').update(raw).digest('hex'),
        removeOnComplete: { age: 86_400 },
        removeOnFail: { age: 7 * 86_400 },
      });
      return { received: true as const };
    },
  );
};
