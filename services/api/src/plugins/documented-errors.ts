import type { FastifyPluginAsync, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import { errorBody } from '../schemas.ts';
import type { RouteAccess } from './auth.ts';

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The error statuses a route can answer whatever its handler does, derived from its declaration
 * (the catalogue in errors.ts says which code each is):
 * - 400 `validation_failed`: it validates params, query, headers or a body (or parses a body);
 * - 401 `unauthenticated`/`token_expired`, 403 `forbidden`/`insufficient_scope`: `config.access`;
 * - 404 `not_found`: a path parameter names a row;
 * - 413 `payload_too_large`, 415 `unsupported_media_type`: methods with a body (Fastify's body
 *   limit and content-type parsers);
 * - 429 `rate_limited`: every rate-limited route (all but `config.rateLimit: false`), and
 *   `account_locked` on login;
 * - 503 `database_busy`: `config.access` (the credential check reads the database, and a statement
 *   past DATABASE_STATEMENT_TIMEOUT or no connection within DATABASE_POOL_TIMEOUT answers it).
 * Statuses a handler gives (409, 422, 503) the route declares itself.
 */
export function inheritedErrorStatuses(
  route: Pick<RouteOptions, 'method' | 'url' | 'config' | 'schema'>,
): number[] {
  const config = route.config as { access?: RouteAccess; rateLimit?: unknown } | undefined;
  const schema = (route.schema ?? {}) as Record<string, unknown>;
  const methods = [route.method].flat();
  const hasBody = methods.some((m) => BODY_METHODS.has(m));
  const statuses = new Set<number>();
  if (hasBody || schema.params || schema.querystring || schema.headers || schema.body) statuses.add(400);
  if (config?.access) {
    statuses.add(401);
    statuses.add(403);
    statuses.add(503);
  }
  if (route.url.includes('/:')) statuses.add(404);
  if (hasBody) {
    statuses.add(413);
    statuses.add(415);
  }
  if (config?.rateLimit !== false) statuses.add(429);
  return [...statuses];
}

/**
 * Adds the shared error body under every status of `inheritedErrorStatuses` to each documented
 * route's response schema (keeping what the route declared), so the OpenAPI document names every
 * status a route can give. Routes with `hide` (probes, the inbox) and the docs themselves are left
 * as they are. Registered with fastify-plugin before the routes, so its onRoute hook sees them all.
 */
export const documentedErrorsPlugin: FastifyPluginAsync = fp(
  async (app) => {
    app.addHook('onRoute', (route) => {
      if (route.url.startsWith('/docs')) return;
      const schema = route.schema as (Record<string, unknown> & { hide?: boolean }) | undefined;
      if (!schema || schema.hide) return;
      const response = { ...((schema.response as Record<string, unknown> | undefined) ?? {}) };
      for (const status of inheritedErrorStatuses(route)) response[status] ??= errorBody;
      route.schema = { ...schema, response };
    });
  },
  { name: 'switchboard-documented-errors' },
);
