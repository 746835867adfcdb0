// Inbound media downloads: a large WhatsApp Web file through the worker's real path, against a
// raw stream pipe of the same bytes, in the same run, each measured in a fresh process
// (bench/media/case.ts): throughput and peak memory growth.
//
//   node bench/media/run.ts [--mib 48] [--repeats 3]
//
// Starts its own Postgres and Redis on loopback, a migrated tenant database, and WhatsApp's media
// server played by a local HTTP server (packages/channels/src/baileys/testing/media-server.ts)
// serving real ciphertext from a file on disk. Each repeat runs every case twice, in an order
// that rotates: once sampling RSS (the time is taken from this run) and once sampling what is held
// after a full GC (slower, so its time is not reported).
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDb, ensureTenant, withTenant } from '@switchboard/db';
import { InboundPipeline } from '@switchboard/messaging';
import { Redis } from 'ioredis';
import {
  customerImageMessage,
  encryptMediaFile,
  jpegOf,
  removeEncryptedMedia,
  startMediaServer,
} from '../../packages/channels/src/baileys/testing/media-server.ts';
import {
  createBenchDatabase,
  integerOptions,
  killServersOnSigint,
  median,
  startPostgres,
  startRedis,
} from '../support/services.ts';
import type { CaseInput, CaseResult } from './case.ts';

const { mib: MIB, repeats: REPEATS } = integerOptions({ mib: 48, repeats: 3 });
const KINDS = ['raw', 'worker', 'buffered'] as const;
const print = (line: string) => process.stdout.write(`${line}\n`);
const progress = (line: string) => process.stderr.write(`${line}\n`);

/** Runs case.ts in a fresh Node process; answers what it printed. */
function runCase(input: CaseInput): Promise<CaseResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [new URL('./case.ts', import.meta.url).pathname, JSON.stringify(input)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`case ${input.kind}/${input.sampling} exited with ${code}`));
      else resolve(JSON.parse(out.trim().split('\n').pop()!) as CaseResult);
    });
  });
}

killServersOnSigint();

const [postgres, redisServer] = await Promise.all([startPostgres(), startRedis()]);
const dir = await mkdtemp(join(tmpdir(), 'bench-media-'));
const server = await startMediaServer();
try {
  const urls = await createBenchDatabase(postgres);
  const db = createDb({ databaseUrl: urls.appUrl, maxConnections: 4 });
  const redis = new Redis({ host: redisServer.host, port: redisServer.port });
  const tenantId = await ensureTenant(db, { slug: 'bench', displayName: 'Bench' });
  const keyPrefix = 'sb:bench:';
  const session = await withTenant(db, tenantId, (tx) =>
    tx.session.create({ data: { tenantId, name: 'bench', channel: 'baileys' } }),
  );
  const inbound = new InboundPipeline({ db, redis, tenantId, keyPrefix });
  progress(`encrypting a ${MIB} MiB file...`);
  const big = await encryptMediaFile(jpegOf(MIB * 1024 * 1024));
  const warm = await encryptMediaFile(jpegOf(256 * 1024));
  const bigPath = server.serve(big.encFilePath);
  const warmPath = server.serve(warm.encFilePath);

  /** A fresh inbound message for `file` (a stored one is not downloaded again). */
  const message = async (file: typeof big, path: string) => {
    const reference = server.reference(path, file);
    const result = await inbound.handleMessage(
      customerImageMessage({ sessionId: session.id, file, reference, idPrefix: 'BENCH' }),
    );
    if (result.outcome !== 'created') throw new Error(`expected a new message, got ${result.outcome}`);
    return { messageId: result.messageId, reference, path };
  };

  const results: CaseResult[] = [];
  for (let repeat = 0; repeat < REPEATS; repeat++) {
    const order = KINDS.map((_, i) => KINDS[(i + repeat) % KINDS.length]!);
    for (const sampling of ['rss', 'live'] as const) {
      for (const kind of order) {
        const caseDir = await mkdtemp(join(dir, `${kind}-`));
        const result = await runCase({
          kind,
          sampling,
          appUrl: urls.appUrl,
          tenantId,
          sessionId: session.id,
          keyPrefix,
          origin: server.origin,
          dir: caseDir,
          warm: await message(warm, warmPath),
          big: await message(big, bigPath),
        });
        if (result.bytes < MIB * 1024 * 1024) throw new Error(`${kind} wrote ${result.bytes} bytes`);
        results.push(result);
        progress(
          `repeat ${repeat + 1}/${REPEATS} ${kind} (${sampling}): ${result.ms.toFixed(0)} ms, +${(result.peakGrowth / 2 ** 20).toFixed(1)} MiB`,
        );
        await rm(caseDir, { recursive: true, force: true });
      }
    }
  }

  const pick = (kind: string, sampling: string) =>
    results.filter((r) => r.kind === kind && r.sampling === sampling);
  const rows = KINDS.map((kind) => {
    const timed = pick(kind, 'rss');
    const ms = median(timed.map((r) => r.ms));
    return {
      kind,
      ms,
      cpuMs: median(timed.map((r) => r.cpuMs)),
      mibPerSecond: MIB / (ms / 1000),
      peakRssGrowthMiB: median(timed.map((r) => r.peakGrowth)) / 2 ** 20,
      peakLiveGrowthMiB: median(pick(kind, 'live').map((r) => r.peakGrowth)) / 2 ** 20,
      maxLiveGrowthMiB: Math.max(...pick(kind, 'live').map((r) => r.peakGrowth)) / 2 ** 20,
    };
  });
  const raw = rows.find((r) => r.kind === 'raw')!;
  print(`\n${MIB} MiB WhatsApp Web file, median of ${REPEATS} (each case in a fresh process)\n`);
  print(
    '| case | wall ms | MiB/s | wall vs raw pipe | CPU ms | CPU vs raw pipe | peak RSS growth | held after GC: median / max |',
  );
  print('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows)
    print(
      `| ${r.kind} | ${r.ms.toFixed(0)} | ${r.mibPerSecond.toFixed(1)} | ${(r.ms / raw.ms).toFixed(2)}x | ${r.cpuMs.toFixed(0)} | ${(r.cpuMs / raw.cpuMs).toFixed(2)}x | ${r.peakRssGrowthMiB.toFixed(1)} MiB | ${r.peakLiveGrowthMiB.toFixed(1)} / ${r.maxLiveGrowthMiB.toFixed(1)} MiB |`,
    );
  await writeFile(
    new URL('./results.json', import.meta.url),
    `${JSON.stringify({ mib: MIB, repeats: REPEATS, rows, runs: results }, null, 2)}\n`,
  );
  await inbound.close();
  redis.disconnect();
  await db.$disconnect();
  await removeEncryptedMedia(big);
  await removeEncryptedMedia(warm);
} finally {
  await server.close();
  await rm(dir, { recursive: true, force: true });
  await Promise.allSettled([postgres.stop(), redisServer.stop()]);
}
