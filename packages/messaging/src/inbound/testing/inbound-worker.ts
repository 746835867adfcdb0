// Test-only: a worker process storing messages through one InboundPipeline, so a test can kill -9
// it while a batch's transaction is open. The messages (`ids`, each from the contact `pn`) are
// queued at start, together: one batch. Prints `stored <n>` once all are stored.
//
//   INBOUND_WORKER='{"redis":{"host":"...","port":1},"databaseUrl":"...","tenantId":"...","sessionId":"...","keyPrefix":"...","pn":"...","ids":["..."]}' \
//     node packages/messaging/src/inbound/testing/inbound-worker.ts
import { createDb } from '@switchboard/db';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { inboundMessage } from '../../testing/fixtures.ts';
import { InboundPipeline } from '../pipeline.ts';

const config = z
  .object({
    redis: z.object({ host: z.string(), port: z.number() }),
    databaseUrl: z.string(),
    tenantId: z.uuid(),
    sessionId: z.uuid(),
    keyPrefix: z.string(),
    pn: z.string(),
    ids: z.array(z.string()).min(1),
  })
  .parse(JSON.parse(process.env.INBOUND_WORKER ?? '{}'));

const redis = new Redis({ ...config.redis, maxRetriesPerRequest: null });
const db = createDb({ databaseUrl: config.databaseUrl, maxConnections: 2 });
const pipeline = new InboundPipeline({
  db,
  redis,
  tenantId: config.tenantId,
  keyPrefix: config.keyPrefix,
  onBatch: (batch) => process.stdout.write(`batch ${batch.size} ${batch.outcome}\n`),
});
const results = await Promise.all(
  config.ids.map((id) => pipeline.handleMessage(inboundMessage(config.sessionId, id, { pn: config.pn }))),
);
process.stdout.write(`stored ${results.filter((r) => r.outcome === 'created').length}\n`);
await pipeline.close();
redis.disconnect();
await db.$disconnect();
