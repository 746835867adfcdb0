// Several worker processes against the real Redis and Postgres: fair shares, hand-over on
// SIGTERM, re-claim after kill -9, and a frozen worker (SIGSTOP past its TTL) whose late writes
// are refused. "Holding" a session stands for holding its socket (claim-worker.ts).
import type { Db } from '@switchboard/db';
import { createTestDatabase, redisOptions, type TestDatabase, uniquePrefix } from '@switchboard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedTenant } from './testing/tenant-fixture.ts';
import { eventually, WorkerFleet } from './testing/worker-fleet.ts';

const TTL = 1500;
const SESSIONS = 30;
let database: TestDatabase;
let db: Db;
let fleet: WorkerFleet;
let sessionIds: string[];

const sizes = () => [...fleet.holdings().entries()].map(([w, s]) => `${w}=${s.size}`).sort();
const held = (worker: string) => fleet.holdings().get(worker)?.size ?? 0;

beforeAll(async () => {
  database = await createTestDatabase({ label: 'claim-processes' });
  const seeded = await seedTenant(database, SESSIONS);
  db = seeded.db;
  sessionIds = seeded.sessionIds;
  fleet = new WorkerFleet({
    redis: { mode: 'standalone', ...redisOptions() },
    databaseUrl: database.appUrl,
    tenantId: seeded.tenantId,
    keyPrefix: `${uniquePrefix('claim')}:`,
    ttlMs: TTL,
    maxSessions: 50,
  });
});

afterAll(async () => {
  await fleet?.stopAll();
  await db?.$disconnect();
  await database?.drop();
});

describe('three workers and thirty sessions', () => {
  it('split the sessions ten each', async () => {
    await Promise.all(['a', 'b', 'c'].map((id) => fleet.start(id)));
    await eventually('10 each', () => sizes().join() === 'a=10,b=10,c=10', 15_000);
    const all = new Set([...fleet.holdings().values()].flatMap((s) => [...s]));
    expect(all).toEqual(new Set(sessionIds));
  });

  it('hand over at once on SIGTERM: the others own everything well inside one TTL', async () => {
    // What c holds now (10 unless a busy machine made it miss a renewal since the last check).
    const heldByC = [...(fleet.holdings().get('c') ?? [])].sort();
    expect(heldByC.length).toBeGreaterThan(0);
    const before = Date.now();
    fleet.signal('c', 'SIGTERM');
    await fleet.exited('c');
    const took = await eventually('a and b own all 30', () => held('a') + held('b') === SESSIONS, 10_000);
    expect(Date.now() - before).toBeLessThan(TTL);
    expect(took).toBeLessThan(TTL);
    // Its own writes went through: it was still the owner when it recorded the hand-over.
    const recorded = fleet.events.filter(
      (e) => e.worker === 'c' && e.event === 'recorded' && e.reason === 'shutdown',
    );
    expect(recorded.map((e) => e.session).sort()).toEqual(heldByC);
    expect(recorded.every((e) => e.write === 'ok')).toBe(true);
  });

  it('give a new worker its share', async () => {
    await fleet.start('d');
    await eventually('10 each again', () => sizes().join() === 'a=10,b=10,d=10', 15_000);
  });

  it("re-claim a kill -9'd worker's sessions within the TTL plus one renewal", async () => {
    const killedAt = Date.now();
    fleet.signal('a', 'SIGKILL');
    await eventually('b and d own all 30', () => held('b') + held('d') === SESSIONS, 10_000);
    // TTL for the leases to expire, one renewal interval for the next round, plus slack for 2 busy cores.
    expect(Date.now() - killedAt).toBeLessThan(TTL + TTL / 3 + 1500);
  });

  it('refuse the late writes of a worker frozen past its TTL, which closes its sockets when it wakes', async () => {
    const frozen = [...(fleet.holdings().get('b') ?? [])];
    expect(frozen.length).toBeGreaterThan(0);
    const frozenAt = Date.now();
    fleet.signal('b', 'SIGSTOP');
    await eventually(
      'd to own all 30',
      () => {
        const d = fleet.holdings().get('d');
        return d !== undefined && frozen.every((s) => d.has(s));
      },
      10_000,
    );
    fleet.signal('b', 'SIGCONT');
    const wokeAt = Date.now();
    await eventually('b to let go of every session', () => held('b') === 0, 5_000);
    await eventually(
      'b to try recording each',
      () =>
        fleet.events.filter((e) => e.worker === 'b' && e.event === 'recorded' && e.at >= wokeAt).length ===
        frozen.length,
      5_000,
    );
    const late = fleet.events.filter((e) => e.worker === 'b' && e.event === 'recorded' && e.at >= wokeAt);
    expect(late.map((e) => e.write)).toEqual(frozen.map(() => 'stale'));
    expect(late.every((e) => e.reason === 'deadline' || e.reason === 'lost')).toBe(true);

    // Outside the freeze no session ever had two holders.
    expect(fleet.overlaps([{ worker: 'b', from: frozenAt, to: Date.now() }])).toEqual([]);
  });
});
