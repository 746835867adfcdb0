/**
 * What the operator benchmark measures with and around (bench/operator/run.ts): its sizes and
 * settings, the tenants it applies, waiting, counting requests and reconciles, CPU samples.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { KubernetesObject } from '@kubernetes/client-node';
import { type ControlPlane, kubeRequest } from '@switchboard/envtest';
import {
  API_VERSION,
  KIND,
  type WhatsAppTenant,
  type WhatsAppTenantSpecInput,
} from '../../operator/src/api/v1alpha1/index.ts';
import type { KubeClient, KubeVerb } from '../../operator/src/kube/kube-client.ts';
import { Informer, type RuntimeLogger } from '../../operator/src/runtime/index.ts';
import { desiredChildren } from '../../operator/src/specs/desired-children.ts';
import { buildMigrationJob } from '../../operator/src/specs/migration-job.ts';
import { childNames, MANAGED_BY } from '../../operator/src/specs/names.ts';
import { operatorConfigFixture, tenantFixture } from '../../operator/src/testing/fixtures.ts';

// The issue's sizes. N=500 runs once by default: with three repeats of every size the whole
// run took 17 min on the 2-core machine, 12 of them for N=500 (bench/README.md), past the
// 15-minute budget; `--repeats 3` still asks for three of each.
export const DEFAULT_TENANTS = [10, 100, 500];
export const DEFAULT_REPEATS = 3;
export const LARGE_N = 500;
export const DEFAULT_REPEATS_LARGE = 1;
// Tenants of the two-replica run whose leader is killed mid-way (the issue's 200).
export const DEFAULT_FAILOVER = 200;
// Requests in flight from the bench (tenant applies, baseline applies): what a GitOps tool or
// `kubectl apply --server-side` of a directory typically keeps open, and the KubeClient's
// socket limit, so nothing waits for a connection.
export const PARALLELISM = 16;
// How often the bench looks at its watch of the tenants (a cache read, no request): the
// tenants' statuses come through one watch, not a LIST of every tenant per tick, so observing
// costs the API server and this process little next to the operator's own work.
export const POLL_MS = 50;
// After convergence the operator is watched this long with nothing changing. What it sends
// then is work it made for itself: the second reconcile its own status writes and child
// creations trigger, and the safety-net requeues of tenants waiting on their migration.
export const IDLE_WINDOW_MS = 10_000;
// The operator's default RECONCILE_WORKERS.
export const CONCURRENCY = 8;
// Progress lines on stderr while a run converges.
export const PROGRESS_MS = 10_000;

export const config = operatorConfigFixture();
export const crdsDir = fileURLToPath(new URL('../../crds/', import.meta.url));
export const resultsPath = fileURLToPath(new URL('./results.json', import.meta.url));

// External database (a Secret the bench writes; nothing connects) and the default operator-run
// Redis Sentinel mode: no Postgres needed, and the operator produces its full set of children.
export const DATABASE_SECRET = 'bench-db';
export const TENANT_SPEC: WhatsAppTenantSpecInput = {
  sessions: [{ name: 'support', channel: 'baileys' }],
  database: { mode: 'external', external: { secretRef: { name: DATABASE_SECRET } } },
};
// Migrations gate these (the Job never completes without kube-controller-manager), so a
// converged tenant has every child but these: the "waiting" state of the issue.
export const gatedChildren = (name: string) =>
  new Set([
    `apps/v1/Deployment/${name}-api`,
    `apps/v1/Deployment/${name}-worker`,
    `autoscaling/v2/HorizontalPodAutoscaler/${name}-api`,
  ]);
export const SETTLED_PHASES = new Set(['Provisioning', 'Ready', 'Pending']);

export type Counts = Record<KubeVerb, number>;

export interface OperatorRun {
  tenants: number;
  /** Wall time from the first tenant apply to the poll that saw every tenant converged. */
  convergenceSeconds: number;
  /** Part of it spent applying the tenants (the bench's own requests). */
  tenantApplySeconds: number;
  polls: number;
  /** The operator's KubeClient requests during convergence, by verb. */
  requests: Counts;
  requestsTotal: number;
  writes: number;
  reconciles: Record<string, number>;
  reconcilesTotal: number;
  /** One reconcile of a converged tenant, triggered by a change the operator does not own. */
  steadyState: { reads: number; writes: number; requests: Counts; reconciles: number };
  /**
   * The idle window: the operator's own requests, and every non-watch request the API server
   * served (its apiserver_request_total, Lease renewals included), with nothing changing.
   */
  idle: {
    seconds: number;
    requests: number;
    requestsPerSecond: number;
    reconciles: number;
    apiServerRequests: Record<string, number>;
  };
  /** 409 answers the operator got (lost create races, failed preconditions). */
  conflicts: number;
  lostLeadership: boolean;
  /** CPU seconds during convergence: where the time went (the bench process runs the operator). */
  cpu: CpuSample;
  /** The operator's warnings and errors, by message, with how often each came. */
  problems: Record<string, number>;
}

