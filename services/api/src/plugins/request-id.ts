import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { REQUEST_ID_PATTERN } from '@switchboard/messaging/producer';
import fp from 'fastify-plugin';

/** The header the Ingress (or a client) names a request by, and the API answers with. */
export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * Fastify's `genReqId`: the request's X-Request-Id when it is 1 to 128 printable ASCII characters
 * without spaces (what ingress-nginx and most proxies send), otherwise a new UUID, so a header
 * that could forge log lines or grow them without bound is never used. The id names the request
 * in the API's logs and Sentry events, is sent back as X-Request-Id, and travels with the
 * outbound job so the worker's log lines for it carry the same `request_id`.
 */
export function requestIdFor(request: IncomingMessage): string {
  const header = request.headers[REQUEST_ID_HEADER];
  return typeof header === 'string' && REQUEST_ID_PATTERN.test(header) ? header : randomUUID();
}

/**
 * Answers every request with its id in X-Request-Id (the Ingress's when valid, else the one
 * {@link requestIdFor} generated): successes, errors, 404s and hijacked replies (the realtime
 * stream) alike, so a client can quote it and an SRE find the request's log lines. Set on the
 * raw response in `onRequest`, the first hook: Fastify merges it into the head it writes, and a
 * hijacked reply's own `writeHead` sends it too. Registered with fastify-plugin, so it applies to
 * every route of the app.
 */
export const requestIdHeaderPlugin = fp(
  async (app) => {
    app.addHook('onRequest', async (request, reply) => {
      reply.raw.setHeader(REQUEST_ID_HEADER, request.id);
    });
  },
  { name: 'switchboard-request-id-header' },
);
