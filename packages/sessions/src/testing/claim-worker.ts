// Test-only: a worker process that claims sessions as the real worker does, with a stand-in for
// the socket (holding a session *is* its socket here). It prints one JSON line per event, with
// the time it happened, so a test can check that no two processes held a session at once.
//
//   CLAIM_WORKER='{"redis":{...},"databaseUrl":"...","tenantId":"...","keyPrefix":"...","workerId":"w1","ttlMs":1500,"maxSessions":50}' \
//     node packages/sessions/src/testing/claim-worker.ts
import { createDb } from '@switchboard/db';
import { createRedis, type RedisTarget } from '@switchboard/redis';
import type { Redis } from 'ioredis';
import { SessionClaimer } from '../claimer.ts';
import { updateSessionState } from '../fence.ts';

interface ClaimWorkerConfig {
  redis: RedisTarget;
  databaseUrl: string;
  tenantId: string;
  keyPrefix: string;
  workerId: string;
  ttlMs: number;
  maxSessions: number;
}

const config = JSON.parse(process.env.CLAIM_WORKER ?? '') as ClaimWorkerConfig;
const say = (event: Record<string, unknown>) =>
  process.stdout.write(`${JSON.stringify({ at: Date.now(), worker: config.workerId, ...event })}\n`);

const redis = createRedis({ target: config.redis, role: 'command' }) as Redis;
const db = createDb({ databaseUrl: config.databaseUrl, maxConnections: 4 });
const claimer = new SessionClaimer({
  redis,
  db,
  tenantId: config.tenantId,
  keyPrefix: config.keyPrefix,
  workerId: config.workerId,
  leaseTtlMs: config.ttlMs,
  maxSessions: config.maxSessions,
  onAcquired: async (session) => {
    say({ event: 'acquired', session: session.sessionId, epoch: String(session.fence.epoch) });
    // What a real worker records once its socket is up; refused if someone claimed meanwhile.
    await updateSessionState(db, session.fence, { state: 'connecting' });
  },
  onReleased: async (session, reason) => {
    // The socket closes first (this line), then the worker records the session as disconnected:
    // a write that a newer owner's epoch must refuse.
    say({ event: 'released', session: session.sessionId, reason });
    let write = 'ok';
    try {
      await updateSessionState(db, session.fence, { state: 'disconnected', reason: `released: ${reason}` });
    } catch (error) {
      write = (error as { code?: string }).code === 'STALE_EPOCH' ? 'stale' : `error: ${String(error)}`;
    }
    say({ event: 'recorded', session: session.sessionId, reason, write });
  },
  onError: (error) => say({ event: 'error', message: String(error) }),
});

process.once('SIGTERM', () => {
  void claimer.stop().then(async () => {
    say({ event: 'stopped' });
    redis.disconnect();
    await db.$disconnect();
    process.exit(0);
  });
});

claimer.start();
say({ event: 'started' });
