// Session claiming and failover, measured: 3 worker processes owning 300 sessions from cold,
// the time from kill -9 of a worker to all its sessions owned again, and the memory one idle
// held session costs in a worker. Baseline, measured in the same run: raw Redis SET NX.
//
//   node bench/sessions/run.ts [--sessions 300] [--workers 3] [--ttl-ms 3000] [--repeats 3]
//
// Starts its own Postgres and Redis on loopback and stops them at the end.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { seedTenant } from '../../packages/sessions/src/testing/tenant-fixture.ts';
import { eventually, WorkerFleet } from '../../packages/sessions/src/testing/worker-fleet.ts';
import {
  createBenchDatabase,
  integerOptions,
  killServersOnSigint,
  median,
  startPostgres,
  startRedis,
} from '../support/services.ts';

const {
  sessions: SESSIONS,
  workers: WORKERS,
  'ttl-ms': TTL,
  repeats: REPEATS,
} = integerOptions({ sessions: 300, workers: 3, 'ttl-ms': 3000, repeats: 3 });

killServersOnSigint();

const [postgres, redisServer] = await Promise.all([startPostgres(), startRedis()]);
try {
  const urls = await createBenchDatabase(postgres);
  const seeded = await seedTenant({ appUrl: urls.appUrl } as Parameters<typeof seedTenant>[0], SESSIONS);
  const redis = new Redis({ host: redisServer.host, port: redisServer.port });

  // Baseline: what Redis itself does for the same number of lease acquisitions.
  const baselineSequential: number[] = [];
  const baselinePipelined: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const tag = randomBytes(3).toString('hex');
    let started = performance.now();
    for (let i = 0; i < SESSIONS; i++) await redis.set(`base:${tag}:seq:${i}`, 'x', 'PX', TTL, 'NX');
    baselineSequential.push(performance.now() - started);
    started = performance.now();
    const pipeline = redis.pipeline();
    for (let i = 0; i < SESSIONS; i++) pipeline.set(`base:${tag}:pipe:${i}`, 'x', 'PX', TTL, 'NX');
    await pipeline.exec();
    baselinePipelined.push(performance.now() - started);
  }

  const cold: number[] = [];
  const coldAfterReady: number[] = [];
  const reclaim: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const fleet = new WorkerFleet({
      redis: { mode: 'standalone', host: redisServer.host, port: redisServer.port },
      databaseUrl: urls.appUrl,
      tenantId: seeded.tenantId,
      keyPrefix: `bench${r}:`,
      ttlMs: TTL,
      maxSessions: SESSIONS,
    });
    const ids = Array.from({ length: WORKERS }, (_, i) => `w${i}`);
    const total = () => [...fleet.holdings().values()].reduce((n, s) => n + s.size, 0);
    try {
      const startedAt = performance.now();
      await Promise.all(ids.map((id) => fleet.start(id)));
      const readyAt = performance.now();
      const share = Math.ceil(SESSIONS / WORKERS);
      await eventually(
        'every session owned, in fair shares',
        () => total() === SESSIONS && [...fleet.holdings().values()].every((s) => s.size <= share),
        120_000,
      );
      cold.push(performance.now() - startedAt);
      coldAfterReady.push(performance.now() - readyAt);

      const victim = ids[0]!;
      const lost = fleet.holdings().get(victim)?.size ?? 0;
      const killedAt = performance.now();
      fleet.signal(victim, 'SIGKILL');
      await eventually(`the ${lost} sessions of ${victim} owned again`, () => total() === SESSIONS, 120_000);
      reclaim.push(performance.now() - killedAt);
      if (fleet.overlaps().length > 0)
        throw new Error(`two holders: ${fleet.overlaps().slice(0, 3).join('; ')}`);
    } finally {
      await fleet.stopAll();
    }
  }

  // Memory per idle held session, measured in a fresh process (memory.ts) so nothing this
  // process did before skews the heap readings.
  const memory = await new Promise<{ held: number; bytesPerSession: number }>((resolve, reject) => {
    execFile(
      process.execPath,
      ['--expose-gc', fileURLToPath(new URL('./memory.ts', import.meta.url))],
      {
        env: {
          ...process.env,
          BENCH_MEMORY: JSON.stringify({
            redis: { host: redisServer.host, port: redisServer.port },
            databaseUrl: urls.appUrl,
            tenantId: seeded.tenantId,
            sessions: SESSIONS,
          }),
        },
      },
      (error, stdout, stderr) =>
        error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(JSON.parse(stdout)),
    );
  });
  const held = memory.held;

  const results = {
    date: new Date().toISOString(),
    sessions: SESSIONS,
    workers: WORKERS,
    ttlMs: TTL,
    repeats: REPEATS,
    coldClaimMs: median(cold),
    coldClaimAfterProcessesReadyMs: median(coldAfterReady),
    reclaimAfterKillMs: median(reclaim),
    baselineSetNxSequentialMs: median(baselineSequential),
    baselineSetNxPipelinedMs: median(baselinePipelined),
    heldInMemoryRun: held,
    heapBytesPerHeldSession: memory.bytesPerSession,
  };
  const ms = (x: number) => `${x.toFixed(0)} ms`;
  const print = (line: string) => process.stdout.write(`${line}\n`);
  print(
    `sessions benchmark: ${SESSIONS} sessions, ${WORKERS} workers, lease TTL ${TTL} ms, median of ${REPEATS}`,
  );
  print(`  cold claim, from spawning the workers        ${ms(results.coldClaimMs)}`);
  print(`  cold claim, from all workers running         ${ms(results.coldClaimAfterProcessesReadyMs)}`);
  print(
    `  kill -9 of one worker -> all sessions owned  ${ms(results.reclaimAfterKillMs)} (lower bound: TTL ${TTL} ms)`,
  );
  print(`  baseline: ${SESSIONS} raw SET NX, one by one   ${ms(results.baselineSetNxSequentialMs)}`);
  print(`  baseline: ${SESSIONS} raw SET NX, pipelined    ${ms(results.baselineSetNxPipelinedMs)}`);
  print(
    `  ratio: claim after ready / sequential SET NX  ${(results.coldClaimAfterProcessesReadyMs / results.baselineSetNxSequentialMs).toFixed(1)}x`,
  );
  print(
    `  heap per held idle session (claimer + Baileys channel on a stand-in socket) ${results.heapBytesPerHeldSession} bytes (${held} held)`,
  );
  await writeFile(new URL('./results.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`);
  redis.disconnect();
  await seeded.db.$disconnect();
} finally {
  await Promise.allSettled([postgres.stop(), redisServer.stop()]);
}
