import {
  REALTIME_EVENT_FIELD,
  realtimeEventSchema,
  realtimeStreamKey,
  tenantKeyPrefix,
} from '@switchboard/messaging/producer';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorBody } from '../schemas.ts';

const STREAM_ID = /^\d{1,20}-\d{1,20}$/;
/** How long one XREAD blocks; a comment line is sent each time, so proxies keep the stream open. */
const BLOCK_MS = 15_000;

/**
 * Server-sent events of the caller's tenant: the entries of its Redis stream (written by the
 * workers with publishRealtimeEvent), each sent with the stream entry id as the SSE id. A client
 * that reconnects with Last-Event-ID (the browser does this itself) gets everything after it, so
 * nothing is lost while it was away, up to the stream's ~10k entries.
 */
export const realtimeRoutes: FastifyPluginAsyncZod = async (app) => {
  const ctx = app.sb;
  // Open streams never finish by themselves: closing the app ends them, or a SIGTERM drain would
  // wait on them until the pod is killed. Clients reconnect (with Last-Event-ID) to another pod.
  const streams = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const stop of streams) stop();
  });
  app.get(
    '/',
    {
      config: { access: { role: 'viewer', scope: 'read' } },
      schema: {
        summary: "The tenant's realtime events (text/event-stream), resumable with Last-Event-ID",
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
        },
      },
    },
    async (request, reply) => {
      const key = realtimeStreamKey(tenantKeyPrefix(request.principal.slug));
      const resumeFrom = request.headers['last-event-id'] ?? request.query.lastEventId;
      // Without a resume point, start after the current last entry (not '$' on every read, which
      // would drop what arrives between two reads).
      let last = resumeFrom ?? (await ctx.redis.xrevrange(key, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0';
      // XREAD BLOCK holds its connection, so each stream gets its own. Not with the shared
      // client's producer settings: the first read must wait for the connection (offline queue),
      // and a blocking read must outlive the socket timeout.
      const connection = ctx.redis.duplicate({
        enableOfflineQueue: true,
        maxRetriesPerRequest: null,
        socketTimeout: BLOCK_MS + 10_000,
      });
      let open = true;
      const stop = () => {
        open = false;
        connection.disconnect();
      };
      streams.add(stop);
      request.raw.on('close', stop);
      reply.hijack();
      reply.raw.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      reply.raw.write(': connected\n\n');
      while (open) {
        let result: [string, [string, string[]][]][] | null;
        try {
          result = (await connection.xread(
            'COUNT',
            100,
            'BLOCK',
            BLOCK_MS,
            'STREAMS',
            key,
            last,
          )) as typeof result;
        } catch (error) {
          if (open) request.log.warn({ err: error }, 'realtime read failed; closing the stream');
          break;
        }
        if (!open) break;
        if (!result) {
          reply.raw.write(': keepalive\n\n');
          continue;
        }
        for (const [, entries] of result) {
          for (const [id, fields] of entries) {
            last = id;
            const at = fields.indexOf(REALTIME_EVENT_FIELD);
            const parsed = at >= 0 ? realtimeEventSchema.safeParse(safeJson(fields[at + 1])) : undefined;
            if (!parsed?.success) continue;
            reply.raw.write(
              `id: ${id}\nevent: ${parsed.data.type}\ndata: ${JSON.stringify(parsed.data)}\n\n`,
            );
          }
        }
      }
      streams.delete(stop);
      connection.disconnect();
      reply.raw.end();
    },
  );
};

function safeJson(text: string | undefined): unknown {
  try {
    return text === undefined ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}
