// The message pipelines, measured against what they are built on, in the same run:
//
// - inbound: N distinct messages through storeInbound (one transaction: advisory lock, contact
//   by identity, conversation upsert, message insert, then the realtime entry and webhook
//   enqueue of InboundPipeline), sequentially and 8 at a time; baseline: N raw single-row
//   INSERTs of a message through the same Prisma client in withTenant transactions.
// - outbound: N queued messages sent by an OutboundConsumer (rate limits lifted, no typing
//   pause, an in-memory channel), from enqueueing to the last recorded `sent`; baseline: N raw
//   BullMQ jobs added and processed by a Worker doing nothing.
//
//   node bench/messaging/run.ts [--messages 500] [--repeats 3]
//
// Starts its own Postgres and Redis on loopback and stops them at the end.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { createDb, ensureTenant, migrate, provisionTenantDatabase, withTenant } from '@switchboard/db';
import {
  InboundPipeline,
  NO_HUMAN_DELAY,
  OutboundConsumer,
  outboundJobOptions,
  QUEUE_NAMES,
  queuePrefix,
  storeInbound,
} from '@switchboard/messaging';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { inboundMessage, queueOutboundText } from '../../packages/messaging/src/testing/fixtures.ts';
import { MemoryChannel } from '../../packages/messaging/src/testing/memory-channel.ts';
import { postgresUrl, startPostgres } from '../../packages/testing/src/postgres-server.ts';
import { killAllSync } from '../../packages/testing/src/processes.ts';
import { startRedis } from '../../packages/testing/src/redis-server.ts';

const { values } = parseArgs({
  options: { messages: { type: 'string', default: '500' }, repeats: { type: 'string', default: '3' } },
});
const N = Number(values.messages);
const REPEATS = Number(values.repeats);
for (const [name, value] of Object.entries({ messages: N, repeats: REPEATS })) {
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const time = async (fn: () => Promise<void>) => {
  const start = performance.now();
  await fn();
  return performance.now() - start;
};
async function inBatches(count: number, width: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) await fn(next++);
    }),
  );
}

process.once('SIGINT', () => {
  killAllSync();
  process.exit(130);
});

