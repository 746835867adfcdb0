// History on pairing, seen by the worker's automations: an imported message (InboundMessage.history)
// announces no `message.created`, so the away replier reading the realtime stream leaves it alone,
// while a live message stored after it, on the same stream, is answered. Real Postgres, Redis, BullMQ.
import { type Db, withTenant } from '@switchboard/db';
import { OutboxRelay, storeInbound } from '@switchboard/messaging';
import {
  createTestDatabase,
  deleteKeysWithPrefix,
  redisOptions,
  type TestDatabase,
  uniquePrefix,
} from '@switchboard/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, inboundMessage } from '../../../packages/messaging/src/testing/fixtures.ts';
import { seedTenant } from '../../../packages/sessions/src/testing/tenant-fixture.ts';
import { AwayReplier } from './away-replies.ts';

let database: TestDatabase;
let db: Db;
let tenantId: string;
let sessionId: string;
let redis: Redis;
const keyPrefix = `${uniquePrefix('history')}:`;
const closers: (() => Promise<void>)[] = [];
const AWAY = 'Closed on Sundays.';

beforeAll(async () => {
  database = await createTestDatabase({ label: 'worker-history-import' });
  const seeded = await seedTenant(database, 1);
  ({ db, tenantId } = seeded);
  sessionId = seeded.sessionIds[0]!;
  redis = new Redis({ ...redisOptions(), maxRetriesPerRequest: null });
  await withTenant(db, tenantId, (tx) =>
    tx.businessHours.create({
      data: {
        tenantId,
        enabled: true,
        timeZone: 'UTC',
        schedule: [{ day: 'mon', open: '09:00', close: '17:00' }],
        awayMessage: AWAY,
        awayWindowMinutes: 720,
      },
    }),
  );
});

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await deleteKeysWithPrefix(redis, keyPrefix);
  redis?.disconnect();
  await db?.$disconnect();
  await database?.drop();
});

async function outboundTo(pn: string) {
  return await withTenant(db, tenantId, async (tx) => {
    const identity = await tx.contactIdentity.findFirstOrThrow({ where: { kind: 'pn', value: pn } });
    return await tx.message.findMany({
      where: { direction: 'outbound', conversation: { contactId: identity.contactId } },
    });
  });
}

describe('imported history and the away reply', () => {
  it('answers the live message and not the imported one before it on the stream', async () => {
    const name = `${keyPrefix.replaceAll(':', '-')}stream`;
    const stream = new Redis({ ...redisOptions(), connectionName: name });
    const replier = new AwayReplier({
      db,
      redis,
      tenantId,
      keyPrefix,
      streamConnection: stream,
      now: () => new Date('2026-03-29T10:00:00Z'), // a Sunday: closed
    });
    closers.push(() => replier.close());
    replier.start();
    await eventually(async () => {
      const clients = (await redis.client('LIST')) as string;
      return clients.split('\n').some((line) => line.includes(`name=${name} `) && line.includes('cmd=xread'));
    });
    const relay = new OutboxRelay({ db, redis, tenantId, keyPrefix });
    closers.push(() => relay.close());

    const imported = await storeInbound(
      db,
      tenantId,
      inboundMessage(sessionId, 'HIST-1', { pn: '4915400000001' }, undefined, {
        timestamp: new Date('2026-03-28T20:00:00Z'),
        live: false,
        history: true,
      }),
    );
    expect(imported.outcome).toBe('created');
    await relay.drain({ graceMs: 0 });
    const live = await storeInbound(
      db,
      tenantId,
      inboundMessage(sessionId, 'LIVE-1', { pn: '4915400000002' }),
    );
    expect(live.outcome).toBe('created');
    await relay.drain({ graceMs: 0 });

    // The reader handles the stream in order: once the live message is answered, the imported
    // message's events (before it) have been read too.
    await eventually(async () => (await outboundTo('4915400000002')).length === 1);
    expect((await outboundTo('4915400000002'))[0]!.body).toBe(AWAY);
    expect(await outboundTo('4915400000001')).toEqual([]);
    const awayRows = await withTenant(db, tenantId, (tx) => tx.awayReply.count());
    expect(awayRows).toBe(1);
  });
});
