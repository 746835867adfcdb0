// The message pipelines, measured against what they are built on, in the same run:
//
// - inbound: N distinct messages through InboundPipeline (group commit: the messages queued
//   together stored in one transaction of multi-row statements: locks, lookup, contacts and
//   conversations, messages with their webhook delivery and outbox rows; then the outbox relay
//   appends the realtime entries and adds the webhook jobs), sequentially, 8 and 64 at a time
//   (callers each awaiting their message before sending the next); baselines: N raw single-row INSERTs of a message through the same Prisma client in
//   withTenant transactions, and the same N rows as raw batched INSERTs (100 per statement).
// - inbound latency, one worker: N channel events arriving at a steady rate (--rate per second),
//   p50/p99 from the event to InboundPipeline.handleMessage resolving (committed, its outbox rows
//   kicked), and to its realtime event being readable by an XREAD BLOCK reader on the tenant's
//   stream (what the API's SSE route does).
// - outbound: N queued messages sent by an OutboundConsumer (rate limits lifted, no typing
//   pause, an in-memory channel), from enqueueing to the last recorded `sent`; baseline: N raw
//   BullMQ jobs added and processed by a Worker doing nothing.
//
//   node bench/pipeline/run.ts [--messages 300] [--repeats 3] [--rate 50] [--sessions 8]
//                              [--only inbound,latency,outbound]
//
// --sessions is how many sessions the many-sessions outbound case sends through (one slot each).
//
// --only runs the named parts (comma-separated; default all three) and prints only their figures.
//
// Starts its own Postgres and Redis on loopback and stops them at the end.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { createDb, ensureTenant, withTenant } from '@switchboard/db';
import {
  InboundPipeline,
  NO_HUMAN_DELAY,
  OutboundConsumer,
  OutboxRelay,
  outboundJobOptions,
  QUEUE_NAMES,
  queuePrefix,
  REALTIME_EVENT_FIELD,
  realtimeStreamKey,
  SendStatements,
  storeInbound,
} from '@switchboard/messaging';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { storeInboundBatch } from '../../packages/messaging/src/inbound/batch.ts';
import { inboundMessage, queueOutboundText } from '../../packages/messaging/src/testing/fixtures.ts';
import { MemoryChannel } from '../../packages/messaging/src/testing/memory-channel.ts';
import {
  createBenchDatabase,
  integerOptions,
  killServersOnSigint,
  median,
  onlyOption,
  percentile,
  startPostgres,
  startRedis,
} from '../support/services.ts';

const PARTS = ['inbound', 'latency', 'outbound'] as const;
const ONLY = onlyOption(PARTS);
const {
  messages: N,
  repeats: REPEATS,
  rate: RATE,
  sessions: SESSIONS,
} = integerOptions({ messages: 300, repeats: 3, rate: 50, sessions: 8 });

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

killServersOnSigint();

