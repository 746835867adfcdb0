import { writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import {
  type ControlPlane,
  type ControlPlaneBinaries,
  ensureControlPlaneBinaries,
  installCrds,
  startControlPlane,
} from '@switchboard/envtest';
import { DEFAULT_RATE_LIMIT } from '../../operator/src/operator.ts';
import { type FailoverRun, runBaseline, runFailover, runOperator } from './runs.ts';
import {
  type BaselineRun,
  CONCURRENCY,
  type CpuSample,
  crdsDir,
  DEFAULT_FAILOVER,
  DEFAULT_REPEATS,
  DEFAULT_REPEATS_LARGE,
  DEFAULT_TENANTS,
  IDLE_WINDOW_MS,
  LARGE_N,
  log,
  median,
  type OperatorRun,
  PARALLELISM,
  POLL_MS,
  resultsPath,
  type Track,
} from './support.ts';

interface Summary {
  tenants: number;
  repeats: number;
  convergenceSeconds: number;
  tenantsPerSecond: number;
  requestsPerTenant: number;
  writesPerTenant: number;
  reconcilesPerTenant: number;
  requestsPerReconcile: number;
  steadyReads: number;
  steadyWrites: number;
  idleRequestsPerSecond: number;
  /** Non-watch requests the API server served in the idle window, Lease renewals aside. */
  idleServerRequests: number;
  /** kube-apiserver + etcd CPU seconds per tenant during convergence. */
  serverCpuPerTenant: number;
  conflicts: number;
  baselineApplies: number;
  baselineSeconds: number;
  ratio: number;
  /** CPU seconds of the API server, etcd and this Node process: operator run, baseline. */
  cpu: { operator: CpuSample; baseline: CpuSample };
}

function medianCpu(samples: readonly CpuSample[]): CpuSample {
  return {
    apiServer: median(samples.map((c) => c.apiServer)),
    etcd: median(samples.map((c) => c.etcd)),
    benchProcess: median(samples.map((c) => c.benchProcess)),
  };
}

function summarise(n: number, runs: { operator: OperatorRun; baseline: BaselineRun }[]): Summary {
  const op = runs.map((r) => r.operator);
  const m = (f: (run: OperatorRun) => number) => median(op.map(f));
  const convergence = m((r) => r.convergenceSeconds);
  const baseline = median(runs.map((r) => r.baseline.seconds));
  return {
    tenants: n,
    repeats: runs.length,
    convergenceSeconds: convergence,
    tenantsPerSecond: n / convergence,
    requestsPerTenant: m((r) => r.requestsTotal / n),
    writesPerTenant: m((r) => r.writes / n),
    reconcilesPerTenant: m((r) => r.reconcilesTotal / n),
    requestsPerReconcile: m((r) => r.requestsTotal / r.reconcilesTotal),
    steadyReads: m((r) => r.steadyState.reads),
    steadyWrites: Math.max(...op.map((r) => r.steadyState.writes)),
    idleRequestsPerSecond: m((r) => r.idle.requestsPerSecond),
    idleServerRequests: m((r) =>
      Object.entries(r.idle.apiServerRequests)
        // Lease renewals (the operator's and the API server's own) and the API server's own
        // endpoints upkeep are not the operator's reads.
        .filter(([key]) => !/ (leases|endpoints|endpointslices)$/.test(key))
        .reduce((s, [, n]) => s + n, 0),
    ),
    serverCpuPerTenant: m((r) => (r.cpu.apiServer + r.cpu.etcd) / n),
    conflicts: Math.max(...op.map((r) => r.conflicts)),
    baselineApplies: median(runs.map((r) => r.baseline.applies)),
    baselineSeconds: baseline,
    // Per run, then the median: both sides of a ratio saw the same moment's machine load.
    ratio: median(runs.map((r) => r.operator.convergenceSeconds / r.baseline.seconds)),
    cpu: {
      operator: medianCpu(runs.map((r) => r.operator.cpu)),
      baseline: medianCpu(runs.map((r) => r.baseline.cpu)),
    },
  };
}

const cpuCell = (c: CpuSample) => `${(c.apiServer + c.etcd).toFixed(1)}/${c.benchProcess.toFixed(1)}`;

function table(rows: Summary[]): string {
  const header = [
    'N',
    'runs',
    'operator s',
    'tenants/s',
    'req/tenant',
    'writes/tenant',
    'reconciles/tenant',
    'req/reconcile',
    'steady reads/writes',
    'idle req/s',
    'idle server req',
    'server CPU ms/tenant',
    'baseline applies',
    'baseline s',
    'operator/baseline',
    'CPU s server/node (op)',
    'CPU s server/node (base)',
  ];
  const body = rows.map((r) => [
    String(r.tenants),
    String(r.repeats),
    r.convergenceSeconds.toFixed(2),
    r.tenantsPerSecond.toFixed(1),
    r.requestsPerTenant.toFixed(1),
    r.writesPerTenant.toFixed(1),
    r.reconcilesPerTenant.toFixed(2),
    r.requestsPerReconcile.toFixed(1),
    `${r.steadyReads}/${r.steadyWrites}`,
    r.idleRequestsPerSecond.toFixed(0),
    String(r.idleServerRequests),
    (r.serverCpuPerTenant * 1000).toFixed(0),
    String(r.baselineApplies),
    r.baselineSeconds.toFixed(2),
    `${r.ratio.toFixed(1)}x`,
    cpuCell(r.cpu.operator),
    cpuCell(r.cpu.baseline),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padStart(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

function parseOptions(): { tenants: number[]; repeats: (n: number) => number; failover: number } {
  const { values } = parseArgs({
    options: { tenants: { type: 'string' }, repeats: { type: 'string' }, failover: { type: 'string' } },
    strict: true,
  });
  const tenants = values.tenants
    ? values.tenants.split(',').map((s) => Number.parseInt(s.trim(), 10))
    : DEFAULT_TENANTS;
  if (tenants.some((n) => !Number.isInteger(n) || n < 1 || n > 5000)) {
    throw new Error(`--tenants takes a comma-separated list of counts from 1 to 5000, got ${values.tenants}`);
  }
  const repeats = values.repeats === undefined ? undefined : Number.parseInt(values.repeats, 10);
  if (repeats !== undefined && (!Number.isInteger(repeats) || repeats < 1)) {
    throw new Error(`--repeats takes a positive integer, got ${values.repeats}`);
  }
  const failover = values.failover === undefined ? DEFAULT_FAILOVER : Number.parseInt(values.failover, 10);
  if (!Number.isInteger(failover) || failover < 0 || failover > 5000) {
    throw new Error(`--failover takes a tenant count from 0 (skip) to 5000, got ${values.failover}`);
  }
  return {
    tenants,
    failover,
    repeats: (n) => repeats ?? (n >= LARGE_N ? DEFAULT_REPEATS_LARGE : DEFAULT_REPEATS),
  };
}

/**
 * Runs `measure` on a control plane of its own, started empty and stopped afterwards. One per
 * measurement rather than one per run: each run leaves thousands of objects behind (nothing
 * garbage-collects without kube-controller-manager), and emptying a namespace of 14000 objects
 * took longer than kubeRequest's 30 s timeout; a fresh plane takes about 5 s, and every
 * measurement meets the same empty etcd and watch caches.
 */
async function onFreshControlPlane<T>(
  binaries: ControlPlaneBinaries,
  track: Track,
  measure: (plane: ControlPlane) => Promise<T>,
): Promise<{ result: T; kubernetes: string }> {
  const plane = await startControlPlane({
    binaries,
    // envtest's /24 holds 253 ClusterIP Services; each tenant has one (its API's), so the
    // 254th tenant's reconcile failed with "failed to allocate a serviceIP: range is full".
    extraApiServerFlags: ['--service-cluster-ip-range=10.0.0.0/16'],
  });
  const untrack = track(() => plane.stop());
  try {
    await installCrds(plane.kubeConfig, crdsDir);
    return { result: await measure(plane), kubernetes: plane.version.gitVersion };
  } finally {
    await plane.stop();
    untrack();
  }
}

async function main(): Promise<void> {
  const options = parseOptions();
  // What has to stop if the run is cut short, newest first: the operator, then its control plane.
  const stops = new Set<() => Promise<void>>();
  const track: Track = (stop) => {
    stops.add(stop);
    return () => stops.delete(stop);
  };
  const shutdown = async () => {
    for (const stop of [...stops].reverse()) await stop().catch(() => {});
    stops.clear();
  };
  let interrupted = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      interrupted = true;
      log(`${signal}: stopping the operator and the control plane`);
      void shutdown().finally(() => process.exit(130));
    });
  }

  const startedAt = new Date();
  const machine = {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    loadAverageAtStart: loadavg(),
    node: process.version,
    kubernetes: '',
  };
  const all: { tenants: number; repeat: number; operator: OperatorRun; baseline: BaselineRun }[] = [];
  const summaries: Summary[] = [];
  let failover: FailoverRun | undefined;
  // Written after every measurement, so a run that fails late keeps what it measured.
  const save = async () => {
    const report = {
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      complete: summaries.length === options.tenants.length,
      machine,
      settings: {
        parallelism: PARALLELISM,
        pollMs: POLL_MS,
        operatorConcurrency: CONCURRENCY,
        rateLimit: DEFAULT_RATE_LIMIT,
        idleWindowMs: IDLE_WINDOW_MS,
      },
      summary: summaries,
      runs: all,
      failover,
    };
    await writeFile(resultsPath, `${JSON.stringify(report, null, 2)}\n`);
  };
  try {
    const binaries = await ensureControlPlaneBinaries({ log });
    for (const n of options.tenants) {
      const runs: { operator: OperatorRun; baseline: BaselineRun }[] = [];
      for (let repeat = 1; repeat <= options.repeats(n); repeat++) {
        if (interrupted) return;
        const { result: operator, kubernetes } = await onFreshControlPlane(binaries, track, (plane) =>
          runOperator(plane, n, repeat, track),
        );
        machine.kubernetes = kubernetes;
        if (interrupted) return;
        const { result: baseline } = await onFreshControlPlane(binaries, track, (plane) =>
          runBaseline(plane, n, operator.writes),
        );
        log(
          `N=${n} #${repeat}: operator ${operator.convergenceSeconds.toFixed(2)} s ` +
            `(${operator.requestsTotal} requests, ${operator.writes} writes, ${operator.reconcilesTotal} reconciles), ` +
            `baseline ${baseline.applies} applies in ${baseline.seconds.toFixed(2)} s`,
        );
        runs.push({ operator, baseline });
        all.push({ tenants: n, repeat, operator, baseline });
        await save();
      }
      summaries.push(summarise(n, runs));
    }
    if (options.failover > 0 && !interrupted) {
      ({ result: failover } = await onFreshControlPlane(binaries, track, (plane) =>
        runFailover(plane, options.failover, track),
      ));
      log(`failover: ${JSON.stringify(failover)}`);
    }
    await save();
    process.stdout.write(
      `\nOperator benchmark, ${startedAt.toISOString()}, ${machine.cpus} cores, Kubernetes ${machine.kubernetes}\n\n${table(summaries)}\n${
        failover
          ? `\nTwo replicas, leader killed at ${failover.reconciledAtKill}/${failover.tenants} tenants reconciled: ` +
            `standby leading after ${failover.takeoverSeconds.toFixed(1)} s (lease ${failover.leaseDurationSeconds} s), ` +
            `all converged at ${failover.convergenceSeconds.toFixed(1)} s; old leader writes after the kill ` +
            `${failover.oldLeaderWritesAfterKill}, conflicts ${failover.conflicts}, other field managers ` +
            `${failover.foreignManagers.length === 0 ? 'none' : failover.foreignManagers.join(', ')}\n`
          : ''
      }`,
    );
    log(`wrote ${resultsPath}`);
  } finally {
    await shutdown();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
