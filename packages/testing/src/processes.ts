import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';

/** A server process started for tests; `stop()` ends it and waits until it has exited. */
export interface ServiceProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** The last lines the process printed, for error messages when it dies. */
  output(): string;
  stop(): Promise<void>;
}

/** Options for {@link startProcess}. */
export interface StartProcessOptions {
  name: string;
  command: string;
  args: readonly string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Directories that belong to the process (data, config); removed once it has exited. */
  tempDirs?: readonly string[];
  /** Run as this user and group (Postgres refuses to run as root). */
  uid?: number;
  gid?: number;
}

const running = new Map<ServiceProcess, readonly string[]>();

function removeDirs(dirs: readonly string[]): void {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}
let exitHooksInstalled = false;

/**
 * Kills every process this module started, synchronously. Runs on exit and on SIGINT/SIGTERM so
 * an interrupted or crashed test run leaves nothing listening. Children are spawned in the
 * runner's own process group too, so `kill -- -PGID` from scripts/check.sh reaches them as well.
 */
export function killAllSync(): void {
  for (const [service, dirs] of running) {
    try {
      process.kill(service.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    // A SIGKILLed server no longer writes, so its directories can go at once.
    removeDirs(dirs);
  }
  running.clear();
}

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.once('exit', killAllSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAllSync();
      process.kill(process.pid, signal);
    });
  }
}

/** Starts a long-running server process and tracks it so it is stopped however the run ends. */
export function startProcess(options: StartProcessOptions): ServiceProcess {
  installExitHooks();
  const child = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: false,
    ...(options.uid === undefined ? {} : { uid: options.uid }),
    ...(options.gid === undefined ? {} : { gid: options.gid }),
  });
  if (child.pid === undefined) throw new Error(`could not start ${options.name} (${options.command})`);
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    if (lines.length > 50) lines.splice(0, lines.length - 50);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const service: ServiceProcess = {
    name: options.name,
    pid: child.pid,
    child,
    output: () => lines.join('\n'),
    async stop() {
      running.delete(service);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      removeDirs(options.tempDirs ?? []);
    },
  };
  running.set(service, options.tempDirs ?? []);
  return service;
}
