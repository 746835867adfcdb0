import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { RedisTarget } from '@switchboard/redis';

/**
 * Test-only: runs claim-worker.ts processes and keeps, from their event lines, who held which
 * session over time. Holding intervals are closed by the worker's own `released` line, or by the
 * moment the test killed it (a SIGKILLed process's sockets die with it).
 */

const WORKER = fileURLToPath(new URL('./claim-worker.ts', import.meta.url));

/** One line a claim worker printed. */
export interface WorkerEvent {
  at: number;
  worker: string;
  event: 'started' | 'acquired' | 'released' | 'recorded' | 'stopped' | 'error';
  session?: string;
  reason?: string;
  write?: string;
  message?: string;
}

/** Settings shared by the fleet's workers. */
export interface FleetOptions {
  redis: RedisTarget;
  databaseUrl: string;
  tenantId: string;
  keyPrefix: string;
  ttlMs: number;
  maxSessions: number;
}

interface Interval {
  worker: string;
  session: string;
  from: number;
  to: number | undefined;
}

/** The workers and what they reported. */
export class WorkerFleet {
  readonly events: WorkerEvent[] = [];
  private readonly processes = new Map<string, ChildProcess>();
  private readonly intervals: Interval[] = [];
  private readonly options: FleetOptions;

  constructor(options: FleetOptions) {
    this.options = options;
  }

  /** Starts a worker and resolves once it is running. */
  async start(workerId: string): Promise<void> {
    const child = spawn(process.execPath, [WORKER], {
      env: { ...process.env, CLAIM_WORKER: JSON.stringify({ ...this.options, workerId }) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.processes.set(workerId, child);
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const started = new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`worker ${workerId} exited with ${code}: ${stderr}`)));
      createInterface({ input: child.stdout! }).on('line', (line) => {
        let event: WorkerEvent;
        try {
          event = JSON.parse(line) as WorkerEvent;
        } catch {
          return;
        }
        this.record(event);
        if (event.event === 'started') resolve();
      });
    });
    await started;
  }

  /** Sends a signal; SIGKILL also closes the worker's intervals at this instant. */
  signal(workerId: string, signal: NodeJS.Signals): void {
    const child = this.processes.get(workerId);
    if (!child) throw new Error(`no worker ${workerId}`);
    const at = Date.now();
    child.kill(signal);
    if (signal === 'SIGKILL') {
      for (const interval of this.intervals) {
        if (interval.worker === workerId && interval.to === undefined) interval.to = at;
      }
    }
  }

  /** Resolves when the worker process has exited. */
  async exited(workerId: string): Promise<void> {
    const child = this.processes.get(workerId);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => child.once('exit', () => resolve()));
  }

  /** Sessions each worker holds now, by its own account. */
  holdings(): Map<string, Set<string>> {
    const byWorker = new Map<string, Set<string>>();
    for (const i of this.intervals) {
      if (i.to !== undefined) continue;
      if (!byWorker.has(i.worker)) byWorker.set(i.worker, new Set());
      byWorker.get(i.worker)!.add(i.session);
    }
    return byWorker;
  }

  /**
   * Pairs of holding intervals of one session by two workers that overlap, ignoring the given
   * workers' intervals during [from, to] (a frozen process cannot close anything).
   */
  overlaps(except: { worker: string; from: number; to: number }[] = []): string[] {
    const found: string[] = [];
    const bySession = new Map<string, Interval[]>();
    for (const i of this.intervals) {
      if (!bySession.has(i.session)) bySession.set(i.session, []);
      bySession.get(i.session)!.push(i);
    }
    const excused = (i: Interval) =>
      except.some(
        (e) => e.worker === i.worker && i.from <= e.to && (i.to ?? Number.POSITIVE_INFINITY) >= e.from,
      );
    for (const [session, list] of bySession) {
      for (let a = 0; a < list.length; a++) {
        for (let b = a + 1; b < list.length; b++) {
          const x = list[a]!;
          const y = list[b]!;
          if (x.worker === y.worker || excused(x) || excused(y)) continue;
          const end = (i: Interval) => i.to ?? Number.POSITIVE_INFINITY;
          if (x.from < end(y) && y.from < end(x)) found.push(`${session}: ${x.worker} and ${y.worker}`);
        }
      }
    }
    return found;
  }

  /** Kills every worker left. */
  async stopAll(): Promise<void> {
    for (const [id, child] of this.processes) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT');
        child.kill('SIGKILL');
      }
      await this.exited(id);
    }
  }

  private record(event: WorkerEvent): void {
    this.events.push(event);
    if (event.event === 'acquired' && event.session) {
      this.intervals.push({ worker: event.worker, session: event.session, from: event.at, to: undefined });
    }
    if (event.event === 'released' && event.session) {
      const open = this.intervals.find(
        (i) => i.worker === event.worker && i.session === event.session && i.to === undefined,
      );
      if (open) open.to = event.at;
    }
  }
}

/** Waits until `probe` holds, polling every 50 ms, or throws after `timeoutMs`. */
export async function eventually(
  what: string,
  probe: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<number> {
  const started = Date.now();
  while (!(await probe())) {
    if (Date.now() - started > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return Date.now() - started;
}
