// Test-only: a worker process running one OutboundConsumer on a real CloudApiChannel (against the
// Cloud API emulator). With `hold`, every send the emulator accepted is RPUSHed to `acceptedKey`
// (Meta's id) and then never returns: the process is stuck between Meta's 200 and the `sent`
// record, so a test that kill -9s it then has forced the crash it studies, with no timing.
//
//   CLOUD_API_OUTBOUND_WORKER='{"redis":{...},"databaseUrl":"...","tenantId":"...","sessionId":"...","keyPrefix":"...","epoch":"1","graphUrl":"...","accessToken":"...","phoneNumberId":"...","acceptedKey":"...","hold":true}' \
//     node packages/messaging/src/testing/cloud-api-outbound-worker.ts
import { CloudApiChannel, type OutboundMessage, type SendResult } from '@switchboard/channels';
import { z } from 'zod';
import { outboundWorkerSettings, runOutboundWorker } from './outbound-worker-process.ts';

const settings = outboundWorkerSettings
  .extend({
    graphUrl: z.url(),
    accessToken: z.string(),
    phoneNumberId: z.string(),
    acceptedKey: z.string(),
    hold: z.boolean(),
    unknownOutcomeTimeoutMs: z.number().int().min(0),
  })
  .parse(JSON.parse(process.env.CLOUD_API_OUTBOUND_WORKER ?? '{}'));

await runOutboundWorker(
  settings,
  async (redis) => {
    const epoch = BigInt(settings.epoch);
    const channel = new CloudApiChannel({
      sessionId: settings.sessionId,
      phoneNumberId: settings.phoneNumberId,
      accessToken: settings.accessToken,
      baseUrl: settings.graphUrl,
      epoch,
      readFence: async () => epoch,
    });
    await channel.connect();
    if (settings.hold) {
      const send = channel.send.bind(channel);
      channel.send = async (message: OutboundMessage): Promise<SendResult> => {
        const result = await send(message);
        await redis.rpush(settings.acceptedKey, result.providerMessageId);
        return await new Promise<never>(() => {});
      };
    }
    return channel;
  },
  { unknownOutcomeTimeoutMs: settings.unknownOutcomeTimeoutMs },
);
