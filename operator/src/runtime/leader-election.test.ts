import { CoordinationV1Api } from '@kubernetes/client-node';
import { createTestNamespace, useControlPlane } from '@switchboard/envtest';
import { createMetricsRegistry } from '@switchboard/telemetry';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LeaderElectionConfigError } from './errors.ts';
import { LeaderElector, type LeaderElectorOptions } from './leader-election.ts';
import { OperatorMetrics } from './metrics.ts';
import { startTcpProxy } from './testing/tcp-proxy.ts';
import { sleep, waitFor } from './testing/wait-for.ts';

const { kubeConfig } = useControlPlane();
const coordination = kubeConfig.makeApiClient(CoordinationV1Api);

// Short timings keep the suite fast; the ratios are client-go's (15 s / 10 s / 2 s).
const LEASE_MS = 3000;
const RENEW_MS = 2000;
const RETRY_MS = 500;
// Slack for API round trips and timer granularity on a loaded 2-core machine.
const SLACK_MS = 700;

let ns: Awaited<ReturnType<typeof createTestNamespace>>;
beforeAll(async () => {
  ns = await createTestNamespace(kubeConfig, 'leader-election');
});
afterAll(() => ns.delete());

const electors: LeaderElector[] = [];
afterEach(async () => {
  await Promise.all(electors.splice(0).map((e) => e.stop()));
});

interface Candidate {
  elector: LeaderElector;
  startedAt: number[];
  stoppedAt: number[];
  signals: AbortSignal[];
}

let leaseCounter = 0;
function newLeaseName(): string {
  leaseCounter += 1;
  return `operator-${leaseCounter}`;
}

function candidate(
  lease: string,
  identity: string,
  overrides: Partial<LeaderElectorOptions> = {},
): Candidate {
  const c: Candidate = {
    elector: undefined as unknown as LeaderElector,
    startedAt: [],
    stoppedAt: [],
    signals: [],
  };
  c.elector = new LeaderElector({
    kubeConfig,
    namespace: ns.name,
    name: lease,
    identity,
    leaseDurationMs: LEASE_MS,
    renewDeadlineMs: RENEW_MS,
    retryPeriodMs: RETRY_MS,
    onStartedLeading: (signal) => {
      c.startedAt.push(Date.now());
      c.signals.push(signal);
    },
    onStoppedLeading: () => {
      c.stoppedAt.push(Date.now());
    },
    ...overrides,
  });
  electors.push(c.elector);
  c.elector.start();
  return c;
}

async function readLease(name: string) {
  return coordination.readNamespacedLease({ name, namespace: ns.name });
}

