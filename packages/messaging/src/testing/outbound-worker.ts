// Test-only: a worker process running one OutboundConsumer with a counting channel. Every send is
// RPUSHed to a Redis list (provider id and pid) before it resolves, so a test that kill -9s this
// process mid-burst can count exactly what reached "WhatsApp".
//
//   OUTBOUND_WORKER='{"redis":{"host":"...","port":1},"databaseUrl":"...","tenantId":"...","sessionId":"...","keyPrefix":"...","sendsKey":"...","epoch":"1"}' \
//     node packages/messaging/src/testing/outbound-worker.ts
import { z } from 'zod';
import { MemoryChannel } from './memory-channel.ts';
import { outboundWorkerSettings, runOutboundWorker } from './outbound-worker-process.ts';

const settings = outboundWorkerSettings
  .extend({ sendsKey: z.string() })
  .parse(JSON.parse(process.env.OUTBOUND_WORKER ?? '{}'));

await runOutboundWorker(
  settings,
  async (redis) =>
    new MemoryChannel(settings.sessionId, async (message) => {
      // The send reaches the provider (recorded), then takes a moment to be acknowledged: a kill
      // in that moment is the crash between send and record.
      await redis.rpush(
        settings.sendsKey,
        JSON.stringify({ id: message.providerMessageId, pid: process.pid }),
      );
      await new Promise((resolve) => setTimeout(resolve, 15));
    }),
);
