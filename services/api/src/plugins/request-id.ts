import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { REQUEST_ID_PATTERN } from '@switchboard/messaging/producer';

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
