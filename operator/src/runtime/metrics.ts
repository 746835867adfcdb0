import { type MetricsRegistry, metricDefinitions } from '@switchboard/telemetry';
import type { Counter, Gauge, Histogram } from 'prom-client';
import type { WorkQueueMetrics } from './work-queue.ts';

/** How a reconcile ended, the `result` label of `controller_runtime_reconcile_total`. */
export type ReconcileOutcome = 'success' | 'error' | 'requeue' | 'requeue_after';

/** Why an informer restarted its watch, the `reason` label of the restart counter. */
export type WatchRestartReason = 'closed' | 'error' | 'expired' | 'watchdog';

/** What `OperatorMetrics.observeQueue` reads at scrape time. */
export interface ObservableQueue {
  /** Seconds of work in progress, summed over keys. */
  unfinishedWorkSeconds(): number;
  /** Seconds the longest-running key has been in progress. */
  longestRunningProcessorSeconds(): number;
}

// controller-runtime's reconcile_time buckets: fine-grained below a second, where a
// healthy reconcile of a few applies lands, and up to a minute for slow API servers.
const RECONCILE_TIME_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5,
  1.75, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];
// client-go's workqueue buckets: ExponentialBuckets(10e-9, 10, 12), 10 ns to 1000 s,
// because queue waits range from nothing to the 1000 s backoff cap.
const WORKQUEUE_BUCKETS = Array.from({ length: 12 }, (_, i) => Number((1e-8 * 10 ** i).toPrecision(1)));

/**
 * The operator runtime's Prometheus metrics (definitions in `@switchboard/telemetry`'s
 * names.ts), created once on a service's registry; controllers, queues, informers and the
 * leader elector report through it. Create one per registry: prom-client refuses a second
 * metric of the same name.
 */
export class OperatorMetrics {
  private readonly reconcileTotal: Counter<'controller' | 'result'>;
  private readonly reconcileErrors: Counter<'controller'>;
  private readonly reconcileTime: Histogram<'controller'>;
  private readonly activeWorkersGauge: Gauge<'controller'>;
  private readonly maxConcurrentGauge: Gauge<'controller'>;
  private readonly depthGauge: Gauge<'name'>;
  private readonly addsCounter: Counter<'name'>;
  private readonly retriesCounter: Counter<'name'>;
  private readonly queueDuration: Histogram<'name'>;
  private readonly workDuration: Histogram<'name'>;
  private readonly leaderGauge: Gauge<'name'>;
  private readonly watchRestarts: Counter<'informer' | 'reason'>;
  private readonly observedQueues = new Map<string, ObservableQueue>();

  /** Registers every runtime metric on `registry`. */
  constructor(registry: MetricsRegistry) {
    const d = metricDefinitions;
    this.reconcileTotal = registry.counter(d.operatorReconcileTotal);
    this.reconcileErrors = registry.counter(d.operatorReconcileErrorsTotal);
    this.reconcileTime = registry.histogram({ ...d.operatorReconcileTime, buckets: RECONCILE_TIME_BUCKETS });
    this.activeWorkersGauge = registry.gauge(d.operatorReconcileActiveWorkers);
    this.maxConcurrentGauge = registry.gauge(d.operatorReconcileMaxConcurrentWorkers);
    this.depthGauge = registry.gauge(d.operatorWorkqueueDepth);
    this.addsCounter = registry.counter(d.operatorWorkqueueAddsTotal);
    this.retriesCounter = registry.counter(d.operatorWorkqueueRetriesTotal);
    this.queueDuration = registry.histogram({
      ...d.operatorWorkqueueQueueDuration,
      buckets: WORKQUEUE_BUCKETS,
    });
    this.workDuration = registry.histogram({
      ...d.operatorWorkqueueWorkDuration,
      buckets: WORKQUEUE_BUCKETS,
    });
    const queues = this.observedQueues;
    // In-progress work is read when Prometheus scrapes, not pushed on a timer as client-go
    // does every 500 ms: the value is exact at scrape time and costs nothing in between.
    registry.gauge({
      ...d.operatorWorkqueueUnfinishedWork,
      collect() {
        for (const [name, queue] of queues) this.set({ name }, queue.unfinishedWorkSeconds());
      },
    });
    registry.gauge({
      ...d.operatorWorkqueueLongestRunningProcessor,
      collect() {
        for (const [name, queue] of queues) this.set({ name }, queue.longestRunningProcessorSeconds());
      },
    });
    this.leaderGauge = registry.gauge(d.operatorLeaderElectionHeldLeases);
    this.watchRestarts = registry.counter(d.operatorInformerWatchRestartsTotal);
  }

  /** Hooks for a `WorkQueue` named `name` (the controller's name, as controller-runtime does). */
  workQueue(name: string): WorkQueueMetrics {
    // Series exist from the start, so a dashboard shows 0 rather than no data.
    this.addsCounter.inc({ name }, 0);
    this.retriesCounter.inc({ name }, 0);
    this.depthGauge.set({ name }, 0);
    return {
      added: () => this.addsCounter.inc({ name }),
      retried: () => this.retriesCounter.inc({ name }),
      depth: (items) => this.depthGauge.set({ name }, items),
      queued: (seconds) => this.queueDuration.observe({ name }, seconds),
      worked: (seconds) => this.workDuration.observe({ name }, seconds),
    };
  }

  /** Reads a queue's in-progress work at every scrape; the returned function stops it. */
  observeQueue(name: string, queue: ObservableQueue): () => void {
    this.observedQueues.set(name, queue);
    return () => {
      if (this.observedQueues.get(name) === queue) this.observedQueues.delete(name);
    };
  }

  /** Counts one finished reconcile and its duration. */
  reconciled(controller: string, outcome: ReconcileOutcome, seconds: number): void {
    this.reconcileTotal.inc({ controller, result: outcome });
    if (outcome === 'error') this.reconcileErrors.inc({ controller });
    this.reconcileTime.observe({ controller }, seconds);
  }

  /** Creates a controller's series at 0 and records its worker limit. */
  controllerStarted(controller: string, maxConcurrent: number): void {
    for (const result of ['success', 'error', 'requeue', 'requeue_after'] as const) {
      this.reconcileTotal.inc({ controller, result }, 0);
    }
    this.reconcileErrors.inc({ controller }, 0);
    this.maxConcurrentGauge.set({ controller }, maxConcurrent);
    this.activeWorkersGauge.set({ controller }, 0);
  }

  /** Sets how many workers are reconciling right now. */
  activeWorkers(controller: string, workers: number): void {
    this.activeWorkersGauge.set({ controller }, workers);
  }

  /** Sets the leader gauge of `lease`: 1 while held. */
  leading(lease: string, held: boolean): void {
    this.leaderGauge.set({ name: lease }, held ? 1 : 0);
  }

  /** Counts one watch restart of `informer`. */
  watchRestarted(informer: string, reason: WatchRestartReason): void {
    this.watchRestarts.inc({ informer, reason });
  }
}
