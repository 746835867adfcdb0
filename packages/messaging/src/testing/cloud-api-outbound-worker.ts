// Test-only: a worker process running one OutboundConsumer on a real CloudApiChannel (against the
// Cloud API emulator). With `hold`, every send the emulator accepted is RPUSHed to `acceptedKey`
// (Meta's id) and then never returns: the process is stuck between Meta's 200 and the `sent`
// record, so a test that kill -9s it then has forced the crash it studies, with no timing.
//
//   CLOUD_API_OUTBOUND_WORKER='{"redis":{...},"databaseUrl":"...","tenantId":"...","sessionId":"...","keyPrefix":"...","epoch":"1","graphUrl":"...","accessToken":"...","phoneNumberId":"...","acceptedKey":"...","hold":true}' \
//     node packages/messaging/src/testing/cloud-api-outbound-worker.ts
import { CloudApiChannel, type OutboundMessage, type SendResult } from '@switchboard/channels';
import { createDb } from '@switchboard/db';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { OutboundConsumer } from '../outbound/consumer.ts';
import { NO_HUMAN_DELAY } from '../outbound/content.ts';

const config = z
  .object({
    redis: z.object({ host: z.string(), port: z.number() }),
    databaseUrl: z.string(),
    tenantId: z.uuid(),
    sessionId: z.uuid(),
    keyPrefix: z.string(),
    epoch: z.string(),
    graphUrl: z.url(),
    accessToken: z.string(),
    phoneNumberId: z.string(),
    acceptedKey: z.string(),
    hold: z.boolean(),
    unknownOutcomeTimeoutMs: z.number().int().min(0),
  })
  .parse(JSON.parse(process.env.CLOUD_API_OUTBOUND_WORKER ?? '{}'));

const redis = new Redis({ ...config.redis, maxRetriesPerRequest: null });
const db = createDb({ databaseUrl: config.databaseUrl, maxConnections: 4 });
const epoch = BigInt(config.epoch);
const channel = new CloudApiChannel({
  sessionId: config.sessionId,
  phoneNumberId: config.phoneNumberId,
  accessToken: config.accessToken,
  baseUrl: config.graphUrl,
  epoch,
  readFence: async () => epoch,
});
await channel.connect();
if (config.hold) {
  const send = channel.send.bind(channel);
  channel.send = async (message: OutboundMessage): Promise<SendResult> => {
    const result = await send(message);
    await redis.rpush(config.acceptedKey, result.providerMessageId);
    return await new Promise<never>(() => {});
  };
}
const consumer = new OutboundConsumer({
  db,
  tenantId: config.tenantId,
  sessionId: config.sessionId,
  epoch,
  channel,
  connection: redis,
  keyPrefix: config.keyPrefix,
  humanDelay: NO_HUMAN_DELAY,
  limits: { perContactPerMinute: 1000, perSessionPerMinute: 1000 },
  unknownOutcomeTimeoutMs: config.unknownOutcomeTimeoutMs,
  lockDurationMs: 1_000,
  stalledIntervalMs: 500,
  onError: (error, context) => process.stderr.write(`${context.what}: ${String(error)}\n`),
});
await consumer.start();
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  void consumer.close().then(async () => {
    redis.disconnect();
    await db.$disconnect();
    process.exit(0);
  });
});
