import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { tail } from '@switchboard/envtest';

/**
 * The cluster's daemons outlive the command that started them (`make cluster-up` returns), so
 * each runs in its own session (detached) with its output in <dir>/logs/<name>.log and its pid
 * in <dir>/run/<name>.pid; cluster-down and restarts find them there.
 */
export interface DaemonSpec {
  name: string;
  binary: string;
  args: string[];
  env?: Readonly<Record<string, string | undefined>>;
}

export function logPath(dir: string, name: string): string {
  return join(dir, 'logs', `${name}.log`);
}

function pidPath(dir: string, name: string): string {
  return join(dir, 'run', `${name}.pid`);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// The pid file holds "<pid> <start time>": a recycled pid (another process that got the same
// number after ours exited) has a different start time in /proc/<pid>/stat.
async function startTime(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (!stat) return undefined;
  // Field 22 (starttime); the command name (field 2) may contain spaces, so count after ')'.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

/** The pid of a daemon that is running now, or undefined. */
export async function runningPid(dir: string, name: string): Promise<number | undefined> {
  const text = await readFile(pidPath(dir, name), 'utf8').catch(() => undefined);
  if (!text) return undefined;
  const [pidText, started] = text.trim().split(' ');
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
  if (started && (await startTime(pid)) !== started) return undefined;
  return pid;
}

/** Starts a daemon in its own session; returns its pid. */
export async function startDaemon(dir: string, spec: DaemonSpec): Promise<number> {
  await mkdir(join(dir, 'logs'), { recursive: true });
  await mkdir(join(dir, 'run'), { recursive: true });
  const log = openSync(logPath(dir, spec.name), 'a');
  let pid: number | undefined;
  try {
    const child = spawn(spec.binary, spec.args, {
      stdio: ['ignore', log, log],
      detached: true,
      env: (spec.env ?? process.env) as NodeJS.ProcessEnv,
    });
    pid = child.pid;
    child.unref();
    if (pid === undefined) {
      await new Promise((resolve) => child.once('error', resolve));
      throw new Error(`could not start ${spec.binary}`);
    }
  } finally {
    closeSync(log);
  }
  await writeFile(pidPath(dir, spec.name), `${pid} ${(await startTime(pid)) ?? ''}\n`);
  return pid;
}

/** SIGTERM, then SIGKILL after `graceMs`; waits until the process is gone. */
export async function stopDaemon(dir: string, name: string, graceMs = 10_000): Promise<boolean> {
  const pid = await runningPid(dir, name);
  if (pid === undefined) {
    await rm(pidPath(dir, name), { force: true });
    return false;
  }
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(100);
  if (isAlive(pid)) {
    process.kill(pid, 'SIGKILL');
    const hard = Date.now() + 5000;
    while (isAlive(pid) && Date.now() < hard) await sleep(50);
  }
  await rm(pidPath(dir, name), { force: true });
  return true;
}

export async function logTail(dir: string, name: string, max = 3000): Promise<string> {
  return tail(await readFile(logPath(dir, name), 'utf8').catch(() => ''), max);
}