export interface BaselineRun {
  applies: number;
  seconds: number;
  objectsPerTenant: number;
  cpu: CpuSample;
}

export function log(message: string): void {
  console.error(`[bench] ${message}`);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The operator's logger: warnings and errors are counted by message, and each new message is
 * printed once, so a run that goes wrong says why without flooding the terminal.
 */
export class ProblemLogger implements RuntimeLogger {
  readonly problems = new Map<string, number>();

  debug(): void {}
  info(): void {}
  warn(fields: object, message: string): void {
    this.record('warn', fields, message);
  }
  error(fields: object, message: string): void {
    this.record('error', fields, message);
  }

  private record(level: string, fields: object, message: string): void {
    const err = (fields as { err?: unknown }).err;
    // Names and numbers vary per tenant; without them the same problem is one entry.
    const detail = err instanceof Error ? err.message.replace(/t\d{4}[\w-]*/g, '<tenant>') : '';
    const key = `${level}: ${message}${detail ? `: ${detail.slice(0, 300)}` : ''}`;
    const seen = this.problems.get(key) ?? 0;
    this.problems.set(key, seen + 1);
    if (seen === 0) log(`operator ${key}`);
  }
}

/** Polls `probe` until it returns something truthy; throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Runs `work` over `items` with at most `limit` in flight; the first failure stops the rest. */
export async function inParallel<T>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed = false;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (!failed && next < items.length) {
        const index = next++;
        try {
          await work(items[index]!, index);
        } catch (error) {
          failed = true;
          throw error;
        }
      }
    }),
  );
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export const sum = (counts: Counts, verbs: readonly KubeVerb[]) => verbs.reduce((s, v) => s + counts[v], 0);
export const ALL_VERBS: readonly KubeVerb[] = ['get', 'list', 'create', 'apply', 'patch', 'delete'];
export const minus = (a: Counts, b: Counts): Counts =>
  Object.fromEntries(ALL_VERBS.map((verb) => [verb, a[verb] - b[verb]])) as Counts;

/** The operator's /metrics text. */
export async function scrape(metricsPort: number): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, {
    signal: AbortSignal.timeout(10_000),
  });
  return await response.text();
}

/** A metric's samples from /metrics text, summed per value of one label. */
export function samplesBy(text: string, metric: string, label: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`)) continue;
    const match = /^[^{]+\{([^}]*)\} (\S+)$/.exec(line);
    if (!match) continue;
    const value = new RegExp(`${label}="([^"]*)"`).exec(match[1]!)?.[1] ?? '';
    counts[value] = (counts[value] ?? 0) + Number(match[2]);
  }
  return counts;
}

/** `controller_runtime_reconcile_total`, summed per result. */
export async function reconcileCounts(metricsPort: number): Promise<Record<string, number>> {
  return samplesBy(await scrape(metricsPort), 'controller_runtime_reconcile_total', 'result');
}

/**
 * The API server's own count of the requests it served (apiserver_request_total), by verb,
 * without WATCH (the informers' open watches) and without the bench's LIST polling of tenants
 * (resource whatsapptenants).
 */
export async function apiServerRequests(
  kubeConfig: ControlPlane['kubeConfig'],
): Promise<Record<string, number>> {
  const { text } = await kubeRequest(kubeConfig, { path: '/metrics' });
  const counts: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const match = /^[^{]+\{([^}]*)\} (\S+)$/.exec(line);
    if (!match) continue;
    const labels = match[1]!;
    const verb = /(?:^|,)verb="([^"]*)"/.exec(labels)?.[1] ?? '';
    const resource = /(?:^|,)resource="([^"]*)"/.exec(labels)?.[1] ?? '';
    if (verb === 'WATCH' || resource === 'whatsapptenants' || resource === '') continue;
    const key = `${verb} ${resource}`;
    counts[key] = (counts[key] ?? 0) + Number(match[2]);
  }
  return counts;
}