const [postgres, redisServer] = await Promise.all([startPostgres(), startRedis()]);
try {
  const admin = postgresUrl(postgres, postgres.user, postgres.password, 'postgres');
  const name = `bench_${randomBytes(3).toString('hex')}`;
  const urls = await provisionTenantDatabase(admin, {
    database: name,
    ownerRole: `${name}_owner`,
    appRole: `${name}_app`,
    passwords: { owner: randomBytes(12).toString('hex'), app: randomBytes(12).toString('hex') },
  });
  await migrate({ databaseUrl: urls.ownerUrl, direction: 'up', appRole: `${name}_app` });
  const db = createDb({ databaseUrl: urls.appUrl, maxConnections: 10 });
  const redis = new Redis({ host: redisServer.host, port: redisServer.port });
  const queues = new Redis({ host: redisServer.host, port: redisServer.port, maxRetriesPerRequest: null });
  const tenantId = await ensureTenant(db, { slug: 'bench', displayName: 'Bench' });
  const keyPrefix = 'sb:bench:';
  const session = await withTenant(db, tenantId, (tx) =>
    tx.session.create({ data: { tenantId, name: 'bench', channel: 'baileys' } }),
  );
  // A conversation for the baseline's raw inserts.
  const first = await storeInbound(db, tenantId, inboundMessage(session.id, 'seed', { pn: '5511900000000' }));
  const conversationId = (first as { conversationId: string }).conversationId;
  const pipeline = new InboundPipeline({ db, redis, tenantId, keyPrefix });

  const inboundSequential: number[] = [];
  const inboundParallel: number[] = [];
  const rawInserts: number[] = [];
  const outbound: number[] = [];
  const rawBull: number[] = [];
  for (let round = 0; round < REPEATS; round++) {
    const tag = `r${round}-${randomBytes(3).toString('hex')}`;
    // Each message from its own contact half the time, from a returning one otherwise.
    const from = (i: number) => ({ pn: `55119${String(i % 2 ? i : 0).padStart(8, '0')}` });
    inboundSequential.push(
      await time(async () => {
        for (let i = 0; i < N; i++)
          await pipeline.handleMessage(inboundMessage(session.id, `${tag}-s${i}`, from(i)));
      }),
    );
    inboundParallel.push(
      await time(() =>
        inBatches(N, 8, (i) => pipeline.handleMessage(inboundMessage(session.id, `${tag}-p${i}`, from(i)))),
      ),
    );
    rawInserts.push(
      await time(async () => {
        for (let i = 0; i < N; i++) {
          await withTenant(db, tenantId, (tx) =>
            tx.message.create({
              data: {
                tenantId,
                sessionId: session.id,
                conversationId,
                direction: 'inbound',
                status: 'delivered',
                type: 'text',
                body: 'x',
                providerMessageId: `${tag}-raw${i}`,
              },
            }),
          );
        }
      }),
    );

    // Outbound: the queued rows exist first (the API's part), then the consumer sends them all.
    const ids: string[] = [];
    for (let i = 0; i < N; i++)
      ids.push(
        await queueOutboundText(db, tenantId, session.id, `55118${String(i).padStart(8, '0')}`, `reply ${i}`),
      );
    const channel = new MemoryChannel(session.id);
    const consumer = new OutboundConsumer({
      db,
      tenantId,
      sessionId: session.id,
      epoch: 1n,
      channel,
      connection: queues,
      keyPrefix,
      humanDelay: NO_HUMAN_DELAY,
      limits: { perContactPerMinute: 1_000_000, perSessionPerMinute: 1_000_000 },
      concurrency: 8,
    });
    const queue = new Queue(QUEUE_NAMES.outbound(session.id), {
      connection: queues,
      prefix: queuePrefix(keyPrefix),
    });
    outbound.push(
      await time(async () => {
        await queue.addBulk(
          ids.map((messageId) => {
            const job = { kind: 'send' as const, tenantId, messageId };
            return { name: 'send', data: job, opts: outboundJobOptions(job) };
          }),
        );
        await consumer.start();
        for (;;) {
          const done = await withTenant(db, tenantId, (tx) =>
            tx.message.count({ where: { id: { in: ids }, status: 'sent' } }),
          );
          if (done === N) break;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }),
    );
    if (channel.sent.length !== N)
      throw new Error(`sent ${channel.sent.length} of ${N}: the consumer sent twice or lost some`);
    await consumer.close();
    await queue.obliterate({ force: true });
    await queue.close();

    const rawName = `raw-${tag}`;
    const rawQueue = new Queue(rawName, { connection: queues, prefix: queuePrefix(keyPrefix) });
    let processed = 0;
    let resolveAll: () => void;
    const all = new Promise<void>((resolve) => {
      resolveAll = resolve;
    });
    rawBull.push(
      await time(async () => {
        await rawQueue.addBulk(Array.from({ length: N }, (_, i) => ({ name: 'job', data: { i } })));
        const worker = new Worker(
          rawName,
          async () => {
            if (++processed === N) resolveAll();
          },
          { connection: queues, prefix: queuePrefix(keyPrefix), concurrency: 8 },
        );
        await all;
        await worker.close();
      }),
    );
    await rawQueue.obliterate({ force: true });
    await rawQueue.close();
  }

  const results = {
    date: new Date().toISOString(),
    messages: N,
    repeats: REPEATS,
    inboundSequentialMs: median(inboundSequential),
    inboundParallel8Ms: median(inboundParallel),
    baselineRawInsertsMs: median(rawInserts),
    outboundMs: median(outbound),
    baselineRawBullMqMs: median(rawBull),
  };
  const ms = (x: number) => `${x.toFixed(0)} ms`;
  const perSecond = (x: number) => `${((N / x) * 1000).toFixed(0)}/s`;
  const print = (line: string) => process.stdout.write(`${line}\n`);
  print(`messaging benchmark: ${N} messages, median of ${REPEATS}`);
  print(
    `  inbound, one at a time        ${ms(results.inboundSequentialMs)} (${perSecond(results.inboundSequentialMs)})`,
  );
  print(
    `  inbound, 8 at a time          ${ms(results.inboundParallel8Ms)} (${perSecond(results.inboundParallel8Ms)})`,
  );
  print(
    `  baseline: raw message INSERTs ${ms(results.baselineRawInsertsMs)} (${perSecond(results.baselineRawInsertsMs)})`,
  );
  print(
    `  ratio inbound / raw INSERT    ${(results.inboundSequentialMs / results.baselineRawInsertsMs).toFixed(1)}x`,
  );
  print(`  outbound, enqueue to all sent ${ms(results.outboundMs)} (${perSecond(results.outboundMs)})`);
  print(
    `  baseline: raw BullMQ jobs     ${ms(results.baselineRawBullMqMs)} (${perSecond(results.baselineRawBullMqMs)})`,
  );
  print(`  ratio outbound / raw BullMQ   ${(results.outboundMs / results.baselineRawBullMqMs).toFixed(1)}x`);
  await writeFile(new URL('./results.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`);
  await pipeline.close();
  redis.disconnect();
  queues.disconnect();
  await db.$disconnect();
} finally {
  await Promise.allSettled([postgres.stop(), redisServer.stop()]);
}
