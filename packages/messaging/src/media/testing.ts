/**
 * Test-only: a real S3 API on loopback (moto's server, installed by `make install` through
 * scripts/toolchain.sh and named by SWITCHBOARD_MOTO_SERVER), one per test file, and a sampler of
 * the process's memory (the streaming tests and bench/media). Not exported from the package index.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { freePort, waitForPort } from '@switchboard/testing';

/** A running moto server. */
export interface MotoS3 {
  /** `http://127.0.0.1:<port>`: the S3 endpoint (path-style). */
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** A client on the endpoint (for creating buckets and looking at objects directly). */
  client: S3Client;
  /** Creates a bucket. */
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** Starts `$SWITCHBOARD_MOTO_SERVER -H 127.0.0.1 -p <free port>`; fails (never skips) when it is not installed. */
export async function startMotoS3(): Promise<MotoS3> {
  const server = process.env.SWITCHBOARD_MOTO_SERVER;
  if (!server)
    throw new Error(
      'SWITCHBOARD_MOTO_SERVER is not set: run `make install` (scripts/toolchain.sh installs moto and exports it)',
    );
  const port = await freePort();
  const child: ChildProcess = spawn(server, ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const spawnFailed = new Promise<never>((_, reject) =>
    child.once('error', (error) => reject(new Error(`could not start moto (${server}): ${error.message}`))),
  );
  try {
    await Promise.race([
      waitForPort(port, { timeoutMs: 30_000 }),
      spawnFailed,
      exited.then((code) => {
        throw new Error(`moto exited with ${code} before listening: ${output.slice(-2000)}`);
      }),
    ]);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  const endpoint = `http://127.0.0.1:${port}`;
  const region = 'us-east-1';
  // moto accepts any credentials; static ones keep the SDK away from the default chain.
  const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };
  const client = new S3Client({ endpoint, region, forcePathStyle: true, credentials });
  return {
    endpoint,
    region,
    credentials,
    client,
    async createBucket(name) {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    async stop() {
      client.destroy();
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** What {@link sampleMemory} saw: peaks and the baseline taken when it started, in bytes. */
export interface MemorySamples {
  samples: number;
  /** `heapUsed + arrayBuffers` right after a full GC, when sampling started. */
  baselineLive: number;
  /** The largest `heapUsed + arrayBuffers` after a full GC: what the process held, not its garbage. */
  peakLive: number;
  baselineRss: number;
  peakRss: number;
}

/** A probe of what this process holds: {@link MemoryProbe.sample} on demand, peaks in `result`. */
export interface MemoryProbe {
  /** Runs a full GC, then records `heapUsed + arrayBuffers` and RSS. */
  sample(): void;
  readonly result: MemorySamples;
}

/**
 * A memory probe whose baseline is taken now. Each sample first runs a full GC (exposed at run
 * time with `--expose-gc`), so it measures what is held (a file buffered whole shows; chunks
 * already written do not) instead of when V8 happened to collect. Buffers are counted by
 * `arrayBuffers`, outside the JS heap.
 */
export function memoryProbe(): MemoryProbe {
  setFlagsFromString('--expose-gc');
  // Dead buffers are otherwise freed by a background sweeper after the GC returns, and a sample
  // taken before it finished would count them.
  setFlagsFromString('--no-concurrent-array-buffer-sweeping');
  const gc = runInNewContext('gc') as () => void;
  const live = () => {
    gc();
    const usage = process.memoryUsage();
    return { live: usage.heapUsed + usage.arrayBuffers, rss: usage.rss };
  };
  const first = live();
  const result: MemorySamples = {
    samples: 0,
    baselineLive: first.live,
    peakLive: first.live,
    baselineRss: first.rss,
    peakRss: first.rss,
  };
  return {
    result,
    sample() {
      const now = live();
      result.samples += 1;
      result.peakLive = Math.max(result.peakLive, now.live);
      result.peakRss = Math.max(result.peakRss, now.rss);
    },
  };
}

/**
 * Samples with a {@link memoryProbe} at least `intervalMs` apart until `stop()`. A full GC of a
 * large heap on a loaded machine takes hundreds of milliseconds: the next sample waits at least
 * twice as long as the last one took, so the work measured keeps two thirds of the time (a
 * database transaction in it must not time out).
 */
export function sampleMemory(intervalMs: number): { stop(): MemorySamples } {
  const probe = memoryProbe();
  let timer: NodeJS.Timeout | undefined;
  const take = () => {
    const started = performance.now();
    probe.sample();
    timer = setTimeout(take, Math.max(intervalMs, 2 * (performance.now() - started)));
  };
  timer = setTimeout(take, intervalMs);
  return {
    stop() {
      clearTimeout(timer);
      timer = undefined;
      return probe.result;
    },
  };
}
