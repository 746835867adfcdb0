// The API process of the realtime benchmark, apart from the clients so its memory is its own:
// the real buildApp (auth, the realtime hub) on loopback, over the bench's Postgres and Redis.
// Started by run.ts with an IPC channel and --expose-gc; it sends { port } once listening and
// answers { type: 'stats' } with its memory (after a full GC) and the hub's counts.
//
//   node --expose-gc bench/realtime/api-process.ts <databaseUrl> <redisHost> <redisPort> <slug> <jwtKey>
import type { AddressInfo } from 'node:net';
import { createDb } from '@switchboard/db';
import { createLogger, MetricsRegistry } from '@switchboard/telemetry';
import { Redis } from 'ioredis';
import { buildApp } from '../../services/api/src/app.ts';

const [databaseUrl, redisHost, redisPort, slug, jwtSigningKey] = process.argv.slice(2);
if (!databaseUrl || !redisHost || !redisPort || !slug || !jwtSigningKey)
  throw new Error('usage: api-process.ts <databaseUrl> <redisHost> <redisPort> <slug> <jwtKey>');

const db = createDb({ databaseUrl, maxConnections: 10, applicationName: 'bench-realtime' });
// The production client's settings (fail fast; createRedis in server.ts).
const redis = new Redis({
  host: redisHost,
  port: Number(redisPort),
  maxRetriesPerRequest: 1,
  enableOfflineQueue: false,
});
await new Promise<void>((resolve) => redis.once('ready', () => resolve()));
// The hub's delivery lag histogram: append -> written to every stream, on the API's side.
const metrics = new MetricsRegistry({ service: 'bench-realtime', collectDefaultMetrics: false });
const app = await buildApp({
  metrics,
  db,
  redis,
  tenant: { slug, displayName: 'Bench' },
  jwtSigningKey,
  accessTokenTtlMs: 6 * 3_600_000,
  rateLimitPerMinute: 1_000_000,
  inboxDir: null,
  // The realtime defaults: 16 streams per principal, a 30 s re-check, 256 KiB per stream.
  logger: createLogger({ name: 'bench-realtime', level: 'error', destination: process.stderr }),
});
await app.listen({ host: '127.0.0.1', port: 0 });
const { port } = app.server.address() as AddressInfo;
const gc = (globalThis as { gc?: () => void }).gc;

/** The delivery lag histogram's cumulative bucket counts, by upper bound (seconds). */
async function lagBuckets(): Promise<[number, number][]> {
  const metric = metrics.registry.getSingleMetric('switchboard_api_realtime_delivery_lag_seconds');
  const values = (await metric?.get())?.values ?? [];
  return values
    .filter((v) => (v as { metricName?: string }).metricName?.endsWith('_bucket'))
    .map((v) => [v.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(v.labels.le), v.value]);
}

process.on('message', async (message: { type: string }) => {
  if (message.type === 'stats') {
    // CPU read on both sides of the collections this request forces, so a window between two
    // requests (from one's cpuAfterGc to the next one's cpuMicros) does not count them.
    const cpu = process.cpuUsage();
    gc?.();
    gc?.();
    const memory = process.memoryUsage();
    const cpuAfter = process.cpuUsage();
    process.send?.({
      type: 'stats',
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      external: memory.external,
      cpuMicros: cpu.user + cpu.system,
      cpuAfterGcMicros: cpuAfter.user + cpuAfter.system,
      ...app.realtime.stats(),
      lag: await lagBuckets(),
    });
  } else if (message.type === 'stop') {
    void app.close().then(async () => {
      redis.disconnect();
      await db.$disconnect();
      process.exit(0);
    });
  }
});
process.send?.({ type: 'listening', port });
