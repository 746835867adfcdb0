import { realtimeStreamKey, tenantKeyPrefix } from '@switchboard/messaging/producer';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { decodeJwt } from 'jose';
import { z } from 'zod';
import { STREAM_ID } from '../realtime/stream-ids.ts';
import { errorBody } from '../schemas.ts';

/**
 * Server-sent events of the caller's tenant: the entries of its Redis stream (written by the
 * workers with publishRealtimeEvent), each sent with the stream entry id as the SSE id. A client
 * that reconnects with Last-Event-ID (the browser does this itself) gets everything after it, so
 * nothing is lost while it was away, up to the stream's ~10k entries.
 *
 * The stream is served by the process's RealtimeHub (app.realtime, src/realtime/): one Redis
 * reader per tenant for all open streams, the credential re-checked while the stream is open (a
 * final `stream.closed` event says why it ended), a cap of open streams per credential (429
 * `realtime_stream_limit`), and a client that does not read dropped instead of buffered.
 */
export const realtimeRoutes: FastifyPluginAsyncZod = async (app) => {
  const hub = app.realtime;
  app.get(
    '/',
    {
      config: { access: { role: 'viewer', scope: 'read' } },
      schema: {
        summary: "The tenant's realtime events (text/event-stream), resumable with Last-Event-ID",
        description:
          'Ends with a `stream.closed` event naming the reason when the credential is gone (member removed, signed-in session ended, API key revoked, access token expired), when the client reads too slowly, or on shutdown; reconnect with Last-Event-ID to resume. At most REALTIME_MAX_STREAMS_PER_PRINCIPAL streams per credential per API process (429 `realtime_stream_limit`).',
        tags: ['realtime'],
        headers: z.object({
          'last-event-id': z.string().regex(STREAM_ID, 'must be an event id this stream sent').optional(),
        }),
        querystring: z.strictObject({
          lastEventId: z.string().regex(STREAM_ID, 'must be an event id this stream sent').optional(),
        }),
        response: {
          200: {
            description: 'The events, as SSE',
            content: { 'text/event-stream': { schema: z.string() } },
          },
          400: errorBody,
          429: errorBody,
          503: errorBody,
        },
      },
    },
    async (request, reply) => {
      const principal = request.principal;
      const key = realtimeStreamKey(tenantKeyPrefix(principal.slug));
      const resumeFrom = request.headers['last-event-id'] ?? request.query.lastEventId;
      const admission = await hub.admit(principal, key);
      reply.hijack();
      const expiresAt =
        principal.kind === 'user' ? accessTokenExpiry(request.headers.authorization) : undefined;
      admission.start(reply.raw, { resumeFrom, expiresAt });
    },
  );
};

/**
 * When a member's access token (already verified by the auth plugin) expires, epoch ms: the
 * stream ends then. API keys have no token expiry here; the hub's re-check covers theirs.
 */
function accessTokenExpiry(authorization: string | undefined): number | undefined {
  if (!authorization?.startsWith('Bearer ')) return undefined;
  try {
    const { exp } = decodeJwt(authorization.slice('Bearer '.length).trim());
    return typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
