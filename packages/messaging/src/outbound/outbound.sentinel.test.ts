// An outbound burst through a Redis Sentinel failover, connected the way the worker and the API
// connect (packages/redis createRedis with a role): every message ends sent, exactly once.
import { type Db, withTenant } from '@switchboard/db';
import { createRedis } from '@switchboard/redis';
import {
  createTestDatabase,
  forceSentinelFailover,
  sentinelOptions,
  settledSentinelGroup,
  type TestDatabase,
  uniquePrefix,
} from '@switchboard/testing';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OutboundJob, outboundJobOptions, QUEUE_NAMES, queuePrefix } from '../contracts.ts';
import { eventually, queueOutboundText, seedTenant } from '../testing/fixtures.ts';
import { MemoryChannel } from '../testing/memory-channel.ts';
import { OutboundConsumer } from './consumer.ts';
import { NO_HUMAN_DELAY } from './content.ts';

let database: TestDatabase;
let db: Db;
let tenantId: string;
let sessionId: string;
const keyPrefix = `${uniquePrefix('sentinel-out')}:`;
const closers: (() => unknown)[] = [];
/** Releases the sends held until the failover is over (called again on cleanup, harmlessly). */
let releaseSends = () => {};

/** Runs one cleanup step, giving up on it after `ms` (a close against a moving primary can hang). */
async function bounded(step: () => unknown, ms = 10_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.resolve()
      .then(step)
      .catch(() => {}),
    new Promise((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}

beforeAll(async () => {
  database = await createTestDatabase({ label: 'messaging-sentinel' });
  const seeded = await seedTenant(database, 1);
  db = seeded.db;
  tenantId = seeded.tenantId;
  sessionId = seeded.sessionIds[0]!;
});

afterAll(async () => {
  // A held send would keep the consumer's close waiting for its job: let it go first.
  releaseSends();
  for (const close of closers.reverse()) await bounded(close);
  await db.$disconnect();
  await database.drop();
});

/** Retries like an API handler whose producer connection fails fast while Redis moves. */
async function retry<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (attempt >= 200) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

describe('outbound through a Sentinel failover', () => {
  it('sends every message of a burst exactly once when the primary fails over mid-burst', async () => {
    await settledSentinelGroup();
    const target = { mode: 'sentinel', ...sentinelOptions() } as const;
    const workerConnection = createRedis({
      target,
      role: 'worker',
      connectionName: 'sentinel-out:worker',
    }) as Redis;
    const producerConnection = createRedis({
      target,
      role: 'producer',
      connectionName: 'sentinel-out:api',
    }) as Redis;
    for (const c of [workerConnection, producerConnection]) {
      c.on('error', () => {});
      closers.push(() => c.disconnect());
    }
    // The first `beforeFailover` sends go through; every later one waits until the failover is
    // over, so the burst spans the failover whatever the machine's speed (one send stays in
    // flight across it, holding its job's lock).
    const beforeFailover = 10;
    const failedOver = new Promise<void>((resolve) => {
      releaseSends = resolve;
    });
    let calls = 0;
    const channel = new MemoryChannel(sessionId, async () => {
      if (++calls > beforeFailover) await failedOver;
    });
    const consumer = new OutboundConsumer({
      db,
      tenantId,
      sessionId,
      epoch: 1n,
      channel,
      connection: workerConnection,
      keyPrefix,
      humanDelay: NO_HUMAN_DELAY,
      limits: { perContactPerMinute: 1000, perSessionPerMinute: 1000 },
      retry: { attempts: 8, baseDelayMs: 50, maxDelayMs: 500 },
      // Re-enqueue what is still queued soon after a failover could have lost its job.
      requeueIntervalMs: 1_000,
      onError: () => {},
    });
    closers.push(() => consumer.close());
    await consumer.start();
    const api = new Queue(QUEUE_NAMES.outbound(sessionId), {
      connection: producerConnection,
      prefix: queuePrefix(keyPrefix),
    });
    closers.push(() => api.close());

    const total = 80;
    const ids: string[] = [];
    for (let i = 0; i < total; i++)
      ids.push(
        await queueOutboundText(
          db,
          tenantId,
          sessionId,
          `49152000${String(i % 8).padStart(4, '0')}`,
          `m${i}`,
        ),
      );
    const add = (messageId: string) => {
      const job: OutboundJob = { kind: 'send', tenantId, messageId };
      return retry(() => api.add('send', job, outboundJobOptions(job)));
    };
    // Half before the failover, half while it happens.
    for (const id of ids.slice(0, total / 2)) await add(id);
    await eventually(() => calls > beforeFailover);
    const failover = forceSentinelFailover();
    for (const id of ids.slice(total / 2)) await add(id);
    const { from, to } = await failover;
    expect(from).not.toEqual(to);
    // Mid-burst by construction: the rest of the burst was held until now.
    expect(channel.sent).toHaveLength(beforeFailover);
    releaseSends();

    await eventually(async () => {
      const sent = await withTenant(db, tenantId, (tx) =>
        tx.message.count({ where: { id: { in: ids }, status: 'sent' } }),
      );
      return sent === total;
    }, 100);
    // Exactly once at the channel: one send per message, each under its own id.
    const perId = new Map<string, number>();
    for (const m of channel.sent) perId.set(m.providerMessageId!, (perId.get(m.providerMessageId!) ?? 0) + 1);
    expect(perId.size).toBe(total);
    expect([...perId.values()].every((n) => n === 1)).toBe(true);
    const events = await withTenant(db, tenantId, (tx) =>
      tx.messageStatusEvent.count({ where: { messageId: { in: ids }, status: 'sent' } }),
    );
    expect(events).toBe(total);

    // What a failover can lose (a write the old primary acknowledged and never replicated) is
    // found again: a message stored as queued whose job is gone is re-enqueued and sent.
    const orphan = await queueOutboundText(db, tenantId, sessionId, '491520009999', 'job lost');
    await eventually(
      async () =>
        (await withTenant(db, tenantId, (tx) => tx.message.findUniqueOrThrow({ where: { id: orphan } })))
          .status === 'sent',
    );
    expect(
      channel.sent.filter((m) => m.providerMessageId?.endsWith(orphan.replaceAll('-', '').toUpperCase())),
    ).toHaveLength(1);
  }, 90_000);
});