export function minusRecord(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(a)) {
    const delta = value - (b[key] ?? 0);
    if (delta > 0) out[key] = delta;
  }
  return out;
}

export const total = (counts: Record<string, number>) => Object.values(counts).reduce((s, n) => s + n, 0);

/** CPU seconds used so far by the API server, etcd and this process (operator and bench). */
export interface CpuSample {
  apiServer: number;
  etcd: number;
  benchProcess: number;
}

// Linux only: utime + stime from /proc/<pid>/stat, in USER_HZ ticks (100 per second on every
// Linux architecture's user ABI). Elsewhere the server figures are NaN.
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

export function cpuSample(plane: ControlPlane): CpuSample {
  const own = process.cpuUsage();
  return {
    apiServer: processCpuSeconds(plane.pids.kubeApiserver),
    etcd: processCpuSeconds(plane.pids.etcd),
    benchProcess: (own.user + own.system) / 1e6,
  };
}

export function cpuSince(plane: ControlPlane, before: CpuSample): CpuSample {
  const now = cpuSample(plane);
  return {
    apiServer: now.apiServer - before.apiServer,
    etcd: now.etcd - before.etcd,
    benchProcess: now.benchProcess - before.benchProcess,
  };
}

export function tenantName(index: number): string {
  return `t${String(index).padStart(4, '0')}`;
}

/** The tenant as the builders see it (defaults applied), for the expected child names. */
export function parsedTenant(name: string, namespace: string): WhatsAppTenant {
  return tenantFixture(TENANT_SPEC, { name, namespace, uid: randomUUID() });
}

/** Registers a stop to run if the benchmark is cut short; returns its removal. */
export type Track = (stop: () => Promise<void>) => () => void;

/** What has to exist for each converged tenant: its non-gated children, generated Secret, Job. */
export function expectedChildren(tenant: WhatsAppTenant): string[] {
  const gated = gatedChildren(tenant.metadata.name);
  const children = desiredChildren(tenant, config, { secretDigests: {}, serviceMonitorsAvailable: false })
    .map((c) => `${c.apiVersion}/${c.kind}/${c.metadata?.name}`)
    .filter((id) => !gated.has(id));
  return [
    ...children,
    `v1/Secret/${childNames(tenant).generatedSecret}`,
    `batch/v1/Job/${buildMigrationJob(tenant, config).metadata!.name}`,
  ];
}

/** After the clock stopped: every tenant really has every child it should (not timed). */
export async function verifyChildren(
  client: KubeClient,
  namespace: string,
  names: readonly string[],
): Promise<void> {
  const expected = names.map((name) => expectedChildren(parsedTenant(name, namespace)));
  const kinds = new Set(expected.flat().map((id) => id.slice(0, id.lastIndexOf('/'))));
  const live = new Set<string>();
  for (const kindId of kinds) {
    const slash = kindId.lastIndexOf('/');
    const apiVersion = kindId.slice(0, slash);
    const kind = kindId.slice(slash + 1);
    for (const item of await client.list(
      apiVersion,
      kind,
      namespace,
      `app.kubernetes.io/managed-by=${MANAGED_BY}`,
    )) {
      live.add(`${apiVersion}/${kind}/${item.metadata?.name}`);
    }
  }
  const missing = expected.flat().filter((id) => !live.has(id));
  if (missing.length > 0) {
    throw new Error(
      `${missing.length} children missing after convergence, e.g. ${missing.slice(0, 5).join(', ')}`,
    );
  }
}

/** A watch of the namespace's tenants, synced: the bench's view of their statuses. */
export async function watchTenants(
  kubeConfig: ControlPlane['kubeConfig'],
  namespace: string,
): Promise<Informer<WhatsAppTenant>> {
  const informer = new Informer<WhatsAppTenant>({
    kubeConfig,
    apiVersion: API_VERSION,
    kind: KIND,
    namespace,
    name: 'bench-tenants',
    resyncPeriodMs: 0,
  });
  informer.start();
  await informer.waitForSync(30_000);
  return informer;
}

/** The tenants' external database Secret (dummy URLs: nothing connects). */
export async function createDatabaseSecret(client: KubeClient, namespace: string): Promise<void> {
  await client.create({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: DATABASE_SECRET, namespace },
    stringData: {
      ownerUrl: 'postgres://owner:bench@127.0.0.1:1/bench',
      appUrl: 'postgres://app:bench@127.0.0.1:1/bench',
      appRole: 'app',
    },
  } as KubernetesObject);
}
