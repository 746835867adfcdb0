// Test-only: a worker process running one OutboundConsumer with a counting channel. Every send is
// RPUSHed to a Redis list (provider id and pid) before it resolves, so a test that kill -9s this
// process mid-burst can count exactly what reached "WhatsApp".
//
//   OUTBOUND_WORKER='{"redis":{"host":"...","port":1},"databaseUrl":"...","tenantId":"...","sessionId":"...","keyPrefix":"...","sendsKey":"...","epoch":"1"}' \
//     node packages/messaging/src/testing/outbound-worker.ts
import { createDb } from '@switchboard/db';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { OutboundConsumer } from '../outbound/consumer.ts';
import { NO_HUMAN_DELAY } from '../outbound/content.ts';
import { MemoryChannel } from './memory-channel.ts';

const config = z
  .object({
    redis: z.object({ host: z.string(), port: z.number() }),
    databaseUrl: z.string(),
    tenantId: z.uuid(),
    sessionId: z.uuid(),
    keyPrefix: z.string(),
    sendsKey: z.string(),
    epoch: z.string(),
  })
  .parse(JSON.parse(process.env.OUTBOUND_WORKER ?? '{}'));

const redis = new Redis({ ...config.redis, maxRetriesPerRequest: null });
const db = createDb({ databaseUrl: config.databaseUrl, maxConnections: 4 });
const channel = new MemoryChannel(config.sessionId, async (message) => {
  // The send reaches the provider (recorded), then takes a moment to be acknowledged: a kill in
  // that moment is the crash between send and record.
  await redis.rpush(config.sendsKey, JSON.stringify({ id: message.providerMessageId, pid: process.pid }));
  await new Promise((resolve) => setTimeout(resolve, 15));
});
const consumer = new OutboundConsumer({
  db,
  tenantId: config.tenantId,
  sessionId: config.sessionId,
  epoch: BigInt(config.epoch),
  channel,
  connection: redis,
  keyPrefix: config.keyPrefix,
  humanDelay: NO_HUMAN_DELAY,
  limits: { perContactPerMinute: 1000, perSessionPerMinute: 1000 },
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
