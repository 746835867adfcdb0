import { realtimeStreamKey, tenantKeyPrefix } from '@switchboard/messaging/producer';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { RealtimeHub, type RealtimeHubOptions } from './hub.ts';
import { databasePrincipalCheck } from './principal-check.ts';

/** The realtime settings buildApp takes (REALTIME_* in config.ts). */
export type RealtimeOptions = Pick<
  RealtimeHubOptions,
  'maxStreamsPerPrincipal' | 'recheckIntervalMs' | 'maxBufferedBytes' | 'slowCloseGraceMs' | 'blockMs'
>;

declare module 'fastify' {
  interface FastifyInstance {
    /** The process's realtime streams: one Redis reader per tenant, fanned out to every SSE stream. */
    realtime: RealtimeHub;
  }
}

/**
 * Routes whose successful writes can take a credential away (a member removed or disabled, an
 * API key revoked, a password changed, sessions ended): after one, the open streams of the
 * caller's tenant are re-checked at once instead of at the next periodic check, in this process
 * and (through a control entry in the tenant's stream) in every other API process.
 */
const IDENTITY_ROUTES = ['/v1/team', '/v1/api-keys', '/v1/auth'];
/** Identity routes that only grant (a sign-in, a token refresh, a reset mail): no re-check after them. */
const GRANTING_ROUTES = new Set(['/v1/auth/login', '/v1/auth/refresh', '/v1/auth/password-reset']);
const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Decorates the app with `realtime` (a RealtimeHub over the app's Redis and database), ends every
 * stream before the app closes, and re-checks streams after identity changes. Registered with
 * fastify-plugin before the routes, so its onResponse hook sees every route of the app.
 */
export const realtimeHubPlugin = fp<RealtimeOptions & Pick<RealtimeHubOptions, 'metrics'>>(
  async (app: FastifyInstance, options) => {
    const hub = new RealtimeHub({
      ...options,
      redis: app.sb.redis,
      checkPrincipals: databasePrincipalCheck(app.sb.db),
      logger: app.log,
    });
    app.decorate('realtime', hub);
    // Open streams never finish by themselves: closing the app ends them, or a SIGTERM drain would
    // wait on them until the pod is killed. Clients reconnect (with Last-Event-ID) to another pod.
    app.addHook('preClose', async () => {
      await hub.close();
    });
    app.addHook('onResponse', async (request, reply) => {
      if (reply.statusCode >= 400 || READ_METHODS.has(request.method)) return;
      const route = request.routeOptions.url ?? '';
      if (GRANTING_ROUTES.has(route) || !IDENTITY_ROUTES.some((prefix) => route.startsWith(prefix))) return;
      // Public identity routes (a password reset) have no principal: every tenant is re-checked
      // here, and the other processes wait for their periodic check.
      const principal = request.principal as typeof request.principal | null;
      await Promise.all([
        hub.revalidate(principal?.tenantId),
        principal ? hub.announceChange(realtimeStreamKey(tenantKeyPrefix(principal.slug))) : undefined,
      ]);
    });
  },
  { name: 'switchboard-realtime-hub' },
);