const [postgres, redisServer] = await Promise.all([startPostgres(), startRedis()]);
try {
  const urls = await createBenchDatabase(postgres);
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
  // One relay for the process, as the worker has.
  const relay = new OutboxRelay({ db, redis, tenantId, keyPrefix });
  const pipeline = new InboundPipeline({ db, redis, tenantId, keyPrefix, relay });
  // Two webhook subscriptions, so every message fans out to two deliveries as in production.
  await withTenant(db, tenantId, (tx) =>
    tx.webhookSubscription.createMany({
      data: [
        { tenantId, url: 'http://127.0.0.1:1/a', events: ['message.received'], secretRef: 'a' },
        { tenantId, url: 'http://127.0.0.1:1/b', events: ['*'], secretRef: 'b' },
      ],
    }),
  );

  // Warm-up (JIT, connections, plan caches) through both inbound paths, not measured.
  for (let i = 0; i < 30; i++) {
    const warm = inboundMessage(session.id, `warm-${i}`, { pn: `55117${String(i % 3).padStart(8, '0')}` });
    const stored = await storeInbound(db, tenantId, { ...warm, providerMessageId: `warm-a${i}` });
    if (stored.outcome === 'created') await relay.kick(stored.outboxIds);
    await pipeline.handleMessage(warm);
  }
  const inboundSequential: number[] = [];
  const inboundParallel: number[] = [];
  const inboundParallel64: number[] = [];
  const storeOnly: number[] = [];
  const beforeSequential: number[] = [];
  const beforeParallel: number[] = [];
  const beforeParallel64: number[] = [];
  const rawInserts: number[] = [];
  const rawBatched: number[] = [];
  const toCommitP50: number[] = [];
  const toCommitP99: number[] = [];
  const toStreamP50: number[] = [];
  const toStreamP99: number[] = [];
  const outbound: number[] = [];
  const rawBull: number[] = [];
  const outboundSessions: number[] = [];
  const rawBullSessions: number[] = [];
  // How many sends each read and record statement carried (SendStatements' onBatch), all rounds.
  const claimStatements = { statements: 0, sends: 0 };
  const recordStatements = { statements: 0, sends: 0 };
  // The sessions of the many-sessions outbound case (--sessions, default 8).
  const outboundSessionIds = ONLY.has('outbound')
    ? await Promise.all(
        Array.from({ length: SESSIONS }, async (_, i) =>
          withTenant(db, tenantId, (tx) =>
            tx.session.create({ data: { tenantId, name: `bench-out-${i}`, channel: 'baileys' } }),
          ).then((created) => created.id),
        ),
      )
    : [];
  for (let round = 0; round < REPEATS; round++) {
    const tag = `r${round}-${randomBytes(3).toString('hex')}`;
    // Each message from its own contact half the time, from a returning one otherwise.
    const from = (i: number) => ({ pn: `55119${String(i % 2 ? i : 0).padStart(8, '0')}` });
    if (ONLY.has('inbound')) {
      inboundSequential.push(
        await time(async () => {
          for (let i = 0; i < N; i++)
            await pipeline.handleMessage(inboundMessage(session.id, `${tag}-s${i}`, from(i)));
        }),
      );
      // The commit alone (the pipeline's transaction for a batch of one), without the relay's
      // transaction that handleMessage also waits for; its outbox rows are drained after.
      storeOnly.push(
        await time(async () => {
          for (let i = 0; i < N; i++)
            await storeInboundBatch(db, tenantId, [inboundMessage(session.id, `${tag}-o${i}`, from(i))]);
        }),
      );
      await relay.drain();
      inboundParallel.push(
        await time(() =>
          inBatches(N, 8, (i) => pipeline.handleMessage(inboundMessage(session.id, `${tag}-p${i}`, from(i)))),
        ),
      );
      inboundParallel64.push(
        await time(() =>
          inBatches(N, 64, (i) =>
            pipeline.handleMessage(inboundMessage(session.id, `${tag}-q${i}`, from(i))),
          ),
        ),
      );
      // Before group commit, in the same run: what handleMessage did then (storeInbound, one
      // transaction per event, then the relay's kick), one at a time, 8 and 64 at a time.
      const before = async (i: number, label: string) => {
        const result = await storeInbound(
          db,
          tenantId,
          inboundMessage(session.id, `${tag}-${label}${i}`, from(i)),
        );
        if (result.outcome === 'created') await relay.kick(result.outboxIds);
      };
      for (const [width, runs] of [
        [1, beforeSequential],
        [8, beforeParallel],
        [64, beforeParallel64],
      ] as const)
        runs.push(await time(() => inBatches(N, width, (i) => before(i, `b${width}-`))));
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

      rawBatched.push(
        await time(async () => {
          for (let start = 0; start < N; start += 100) {
            await withTenant(db, tenantId, (tx) =>
              tx.message.createMany({
                data: Array.from({ length: Math.min(100, N - start) }, (_, j) => ({
                  tenantId,
                  sessionId: session.id,
                  conversationId,
                  direction: 'inbound' as const,
                  status: 'delivered' as const,
                  type: 'text' as const,
                  body: 'x',
                  providerMessageId: `${tag}-batch${start + j}`,
                })),
              }),
            );
          }
        }),
      );
    }

    // Latency: events at a steady rate; each one's commit and its entry in the stream, seen by
    // an independent XREAD reader. Start times are the scheduled arrival times, so a backlog
    // shows up as latency instead of slowing the arrivals down (no coordinated omission).
    if (ONLY.has('latency')) {
      const reader = new Redis({ host: redisServer.host, port: redisServer.port });
      const streamKey = realtimeStreamKey(keyPrefix);
      const last = await redis.xrevrange(streamKey, '+', '-', 'COUNT', 1);
      let cursor = last[0]?.[0] ?? '0-0';
      const seenAt = new Map<string, number>();
      let reading = true;
      const readerDone = (async () => {
        while (reading) {
          const batch = (await reader.xread('COUNT', 500, 'BLOCK', 200, 'STREAMS', streamKey, cursor)) as
            | [string, [string, string[]][]][]
            | null;
          const now = performance.now();
          for (const [, entries] of batch ?? []) {
            for (const [id, fields] of entries) {
              cursor = id;
              const event = JSON.parse(fields[fields.indexOf(REALTIME_EVENT_FIELD) + 1]!);
              if (event.type === 'message.created') seenAt.set(event.data.messageId, now);
            }
          }
        }
      })();
      const startedAt = performance.now();
      const interval = 1000 / RATE;
      const commits: { scheduled: number; committed: number; messageId: string }[] = [];
      await Promise.all(
        Array.from({ length: N }, async (_, i) => {
          const scheduled = startedAt + i * interval;
          await new Promise((resolve) => setTimeout(resolve, Math.max(0, scheduled - performance.now())));
          // Through the pipeline (group commit): resolved once committed and its effects kicked.
          const result = await pipeline.handleMessage(inboundMessage(session.id, `${tag}-l${i}`, from(i)));
          const committed = performance.now();
          if (result.outcome !== 'created') throw new Error(`latency message ${i} was ${result.outcome}`);
          commits.push({ scheduled, committed, messageId: result.messageId });
        }),
      );
      for (let waited = 0; seenAt.size < N && waited < 10_000; waited += 20)
        await new Promise((resolve) => setTimeout(resolve, 20));
      reading = false;
      await readerDone;
      reader.disconnect();
      if (commits.some((c) => !seenAt.has(c.messageId)))
        throw new Error(`only ${seenAt.size} of ${N} realtime events reached the stream`);
      const commit = commits.map((c) => c.committed - c.scheduled);
      const stream = commits.map((c) => seenAt.get(c.messageId)! - c.scheduled);
      toCommitP50.push(percentile(commit, 50));
      toCommitP99.push(percentile(commit, 99));
      toStreamP50.push(percentile(stream, 50));
      toStreamP99.push(percentile(stream, 99));
    }

    if (ONLY.has('outbound')) {
      // Outbound, two shapes: one session's consumer with 8 slots, and 8 sessions' consumers with
      // one slot each (the worker's wiring: a session sends in order) sharing the process's
      // SendStatements. The queued rows exist first (the API's part), then the consumers send
      // them all; the clock runs from enqueueing to the last `sent`.
      const sendAll = async (sessions: readonly string[], slots: number) => {
        const ids: string[][] = sessions.map(() => []);
        for (let i = 0; i < N; i++)
          ids[i % sessions.length]!.push(
            await queueOutboundText(
              db,
              tenantId,
              sessions[i % sessions.length]!,
              `55118${String(i).padStart(8, '0')}`,
              `reply ${i}`,
            ),
          );
        // The records' statements say when N sends are recorded, so the clock stops without a
        // poll loading the database it measures; one count then confirms every message is `sent`.
        let recorded = 0;
        let allRecorded!: () => void;
        const recordedAll = new Promise<void>((resolve) => {
          allRecorded = resolve;
        });
        const statements = new SendStatements({
          db,
          tenantId,
          onBatch: (batch) => {
            const counts = batch.kind === 'claim' ? claimStatements : recordStatements;
            counts.statements++;
            counts.sends += batch.size;
            if (batch.kind !== 'record') return;
            recorded += batch.size;
            if (recorded >= N) allRecorded();
          },
        });
        const channels = sessions.map((id) => new MemoryChannel(id));
        const consumers = sessions.map(
          (sessionId, i) =>
            new OutboundConsumer({
              db,
              tenantId,
              sessionId,
              epoch: 1n,
              channel: channels[i]!,
              connection: queues,
              keyPrefix,
              humanDelay: NO_HUMAN_DELAY,
              limits: { perContactPerMinute: 1_000_000, perSessionPerMinute: 1_000_000 },
              concurrency: slots,
              statements,
              requeueIntervalMs: 0,
            }),
        );
        const sessionQueues = sessions.map(
          (id) => new Queue(QUEUE_NAMES.outbound(id), { connection: queues, prefix: queuePrefix(keyPrefix) }),
        );
        const all = ids.flat();
        const took = await time(async () => {
          await Promise.all(
            sessionQueues.map((queue, i) =>
              queue.addBulk(
                ids[i]!.map((messageId) => {
                  const job = { kind: 'send' as const, tenantId, messageId };
                  return { name: 'send', data: job, opts: outboundJobOptions(job) };
                }),
              ),
            ),
          );
          await Promise.all(consumers.map((consumer) => consumer.start()));
          for (let round = 0; ; round++) {
            // A statement that fell back to one by one is reported once: the count decides, and
            // after a count short of N it is asked again every 20 ms.
            const pause = sleep(round === 0 ? 120_000 : 20, undefined, { ref: false });
            await (round === 0 ? Promise.race([recordedAll, pause]) : pause);
            const done = await withTenant(db, tenantId, (tx) =>
              tx.message.count({ where: { id: { in: all }, status: 'sent' } }),
            );
            if (done === N) break;
          }
        });
        const sent = channels.reduce((sum, channel) => sum + channel.sent.length, 0);
        if (sent !== N) throw new Error(`sent ${sent} of ${N}: the consumers sent twice or lost some`);
        await Promise.all(consumers.map((consumer) => consumer.close()));
        for (const queue of sessionQueues) {
          await queue.obliterate({ force: true });
          await queue.close();
        }
        return took;
      };
      // Raw BullMQ: N jobs added to `queueCount` queues and processed by one no-op Worker per
      // queue with `slots` concurrency (the same shape as the consumers above).
      const rawAll = async (queueCount: number, slots: number) => {
        const names = Array.from({ length: queueCount }, (_, q) => `raw-${tag}-${queueCount}-${q}`);
        const rawQueues = names.map(
          (name) => new Queue(name, { connection: queues, prefix: queuePrefix(keyPrefix) }),
        );
        let processed = 0;
        let resolveAll: () => void;
        const all = new Promise<void>((resolve) => {
          resolveAll = resolve;
        });
        const took = await time(async () => {
          await Promise.all(
            rawQueues.map((queue, q) =>
              queue.addBulk(
                Array.from({ length: Math.ceil((N - q) / queueCount) }, (_, i) => ({
                  name: 'job',
                  data: { i },
                })),
              ),
            ),
          );
          const workers = names.map(
            (name) =>
              new Worker(
                name,
                async () => {
                  if (++processed === N) resolveAll();
                },
                { connection: queues, prefix: queuePrefix(keyPrefix), concurrency: slots },
              ),
          );
          await all;
          await Promise.all(workers.map((worker) => worker.close()));
        });
        for (const queue of rawQueues) {
          await queue.obliterate({ force: true });
          await queue.close();
        }
        return took;
      };
      outbound.push(await sendAll([session.id], 8));
      rawBull.push(await rawAll(1, 8));
      outboundSessions.push(await sendAll(outboundSessionIds, 1));
      rawBullSessions.push(await rawAll(outboundSessionIds.length, 1));
    }
  }

  const med = (xs: number[]) => (xs.length > 0 ? median(xs) : undefined);
  const results = {
    date: new Date().toISOString(),
    messages: N,
    repeats: REPEATS,
    parts: [...ONLY],
    inboundSequentialMs: med(inboundSequential),
    inboundParallel8Ms: med(inboundParallel),
    inboundParallel64Ms: med(inboundParallel64),
    inboundStoreOnlyMs: med(storeOnly),
    beforeSequentialMs: med(beforeSequential),
    beforeParallel8Ms: med(beforeParallel),
    beforeParallel64Ms: med(beforeParallel64),
    baselineRawInsertsMs: med(rawInserts),
    baselineRawBatchedInsertsMs: med(rawBatched),
    latencyRatePerSecond: RATE,
    eventToCommitP50Ms: med(toCommitP50),
    eventToCommitP99Ms: med(toCommitP99),
    eventToStreamP50Ms: med(toStreamP50),
    eventToStreamP99Ms: med(toStreamP99),
    outboundMs: med(outbound),
    baselineRawBullMqMs: med(rawBull),
    outboundSessions: SESSIONS,
    outbound8SessionsMs: med(outboundSessions),
    baselineRawBullMq8QueuesMs: med(rawBullSessions),
    sendsPerClaimStatement: claimStatements.sends / Math.max(1, claimStatements.statements),
    sendsPerRecordStatement: recordStatements.sends / Math.max(1, recordStatements.statements),
  };
  const ms = (x: number) => `${x.toFixed(0)} ms`;
  const perSecond = (x: number) => `${((N / x) * 1000).toFixed(0)}/s`;
  const print = (line: string) => process.stdout.write(`${line}\n`);
  const both = (x: number) => `${ms(x)} (${perSecond(x)})`;
  const ratio = (a: number, b: number) => `${(a / b).toFixed(1)}x`;
  print(`pipeline benchmark: ${N} messages, median of ${REPEATS}`);
  const r = results;
  if (
    r.inboundSequentialMs !== undefined &&
    r.inboundParallel8Ms !== undefined &&
    r.inboundParallel64Ms !== undefined &&
    r.inboundStoreOnlyMs !== undefined &&
    r.beforeSequentialMs !== undefined &&
    r.beforeParallel8Ms !== undefined &&
    r.beforeParallel64Ms !== undefined &&
    r.baselineRawInsertsMs !== undefined &&
    r.baselineRawBatchedInsertsMs !== undefined
  ) {
    print(`  inbound, one at a time        ${both(r.inboundSequentialMs)}`);
    print(`  inbound, 8 at a time          ${both(r.inboundParallel8Ms)}`);
    print(`  inbound, 64 at a time         ${both(r.inboundParallel64Ms)}`);
    print(
      `  before (storeInbound + kick): one at a time ${both(r.beforeSequentialMs)}, 8: ${both(r.beforeParallel8Ms)}, 64: ${both(r.beforeParallel64Ms)}`,
    );
    print(`  store only, one at a time     ${both(r.inboundStoreOnlyMs)} (the commit, without the relay)`);
    print(`  baseline: raw message INSERTs ${both(r.baselineRawInsertsMs)}`);
    print(`  baseline: raw batched INSERTs ${both(r.baselineRawBatchedInsertsMs)}`);
    print(`  ratio inbound / raw INSERT    ${ratio(r.inboundSequentialMs, r.baselineRawInsertsMs)}`);
    print(`  ratio store only / raw INSERT ${ratio(r.inboundStoreOnlyMs, r.baselineRawInsertsMs)}`);
    print(`  ratio inbound 8 / batched     ${ratio(r.inboundParallel8Ms, r.baselineRawBatchedInsertsMs)}`);
    print(`  ratio inbound 64 / batched    ${ratio(r.inboundParallel64Ms, r.baselineRawBatchedInsertsMs)}`);
  }
  if (
    r.eventToCommitP50Ms !== undefined &&
    r.eventToCommitP99Ms !== undefined &&
    r.eventToStreamP50Ms !== undefined &&
    r.eventToStreamP99Ms !== undefined
  ) {
    const p = (x: number) => `${x.toFixed(1)} ms`;
    print(`  inbound latency at ${RATE}/s, one worker (p50 / p99):`);
    print(`    event -> acknowledged       ${p(r.eventToCommitP50Ms)} / ${p(r.eventToCommitP99Ms)}`);
    print(`    event -> readable by XREAD  ${p(r.eventToStreamP50Ms)} / ${p(r.eventToStreamP99Ms)}`);
  }
  if (
    r.outboundMs !== undefined &&
    r.baselineRawBullMqMs !== undefined &&
    r.outbound8SessionsMs !== undefined &&
    r.baselineRawBullMq8QueuesMs !== undefined
  ) {
    print(`  outbound, enqueue to all sent, one session, 8 slots ${both(r.outboundMs)}`);
    print(`  baseline: raw BullMQ jobs, one queue, 8 slots      ${both(r.baselineRawBullMqMs)}`);
    print(
      `  ratio outbound / raw BullMQ                        ${ratio(r.outboundMs, r.baselineRawBullMqMs)}`,
    );
    print(`  outbound, ${`${SESSIONS} sessions, 1 slot each`.padEnd(41)} ${both(r.outbound8SessionsMs)}`);
    print(
      `  baseline: raw BullMQ jobs, ${`${SESSIONS} queues, 1 slot each`.padEnd(24)} ${both(r.baselineRawBullMq8QueuesMs)}`,
    );
    print(
      `  ratio outbound / raw BullMQ                        ${ratio(r.outbound8SessionsMs, r.baselineRawBullMq8QueuesMs)}`,
    );
    print(
      `  sends per statement: read ${r.sendsPerClaimStatement.toFixed(1)}, record ${r.sendsPerRecordStatement.toFixed(1)}`,
    );
  }
  await writeFile(new URL('./results.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`);
  await pipeline.close();
  await relay.close();
  redis.disconnect();
  queues.disconnect();
  await db.$disconnect();
} finally {
  await Promise.allSettled([postgres.stop(), redisServer.stop()]);
}
