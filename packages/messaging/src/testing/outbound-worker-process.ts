// Test-only: what the tests' outbound worker processes (outbound-worker.ts,
// cloud-api-outbound-worker.ts) share: their settings, read from one environment variable as
// JSON, and one OutboundConsumer run until SIGTERM, sending through the channel each brings.
import type { Channel } from '@switchboard/channels';
import { createDb } from '@switchboard/db';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { OutboundConsumer, type OutboundConsumerOptions } from '../outbound/consumer.ts';
import { NO_HUMAN_DELAY } from '../outbound/content.ts';
import { SendStatements, type SendStatementsOptions } from '../outbound/statements.ts';

/** Test-only: the settings every outbound worker process takes; each adds its own. */
export const outboundWorkerSettings = z.object({
  redis: z.object({ host: z.string(), port: z.number() }),
  databaseUrl: z.string(),
  tenantId: z.uuid(),
  sessionId: z.uuid(),
  keyPrefix: z.string(),
  /** The fencing epoch of the claim the process acts under. */
  epoch: z.string(),
});

/** Test-only: the parsed {@link outboundWorkerSettings}. */
export type OutboundWorkerSettings = z.output<typeof outboundWorkerSettings>;

/**
 * Test-only: runs one OutboundConsumer of the session with the channel `channelOf` makes (given
 * the process's Redis connection), without human delays and with limits no test reaches; prints
 * `ready` once it consumes, and on SIGTERM closes it and exits 0. A kill -9 is the test's crash.
 */
export async function runOutboundWorker(
  settings: OutboundWorkerSettings,
  channelOf: (redis: Redis) => Promise<Channel>,
  options: Pick<OutboundConsumerOptions, 'unknownOutcomeTimeoutMs' | 'concurrency'> &
    Pick<SendStatementsOptions, 'beforeRecord'> = {},
): Promise<void> {
  const redis = new Redis({ ...settings.redis, maxRetriesPerRequest: null });
  const db = createDb({ databaseUrl: settings.databaseUrl, maxConnections: 4 });
  const { beforeRecord, ...consumerOptions } = options;
  const statements = new SendStatements({
    db,
    tenantId: settings.tenantId,
    ...(beforeRecord ? { beforeRecord } : {}),
  });
  const consumer = new OutboundConsumer({
    db,
    tenantId: settings.tenantId,
    sessionId: settings.sessionId,
    epoch: BigInt(settings.epoch),
    channel: await channelOf(redis),
    connection: redis,
    keyPrefix: settings.keyPrefix,
    humanDelay: NO_HUMAN_DELAY,
    limits: { perContactPerMinute: 1000, perSessionPerMinute: 1000 },
    statements,
    ...consumerOptions,
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
}
