// The `session.state_changed` webhook event is recorded by the state write itself (the runtime's
// writeState passes recordSessionStateEvent to updateSessionState): a write under the current
// epoch records one delivery per selecting subscription with its outbox row; a stale write (a
// newer owner) records nothing. Real Postgres.
import { type Db, withTenant } from '@switchboard/db';
import { StaleEpochError, updateSessionState } from '@switchboard/sessions';
import { createTestDatabase, type TestDatabase } from '@switchboard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedTenant } from '../../../packages/sessions/src/testing/tenant-fixture.ts';
import { recordSessionStateEvent } from './session-events.ts';

let database: TestDatabase;
let db: Db;
let tenantId: string;
let sessionId: string;

beforeAll(async () => {
  database = await createTestDatabase({ label: 'worker-session-events' });
  const seeded = await seedTenant(database, 1);
  ({ db, tenantId } = seeded);
  sessionId = seeded.sessionIds[0]!;
  await withTenant(db, tenantId, async (tx) => {
    await tx.session.update({ where: { id: sessionId }, data: { epoch: 3n } });
    await tx.webhookSubscription.create({
      data: { tenantId, url: 'https://a.example/s', events: ['session.state_changed'], secretRef: 's' },
    });
    await tx.webhookSubscription.create({
      data: { tenantId, url: 'https://a.example/m', events: ['message.received'], secretRef: 's' },
    });
  });
});

afterAll(async () => {
  await db?.$disconnect();
  await database?.drop();
});

describe('session.state_changed', () => {
  it('is recorded with the state under the current epoch, and not at all for a stale write', async () => {
    const write = (epoch: bigint, update: Parameters<typeof recordSessionStateEvent>[2]) => {
      const fence = { tenantId, sessionId, epoch };
      const outboxIds: string[] = [];
      return updateSessionState(db, fence, update, async (tx) =>
        outboxIds.push(...(await recordSessionStateEvent(tx, fence, update))),
      ).then(() => outboxIds);
    };
    const ids = await write(3n, { state: 'connected', phoneNumber: '4915100000009' });
    expect(ids).toHaveLength(1);
    await expect(write(2n, { state: 'logged_out', reason: 'loggedOut' })).rejects.toBeInstanceOf(
      StaleEpochError,
    );
    const { deliveries, outbox } = await withTenant(db, tenantId, async (tx) => ({
      deliveries: await tx.webhookDelivery.findMany({ include: { subscription: true } }),
      outbox: await tx.outboxEntry.findMany(),
    }));
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]!.subscription.url).toBe('https://a.example/s');
    expect(deliveries[0]!.payload).toMatchObject({
      type: 'session.state_changed',
      data: { sessionId, state: 'connected', phoneNumber: '4915100000009' },
    });
    expect(outbox.map((row) => row.id)).toEqual(ids);
    expect(outbox[0]!.payload).toEqual({ deliveryIds: [deliveries[0]!.id] });
  });
});
