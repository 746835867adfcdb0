import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';

/**
 * /livez and /readyz (database and Redis reachable). /metrics is served on the metrics port by
 * server.ts, never on this public one.
 */
export const healthRoutes: FastifyPluginAsyncZod = async (app) => {
  const status = z.strictObject({
    status: z.enum(['ok', 'unavailable']),
    checks: z.record(z.string(), z.string()).optional(),
  });
  app.get(
    '/livez',
    { config: { public: true, rateLimit: false }, schema: { hide: true, response: { 200: status } } },
    async () => ({ status: 'ok' as const }),
  );
  app.get(
    '/readyz',
    {
      config: { public: true, rateLimit: false },
      schema: { hide: true, response: { 200: status, 503: status } },
    },
    async (_request, reply) => {
      const checks: Record<string, string> = {};
      await Promise.all([
        app.sb.db.$queryRaw`SELECT 1`.then(
          () => {
            checks.database = 'ok';
          },
          () => {
            checks.database = 'unreachable';
          },
        ),
        app.sb.redis.ping().then(
          () => {
            checks.redis = 'ok';
          },
          () => {
            checks.redis = 'unreachable';
          },
        ),
      ]);
      const ok = Object.values(checks).every((v) => v === 'ok');
      return reply.status(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', checks });
    },
  );
};
