// Test-only: a process running a tenant's CampaignRunner: recovery, then ticks until every
// running campaign is done. With `holdAfterBatches: n`, the n-th batch that queued anything
// RPUSHes its message ids to `heldKey` after its commit and then never adds their jobs: the
// process is stuck between the commit and the enqueue, so a test that kill -9s it has forced the
// crash it studies, with no timing.
//
//   CAMPAIGN_RUNNER='{"redis":{...},"databaseUrl":"...","tenantId":"...","keyPrefix":"...","batchSize":5,"heldKey":"...","holdAfterBatches":2}' \
//     node packages/messaging/src/testing/campaign-runner-process.ts
import { createDb } from '@switchboard/db';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { CampaignRunner } from '../campaigns/runner.ts';

const settings = z
  .object({
    redis: z.object({ host: z.string(), port: z.number() }),
    databaseUrl: z.string(),
    tenantId: z.uuid(),
    keyPrefix: z.string(),
    batchSize: z.number().int().min(1),
    heldKey: z.string(),
    holdAfterBatches: z.number().int().min(0),
  })
  .parse(JSON.parse(process.env.CAMPAIGN_RUNNER ?? '{}'));

const redis = new Redis({ ...settings.redis, maxRetriesPerRequest: null });
const db = createDb({ databaseUrl: settings.databaseUrl, maxConnections: 2 });
let batches = 0;
const runner = new CampaignRunner({
  db,
  redis,
  tenantId: settings.tenantId,
  keyPrefix: settings.keyPrefix,
  batchSize: settings.batchSize,
  limits: { perContactPerMinute: 1000, perSessionPerMinute: 1000 },
  afterCommit: async (messageIds) => {
    if (messageIds.length === 0) return;
    batches++;
    if (batches !== settings.holdAfterBatches) return;
    await redis.rpush(settings.heldKey, JSON.stringify(messageIds));
    await new Promise<never>(() => {});
  },
  onError: (error, context) => process.stderr.write(`${context.what}: ${String(error)}\n`),
});

process.on('SIGTERM', () => {
  void runner.close().then(() => process.exit(0));
});
await runner.recover();
process.stdout.write('ready\n');
for (;;) {
  const results = await runner.tick();
  if (results.length === 0) await new Promise((resolve) => setTimeout(resolve, 100));
}