describe('LeaderElector', () => {
  it('lets exactly one of two candidates lead, and records it on the Lease', async () => {
    const lease = newLeaseName();
    const registry = createMetricsRegistry({ service: 'leader-test', collectDefaultMetrics: false });
    const metrics = new OperatorMetrics(registry);
    const a = candidate(lease, 'pod-a', { metrics });
    const b = candidate(lease, 'pod-b');
    await waitFor('a leader', () => a.elector.isLeader() || b.elector.isLeader(), 5000);

    // Sample for several renew periods: never two leaders, never none.
    const deadline = Date.now() + 4 * RETRY_MS;
    while (Date.now() < deadline) {
      expect(Number(a.elector.isLeader()) + Number(b.elector.isLeader())).toBe(1);
      await sleep(50);
    }
    const leader = a.elector.isLeader() ? 'pod-a' : 'pod-b';
    const spec = (await readLease(lease)).spec!;
    expect(spec.holderIdentity).toBe(leader);
    expect(spec.leaseDurationSeconds).toBe(LEASE_MS / 1000);
    // Renewed within the last couple of retry periods (MicroTime, six fractional digits).
    expect(Date.now() - new Date(spec.renewTime as unknown as string).getTime()).toBeLessThan(
      2 * RETRY_MS + SLACK_MS,
    );
    expect(a.startedAt.length + b.startedAt.length).toBe(1);
    expect(a.elector.leader()).toBe(leader);
    expect(b.elector.leader()).toBe(leader);

    const text = await registry.metrics();
    const held = a.elector.isLeader() ? 1 : 0;
    expect(text).toContain(`leader_election_master_status{name="${lease}",service="leader-test"} ${held}`);
  });

  it('after a crash (no release), the standby takes over only once the lease expired', async () => {
    const lease = newLeaseName();
    const a = candidate(lease, 'pod-a');
    await waitFor('pod-a to lead', () => a.elector.isLeader(), 5000);
    const b = candidate(lease, 'pod-b');
    await sleep(2 * RETRY_MS); // b is a standby now, polling
    expect(b.elector.isLeader()).toBe(false);
    const transitionsBefore = (await readLease(lease)).spec!.leaseTransitions ?? 0;

    const crashedAt = Date.now();
    await a.elector.stop({ release: false });
    expect(a.elector.isLeader()).toBe(false);
    expect((await readLease(lease)).spec!.holderIdentity).toBe('pod-a'); // not released

    await waitFor('pod-b to take over', () => b.elector.isLeader(), LEASE_MS + RETRY_MS + 2 * SLACK_MS);
    const takeover = b.startedAt[0]! - crashedAt;
    // Not before the lease could have expired (the last renewal was at most one retry
    // period before the crash), and within leaseDuration + retryPeriod.
    expect(takeover).toBeGreaterThanOrEqual(LEASE_MS - RETRY_MS - 100);
    expect(takeover).toBeLessThanOrEqual(LEASE_MS + RETRY_MS + SLACK_MS);
    const spec = (await readLease(lease)).spec!;
    expect(spec.holderIdentity).toBe('pod-b');
    expect(spec.leaseTransitions).toBe(transitionsBefore + 1);
  });

  it('a clean stop waits for the leader work, releases, and the standby takes over without waiting for the lease to expire', async () => {
    const lease = newLeaseName();
    let workFinishedAt = 0;
    // A lease far longer than any takeover can take on a loaded machine: the standby leading
    // well before it would expire can only come from the release, never from expiry.
    const longLease = { leaseDurationMs: 60_000, renewDeadlineMs: 40_000 };
    const a = candidate(lease, 'pod-a', {
      ...longLease,
      // Leader work that needs a moment to drain after its signal aborts.
      onStartedLeading: (signal) =>
        new Promise<void>((resolve) => {
          signal.addEventListener('abort', () =>
            setTimeout(() => {
              workFinishedAt = Date.now();
              resolve();
            }, 300),
          );
        }),
    });
    await waitFor('pod-a to lead', () => a.elector.isLeader(), 5000);
    const b = candidate(lease, 'pod-b', longLease);
    await sleep(2 * RETRY_MS);

    const stoppedAt = Date.now();
    await a.elector.stop();
    expect(workFinishedAt).toBeGreaterThanOrEqual(stoppedAt + 300);
    // Released: no holder, so nobody has to wait for expiry.
    const released = (await readLease(lease)).spec!;
    expect(released.holderIdentity ?? '').toMatch(/^(|pod-b)$/);

    // The standby retries every RETRY_MS; a quarter of the lease is ample on any machine and
    // still far from expiry.
    await waitFor('pod-b to take over', () => b.elector.isLeader(), 15_000);
    // The standby did not lead while the old leader was still draining.
    expect(b.startedAt[0]!).toBeGreaterThanOrEqual(workFinishedAt);
    expect(b.startedAt[0]! - workFinishedAt).toBeLessThan(15_000);
  });

  it('steps down when it cannot renew for the renew deadline', async () => {
    const lease = newLeaseName();
    const proxy = await startTcpProxy(kubeConfig.getCurrentCluster()!.server);
    try {
      const a = candidate(lease, 'pod-a', { kubeConfig: proxy.kubeConfigFor(kubeConfig) });
      await waitFor('pod-a to lead', () => a.elector.isLeader(), 5000);
      const b = candidate(lease, 'pod-b');
      await sleep(RETRY_MS);

      // The leader loses the API server; the standby does not.
      proxy.setMode('refuse');
      proxy.breakConnections();
      const cutAt = Date.now();
      await waitFor('pod-a to step down', () => !a.elector.isLeader(), RENEW_MS + RETRY_MS + SLACK_MS);
      const steppedDown = a.stoppedAt[0]! - cutAt;
      // It kept trying until the deadline (the last renewal was under one retry period before the cut).
      expect(steppedDown).toBeGreaterThanOrEqual(RENEW_MS - RETRY_MS - 100);
      expect(a.signals[0]!.aborted).toBe(true);
      expect(a.stoppedAt).toHaveLength(1);

      // The old leader stopped before the standby could start.
      await waitFor('pod-b to take over', () => b.elector.isLeader(), LEASE_MS + RETRY_MS + SLACK_MS);
      expect(b.startedAt[0]!).toBeGreaterThan(a.stoppedAt[0]!);
    } finally {
      await proxy.close();
    }
  });

  it('refuses timings that cannot work', () => {
    const base = { kubeConfig, namespace: 'x', name: 'y', identity: 'z', onStartedLeading: () => {} };
    expect(() => new LeaderElector({ ...base, leaseDurationMs: 10_000, renewDeadlineMs: 10_000 })).toThrow(
      LeaderElectionConfigError,
    );
    expect(() => new LeaderElector({ ...base, renewDeadlineMs: 2_000, retryPeriodMs: 2_000 })).toThrow(
      LeaderElectionConfigError,
    );
    expect(() => new LeaderElector({ ...base, identity: '' })).toThrow(LeaderElectionConfigError);
  });
});
