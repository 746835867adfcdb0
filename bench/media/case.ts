// One measured download in a fresh process (spawned by run.ts), so its memory figures are this
// download's alone: the process warms up on a small file, then downloads the big one once and
// prints one JSON line on stdout.
//
//   node bench/media/case.ts '<json CaseInput>'
//
// Cases:
// - worker: the real path, MediaDownloadWorker.process with the Baileys fetcher (download, AES
//   decrypt, SHA-256 against fileSha256) and the worker's own checks streaming into
//   LocalMediaStorage (temp file + rename), then the row update.
// - buffered: the shape the worker had before streaming, on the same fetcher: every chunk kept,
//   Buffer.concat, SHA-256 of the whole, one writeFile.
// - raw: the baseline, a plain pipe of the HTTP body (the ciphertext: no decryption, no hash)
//   into a file.
//
// Memory is sampled one of two ways (`sampling`): `rss` reads process.memoryUsage.rss() every
// 5 ms (cheap; the run's time is measured then), `live` runs a full GC before each sample every
// 200 ms and reads heapUsed + arrayBuffers (what is held, not garbage; slows the run).
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { baileysMediaFetcher } from '@switchboard/channels';
import { createDb, withTenant } from '@switchboard/db';
import { LocalMediaStorage, MediaDownloadWorker } from '@switchboard/messaging';
import { Redis } from 'ioredis';
import { sampleMemory } from '../../packages/messaging/src/media/testing.ts';

/** What run.ts passes. */
export interface CaseInput {
  kind: 'worker' | 'buffered' | 'raw';
  sampling: 'rss' | 'live';
  appUrl: string;
  tenantId: string;
  sessionId: string;
  keyPrefix: string;
  origin: string;
  dir: string;
  /** The warm-up file and the measured one: the message row (worker), the reference (buffered), the path (raw). */
  warm: { messageId: string; reference: string; path: string };
  big: { messageId: string; reference: string; path: string };
}

/** What this prints. */
export interface CaseResult {
  kind: CaseInput['kind'];
  sampling: CaseInput['sampling'];
  ms: number;
  /** CPU time of this process during the download (user + system), ms: steadier than `ms` on a loaded machine. */
  cpuMs: number;
  bytes: number;
  /** Peak minus the baseline taken after the warm-up, bytes. */
  peakGrowth: number;
  samples: number;
}

const input = JSON.parse(process.argv[2] ?? '') as CaseInput;
const db = createDb({ databaseUrl: input.appUrl, maxConnections: 2 });
// Never connected: the worker publishes nothing here (publishRealtime false).
const redis = new Redis({ lazyConnect: true });
const fetcher = baileysMediaFetcher({ origin: input.origin });
const worker = new MediaDownloadWorker({
  db,
  connection: redis,
  keyPrefix: input.keyPrefix,
  storage: new LocalMediaStorage(join(input.dir, 'store')),
  maxBytes: 64 * 1024 * 1024,
  publishRealtime: false,
  fetchMedia: (ref, signal, context) => fetcher(ref, signal, context),
});

/** Downloads one file the case's way; answers the bytes written. */
async function run(file: CaseInput['big'], name: string): Promise<number> {
  if (input.kind === 'worker') {
    const outcome = await worker.process({
      id: `media-${file.messageId}`,
      data: { tenantId: input.tenantId, sessionId: input.sessionId, messageId: file.messageId },
    } as never);
    if (outcome !== 'stored') throw new Error(`worker answered ${outcome}`);
    const row = await withTenant(db, input.tenantId, (tx) =>
      tx.message.findUniqueOrThrow({ where: { id: file.messageId }, select: { mediaSizeBytes: true } }),
    );
    return Number(row.mediaSizeBytes ?? 0);
  }
  if (input.kind === 'buffered') {
    const stream = await fetcher(
      { provider: 'baileys', data: file.reference },
      AbortSignal.timeout(300_000),
      { sessionId: input.sessionId },
    );
    const chunks: Uint8Array[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const data = Buffer.concat(chunks);
    createHash('sha256').update(data).digest('hex');
    await writeFile(join(input.dir, name), data);
    return data.length;
  }
  const response = await fetch(`${input.origin}${file.path}`);
  if (!response.ok || !response.body) throw new Error(`raw download answered HTTP ${response.status}`);
  let bytes = 0;
  const body = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
  body.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
  });
  await pipeline(body, createWriteStream(join(input.dir, name)));
  return bytes;
}

// The warm-up: modules loaded, code compiled, the database connection open.
await run(input.warm, `warm-${input.kind}`);

let result: CaseResult;
if (input.sampling === 'rss') {
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  let samples = 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
    samples += 1;
  }, 5);
  const start = performance.now();
  const cpu = process.cpuUsage();
  const bytes = await run(input.big, `big-${input.kind}`);
  const used = process.cpuUsage(cpu);
  const ms = performance.now() - start;
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage.rss());
  const cpuMs = (used.user + used.system) / 1000;
  result = { kind: input.kind, sampling: 'rss', ms, cpuMs, bytes, peakGrowth: peak - baseline, samples };
} else {
  const sampler = sampleMemory(200);
  const start = performance.now();
  const bytes = await run(input.big, `big-${input.kind}`);
  const ms = performance.now() - start;
  const memory = sampler.stop();
  result = {
    kind: input.kind,
    sampling: 'live',
    ms,
    // The forced GCs' time is in it: not reported.
    cpuMs: Number.NaN,
    bytes,
    peakGrowth: memory.peakLive - memory.baselineLive,
    samples: memory.samples,
  };
}
await db.$disconnect();
redis.disconnect();
process.stdout.write(`${JSON.stringify(result)}\n`);
