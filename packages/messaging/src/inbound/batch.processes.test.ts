// kill -9 of a worker process while its inbound batch's transaction is open (its rows written,
// not committed), then the source delivering the events again: each message stored once, with
// its effects once, and nothing of the killed batch left behind.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type Db, withTenant } from '@switchboard/db';
import { createTestDatabase, redisNamespace, redisOptions, type TestDatabase } from '@switchboard/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REALTIME_EVENT_FIELD, realtimeStreamKey } from '../contracts.ts';
import { eventually, inboundMessage, seedTenant } from '../testing/fixtures.ts';
import { storeInbound } from './messages.ts';
import { InboundPipeline } from './pipeline.ts';

const script = fileURLToPath(new URL('./testing/inbound-worker.ts', import.meta.url));
let database: TestDatabase;
let db: Db;
let tenantId: string;
let sessionId: string;
let redis: Redis;
const namespace = redisNamespace('inbound-proc');
const keyPrefix = `${namespace.prefix}:`;
const children: ChildProcess[] = [];

beforeAll(async () => {
  database = await createTestDatabase({ label: 'messaging-inbound-proc' });
  const seeded = await seedTenant(database, 1);
  db = seeded.db;
  tenantId = seeded.tenantId;
  sessionId = seeded.sessionIds[0]!;
  redis = new Redis({ ...redisOptions(), maxRetriesPerRequest: null });
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  redis.disconnect();
  await namespace.cleanup();
  await db.$disconnect();
  await database.drop();
});

/** Backends of this database waiting on a lock inside the batch's message INSERT. */
async function blockedBatchInserts(): Promise<number> {
  const [row] = await db.$queryRaw<{ n: number }[]>`
    SELECT count(*)::int AS n FROM pg_stat_activity
     WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%INSERT INTO messages%'`;
  return row!.n;
}

describe('inbound group commit across a worker crash', () => {
  it('kill -9 mid-batch loses nothing and duplicates nothing once the events come again', {
    timeout: 60_000,
  }, async () => {
    const pn = '4915600000001';
    const ids = Array.from({ length: 10 }, (_, i) => `KILL-${i}`);
    // Another writer's uncommitted row with KILL-5's id (a conversation of another contact):
    // the batch's INSERT waits on it after its contacts and conversation rows were written.
    const other = await storeInbound(
      db,
      tenantId,
      inboundMessage(sessionId, 'KILL-OTHER', { pn: '4915600000002' }),
    );
    if (other.outcome !== 'created') throw new Error('expected the other conversation');
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let holding!: () => void;
    const held = new Promise<void>((resolve) => {
      holding = resolve;
    });
    const holder = withTenant(
      db,
      tenantId,
      async (tx) => {
        await tx.message.create({
          data: {
            tenantId,
            sessionId,
            conversationId: other.conversationId,
            direction: 'inbound',
            status: 'delivered',
            type: 'text',
            body: 'held',
            providerMessageId: 'KILL-5',
          },
        });
        holding();
        await released;
        throw new Error('rolled back on purpose');
      },
      { maxWait: 10_000, timeout: 50_000 },
    ).catch((error: unknown) => error);
    // Holding the row (or the holder failed before: its error).
    await Promise.race([held, holder.then((error) => Promise.reject(error))]);

    const child = spawn(process.execPath, [script], {
      env: {
        ...process.env,
        INBOUND_WORKER: JSON.stringify({
          redis: redisOptions(),
          databaseUrl: database.appUrl,
          tenantId,
          sessionId,
          keyPrefix,
          pn,
          ids,
        }),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
      child.once('exit', (code, signal) => resolve(signal ?? code)),
    );
    // The precondition, forced: the child's batch is inside its message INSERT, holding its
    // contact, conversation and message rows uncommitted.
    await eventually(async () => (await blockedBatchInserts()) > 0 || child.exitCode !== null);
    expect(child.exitCode, output).toBeNull();
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect(output).not.toContain('stored');
    release();
    expect(String(await holder)).toContain('rolled back on purpose');

    // Nothing of the batch was committed: no message, no contact, no conversation, no outbox row.
    const contact = async () =>
      await withTenant(db, tenantId, (tx) =>
        tx.contactIdentity.findFirst({ where: { kind: 'pn', value: pn } }),
      );
    await eventually(async () => (await blockedBatchInserts()) === 0);
    expect(
      await withTenant(db, tenantId, (tx) => tx.message.count({ where: { providerMessageId: { in: ids } } })),
    ).toBe(0);
    expect(await contact()).toBeNull();

    // The source delivers every event again (twice, as a redelivery may): each stored once.
    const pipeline = new InboundPipeline({ db, redis, tenantId, keyPrefix });
    try {
      const again = await Promise.all(
        [...ids, ...ids].map((id) => pipeline.handleMessage(inboundMessage(sessionId, id, { pn }))),
      );
      expect(again.filter((r) => r.outcome === 'created')).toHaveLength(10);
      expect(again.filter((r) => r.outcome === 'duplicate')).toHaveLength(10);
    } finally {
      await pipeline.close();
    }
    const rows = await withTenant(db, tenantId, (tx) =>
      tx.message.findMany({
        where: { providerMessageId: { in: ids } },
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
        include: { conversation: true },
      }),
    );
    expect(rows.map((r) => r.providerMessageId)).toEqual(ids);
    expect(rows[0]!.conversation.unreadCount).toBe(10);
    const entries = await redis.xrange(realtimeStreamKey(keyPrefix), '-', '+');
    const created = entries
      .map(([, fields]) => JSON.parse(fields[fields.indexOf(REALTIME_EVENT_FIELD) + 1]!))
      .filter((e) => e.type === 'message.created' && rows.some((r) => r.id === e.data.messageId));
    expect(created).toHaveLength(10);
    const outbox = await withTenant(db, tenantId, (tx) => tx.outboxEntry.findMany());
    expect(outbox.filter((r) => JSON.stringify(r.payload).includes(rows[0]!.conversationId))).toEqual([]);
  });
});
