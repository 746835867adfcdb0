import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, redisOptions } from '@switchboard/testing';

/** Test-only: runs `server.ts` as the Deployment would, with the environment the operator sets. */

const SERVER = fileURLToPath(new URL('../server.ts', import.meta.url));

/** A started worker process. */
export interface WorkerProcess {
  child: ChildProcess;
  /** Everything it printed so far. */
  output: () => string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

/** Spawns the worker with exactly `env` (and PATH). */
export function startWorkerProcess(env: Record<string, string>): WorkerProcess {
  const child = spawn(process.execPath, [SERVER], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** The environment of a worker of tenant `slug` on the run's Postgres and Redis; `sessions` is its sessions.json. */
export async function workerProcessEnv(options: {
  dir: string;
  slug: string;
  sessions: unknown[];
  databaseUrl: string;
}): Promise<Record<string, string>> {
  const { dir, slug, sessions, databaseUrl } = options;
  const sessionsFile = join(dir, `${slug}.json`);
  await writeFile(sessionsFile, JSON.stringify(sessions));
  const { host, port } = redisOptions();
  return {
    SWITCHBOARD_TENANT: slug,
    SWITCHBOARD_DISPLAY_NAME: 'Server Test',
    SWITCHBOARD_SESSIONS_FILE: sessionsFile,
    POD_NAME: `${slug}-worker-0`,
    DATABASE_URL: databaseUrl,
    REDIS_MODE: 'standalone',
    REDIS_URL: `redis://${host}:${port}/0`,
    METRICS_HOST: '127.0.0.1',
    METRICS_PORT: String(await freePort()),
    SESSION_LEASE_TTL: '3s',
    MAX_SESSIONS_PER_WORKER: '10',
    OUTBOUND_TYPING_DELAY: 'false',
    // Loopback, port 9: refused at once, so Baileys sockets back off and retry.
    WHATSAPP_WEB_SOCKET_URL: 'ws://127.0.0.1:9/ws/chat',
    MEDIA_DIR: join(dir, 'media'),
    LOG_LEVEL: 'info',
  };
}

/** GET on the worker's probe port; status 0 when nothing answers. */
export async function probe(port: string, path: string): Promise<{ status: number; text: string }> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2000) });
    return { status: response.status, text: await response.text() };
  } catch {
    return { status: 0, text: '' };
  }
}
