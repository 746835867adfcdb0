// Run by run.ts in a fresh process: heap per idle held session. A claimer holds every session,
// each with a Baileys channel on a stand-in socket (Baileys' own event buffer, auth state and
// creds in memory; only the network is not real), connected and waiting. Prints JSON.
import { BaileysChannel } from '@switchboard/channels';
import { BaileysStandIn } from '@switchboard/channels/baileys/testing';
import { createDb } from '@switchboard/db';
import { Redis } from 'ioredis';
import { type OwnedSession, SessionClaimer } from '../../packages/sessions/src/claimer.ts';
import { eventually } from '../../packages/sessions/src/testing/worker-fleet.ts';

const config = JSON.parse(process.env.BENCH_MEMORY ?? '') as {
  redis: { host: string; port: number };
  databaseUrl: string;
  tenantId: string;
  sessions: number;
};
if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc');
const db = createDb({ databaseUrl: config.databaseUrl, maxConnections: 8 });
const memoryRedis = new Redis(config.redis);
const channels = new Map<string, BaileysChannel>();
const standIns: BaileysStandIn[] = [];
const keyPrefix = `benchmem${Date.now()}:`;
const claimer = new SessionClaimer({
  redis: memoryRedis,
  db,
  tenantId: config.tenantId,
  keyPrefix,
  workerId: 'mem',
  leaseTtlMs: 60_000,
  maxSessions: config.sessions,
  onAcquired: async (s: OwnedSession) => {
    const standIn = new BaileysStandIn();
    standIns.push(standIn);
    const channel = await BaileysChannel.create({
      sessionId: s.sessionId,
      redis: memoryRedis,
      keyPrefix,
      epoch: s.fence.epoch,
      socketFactory: standIn.factory,
    });
    channels.set(s.sessionId, channel);
    await channel.connect();
  },
  onReleased: async (s: OwnedSession) => {
    await channels.get(s.sessionId)?.disconnect();
    channels.delete(s.sessionId);
  },
});

// Several full collections with a turn of the event loop between them.
const settle = async () => {
  for (let i = 0; i < 4; i++) {
    globalThis.gc?.();
    await new Promise((r) => setTimeout(r, 50));
  }
};
// Warm up the code paths (module loading, JIT) with the announcing round first.
await claimer.round();
await settle();
const before = process.memoryUsage().heapUsed;
await claimer.round();
await eventually(
  'every socket made',
  () => standIns.length > 0 && standIns.every((x) => x.sockets.length > 0),
  30_000,
);
await settle();
const after = process.memoryUsage().heapUsed;
const held = claimer.owned().length;
await claimer.stop();
memoryRedis.disconnect();
await db.$disconnect();
process.stdout.write(
  `${JSON.stringify({ held, bytesPerSession: held > 0 ? Math.round((after - before) / held) : 0 })}\n`,
);
