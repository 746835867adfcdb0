// Test-only: a worker process running one OutboundConsumer with a counting channel. Every send is
// RPUSHed to a Redis list (provider id and pid) before it resolves, so a test that kill -9s this
// process mid-burst can count exactly what reached "WhatsApp".
//
// With `holdBatch: n` (and `concurrency` >= n) the first n sends are held until all n reached the
// provider, then answered together, so their records of `sent` go into one statement; that
// statement never runs: its message ids are RPUSHed (as one JSON array) to `heldKey` and the
// process stays stuck there. A test that kill -9s it then has forced a crash between the
// provider's accept of n sends and their batched record, with no timing.
//
//   OUTBOUND_WORKER='{"redis":{"host":"...","port":1},"databaseUrl":"...","tenantId":"...","sessionId":"...","keyPrefix":"...","sendsKey":"...","epoch":"1"}' \
//     node packages/messaging/src/testing/outbound-worker.ts
import { Redis } from 'ioredis';
import { z } from 'zod';
import { MemoryChannel } from './memory-channel.ts';
import { outboundWorkerSettings, runOutboundWorker } from './outbound-worker-process.ts';

const settings = outboundWorkerSettings
  .extend({
    sendsKey: z.string(),
    concurrency: z.number().int().min(1).default(1),
    holdBatch: z.number().int().min(1).optional(),
    heldKey: z.string().optional(),
  })
  .parse(JSON.parse(process.env.OUTBOUND_WORKER ?? '{}'));

// The first holdBatch sends wait here until the last of them arrives, then go on together.
const barrier: (() => void)[] = [];
let held = 0;

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
      if (settings.holdBatch !== undefined && held < settings.holdBatch) {
        held++;
        await new Promise<void>((resolve) => {
          barrier.push(resolve);
          if (barrier.length === settings.holdBatch) for (const release of barrier) release();
        });
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 15));
    }),
  {
    concurrency: settings.concurrency,
    ...(settings.holdBatch !== undefined && settings.heldKey !== undefined
      ? {
          beforeRecord: async (messageIds: readonly string[]) => {
            await new Redis(settings.redis).rpush(settings.heldKey!, JSON.stringify(messageIds));
            await new Promise<never>(() => {});
          },
        }
      : {}),
  },
);
