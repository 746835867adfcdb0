import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { tenantIdForSlug } from '@switchboard/db';
import {
  type CloudApiInboundJob,
  cloudApiInboundJobSchema,
  QUEUE_NAMES,
  queuePrefix,
  tenantKeyPrefix,
} from '@switchboard/messaging/producer';
import { queueTelemetry } from '@switchboard/telemetry';
import { Queue } from 'bullmq';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ApiError } from '../errors.ts';
import { errorBody } from '../schemas.ts';

/** Options of the Cloud API webhook receiver: the Meta app secrets and the handshake tokens. */
export interface CloudApiWebhookOptions {
  /** CLOUD_API_APP_SECRET: the secret of numbers not declared with their own (optional). */
  appSecret?: string | undefined;
  /** CLOUD_API_VERIFY_TOKEN: the handshake token (optional when numbers declare their own). */
  verifyToken?: string | undefined;
  /** Declared Cloud API numbers: phone number id -> that app's secret and verify token. */
  numbers?: ReadonlyMap<string, { appSecret: string; verifyToken: string }>;
}

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** Meta's deliveries nest about 8 levels; anything deeper than this is refused before parsing. */
export const MAX_JSON_DEPTH = 64;

/**
 * True when the JSON text nests arrays/objects deeper than `max`: one pass over the bytes, no
 * recursion (a deep payload would overflow the stack of the recursive steps after JSON.parse).
 */
export function jsonDepthExceeds(raw: Buffer, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** The `phone_number_id`s a webhook body names (entry[].changes[].value.metadata), read without trusting it. */
export function phoneNumberIdsOf(raw: Buffer): string[] | undefined {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
  const ids = new Set<string>();
  const entries = (body as { entry?: unknown })?.entry;
  for (const entry of Array.isArray(entries) ? entries : []) {
    const changes = (entry as { changes?: unknown })?.changes;
    for (const change of Array.isArray(changes) ? changes : []) {
      const id = (change as { value?: { metadata?: { phone_number_id?: unknown } } })?.value?.metadata
        ?.phone_number_id;
      if (typeof id === 'string' || typeof id === 'number') ids.add(String(id));
    }
  }
  return [...ids];
}

/**
 * The one app secret a delivery must be signed with: each named number's declared secret, or the
 * fallback for numbers not declared. Undefined (refuse) when a number has no secret at all, or when
 * the numbers' secrets differ: one signature cannot be valid under two secrets, and accepting it
 * under one of them would let that app's holder inject events for the other's numbers.
 */
export function appSecretFor(
  ids: readonly string[] | undefined,
  options: CloudApiWebhookOptions,
): string | undefined {
  if (!ids || ids.length === 0) return options.appSecret;
  const secrets = new Set<string>();
  for (const id of ids) {
    const secret = options.numbers?.get(id)?.appSecret ?? options.appSecret;
    if (secret === undefined) return undefined;
    secrets.add(secret);
  }
  return secrets.size === 1 ? [...secrets][0] : undefined;
}

/**
 * Meta's webhook for the configured tenant's Cloud API numbers. GET answers the subscription
 * handshake; POST checks X-Hub-Signature-256 (HMAC-SHA256 of the raw bytes with the app secret
 * of the number the payload names, compared in constant time; the JSON is parsed unverified only
 * to find that number), enqueues the payload on cloud-api-inbound with
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
    telemetry: queueTelemetry(),
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
        response: {
          200: {
            description: 'The challenge, echoed',
            content: { 'text/plain': { schema: z.string() } },
          },
          400: errorBody,
          403: errorBody,
        },
      },
    },
    async (request, reply) => {
      const token = request.query['hub.verify_token'];
      const tokens = [
        ...(options.verifyToken ? [options.verifyToken] : []),
        ...[...(options.numbers?.values() ?? [])].map((n) => n.verifyToken),
      ];
      // Every token is compared (no early exit), so the time does not say which one was close.
      if (!tokens.map((t) => safeEqual(token, t)).includes(true)) {
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
      // Before anything parses it: a 4xx, since Meta retries 5xx answers (no payload of Meta's is this deep).
      if (jsonDepthExceeds(raw, MAX_JSON_DEPTH)) {
        throw new ApiError('validation_failed', `the body nests deeper than ${MAX_JSON_DEPTH} levels`);
      }
      const header = request.headers['x-hub-signature-256'];
      if (typeof header !== 'string') throw new ApiError('unauthenticated', 'X-Hub-Signature-256 is missing');
      const secret = appSecretFor(phoneNumberIdsOf(raw), options);
      if (secret === undefined) {
        throw new ApiError(
          'unauthenticated',
          'the delivery names a phone number id with no app secret here, or numbers of different apps',
        );
      }
      const expected = `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`;
      if (!safeEqual(header, expected)) {
        throw new ApiError('unauthenticated', 'X-Hub-Signature-256 does not match the body');
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
