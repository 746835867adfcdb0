/**
 * Test-only: a real S3 API on loopback (moto's server, installed by `make install` through
 * scripts/toolchain.sh and named by SWITCHBOARD_MOTO_SERVER), one per test file. Not exported
 * from the package index.
 */
import { type ChildProcess, spawn } from 'node:child_process';
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
