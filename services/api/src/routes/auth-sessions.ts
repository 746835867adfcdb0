import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorBody, idParams } from '../schemas.ts';
import { endMemberSessions, endOwnSession, listSessions } from '../services/auth-sessions.ts';

const sessionSchema = z.strictObject({
  id: z.uuid(),
  browser: z
    .string()
    .describe('Browser and major version parsed from the sign-in\'s User-Agent, or "Unknown".'),
  os: z.string().describe('Operating system parsed from the User-Agent, or "Unknown".'),
  ip: z.string().describe('Client IP of the sign-in, then of its latest activity.'),
  createdAt: z.iso.datetime(),
  lastSeenAt: z.iso.datetime().describe('Latest request with this session, to the minute.'),
  current: z.boolean().describe('The session of the access token that asked.'),
});

/**
 * Signed-in sessions (registered under /v1): a member's own (`/auth/sessions`) and an admin's end
 * of all of a member's (`/team/members/:userId/sessions`). Ending one revokes its refresh tokens,
 * refuses its access tokens from the next request, and closes its realtime streams with
 * `stream.closed` reason `session_ended`.
 */
export const authSessionRoutes: FastifyPluginAsyncZod = async (app) => {
  const ctx = app.sb;

  app.get(
    '/auth/sessions',
    {
      config: { access: { role: 'viewer' } },
      schema: {
        summary: "The caller's signed-in sessions (devices), the current one marked",
        description: 'Sessions not ended whose refresh token can still be used, latest activity first.',
        tags: ['auth'],
        response: {
          200: z.strictObject({ items: z.array(sessionSchema) }),
          401: errorBody,
          403: errorBody,
        },
      },
    },
    async (request) => {
      const sessions = await listSessions(ctx, request);
      return {
        items: sessions.map((s) => ({
          ...s,
          createdAt: s.createdAt.toISOString(),
          lastSeenAt: s.lastSeenAt.toISOString(),
        })),
      };
    },
  );

  app.delete(
    '/auth/sessions/:id',
    {
      config: { access: { role: 'viewer' } },
      schema: {
        summary: 'End one of your signed-in sessions',
        description:
          'Its refresh tokens are revoked at once and its access tokens refused from the next request; its realtime streams close. Ending the current session signs this client out.',
        tags: ['auth'],
        params: idParams,
        response: { 204: z.null(), 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody },
      },
    },
    async (request, reply) => {
      await endOwnSession(ctx, request, request.params.id);
      return reply.status(204).send(null);
    },
  );

  app.delete(
    '/team/members/:userId/sessions',
    {
      config: { access: { role: 'admin' } },
      schema: {
        summary: "End every signed-in session of a member (an owner's only by an owner)",
        description:
          'The member is signed out everywhere: refresh tokens revoked, access tokens refused from the next request, realtime streams closed. Audited as `auth.sessions_ended`.',
        tags: ['team'],
        params: z.strictObject({ userId: z.uuid({ error: 'must be a uuid' }) }),
        response: {
          200: z.strictObject({ ended: z.number().int().describe('How many sessions were ended.') }),
          400: errorBody,
          401: errorBody,
          403: errorBody,
          404: errorBody,
        },
      },
    },
    async (request) => ({ ended: await endMemberSessions(ctx, request, request.params.userId) }),
  );
};
