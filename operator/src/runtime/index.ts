// The operator's generic runtime: client-go / controller-runtime semantics written for
// client-node. Nothing here knows about WhatsAppTenant; operator/src/controller builds on it.

/** Time as the runtime sees it: the system clock, or a fake one for tests. */
export { type Clock, type ClockTimer, FakeClock, systemClock } from './clock.ts';
/** A controller: informer events -> work queue -> N workers running the reconcile. */
export {
  Controller,
  type ControllerOptions,
  type OwnerKindOptions,
  ownerKeys,
  type Reconcile,
  type ReconcileContext,
  type ReconcileOutput,
  type ReconcileResult,
  type SecondaryWatch,
  type WatchEvent,
} from './controller.ts';
/** The runtime's errors: API answers, bad election timings, sync timeouts, terminal reconcile failures. */
export {
  ApiStatusError,
  CacheSyncTimeoutError,
  type KubeStatus,
  LeaderElectionConfigError,
  TerminalReconcileError,
} from './errors.ts';
/** /healthz, /readyz and /metrics on one small HTTP server. */
export { type HealthCheck, HealthServer, type HealthServerOptions, informersSynced } from './health.ts';
/** A list-watch cache of one resource that survives broken, expired and silent watches. */
export {
  Informer,
  type InformerHandlers,
  type InformerLifecycleEvent,
  type InformerOptions,
  objectKey,
  splitObjectKey,
} from './informer.ts';
/** Lease-based leader election with client-go's timings and semantics. */
export {
  LeaderElector,
  type LeaderElectorOptions,
  type LeaderElectorStopOptions,
} from './leader-election.ts';
/** The structured logger interface the runtime writes to (pino fits). */
export { type RuntimeLogger, silentLogger, withFields } from './logger.ts';
/** The runtime's Prometheus metrics, named after controller-runtime's. */
export {
  type ObservableQueue,
  OperatorMetrics,
  type ReconcileOutcome,
  type WatchRestartReason,
} from './metrics.ts';
/** Retry delays (per-key exponential backoff, an overall token bucket, both combined) and the client's request limiter. */
export {
  BucketRateLimiter,
  type BucketRateLimiterOptions,
  defaultControllerRateLimiter,
  ItemExponentialRateLimiter,
  type ItemExponentialRateLimiterOptions,
  MaxOfRateLimiter,
  type RateLimiter,
  TokenBucket,
  type TokenBucketOptions,
} from './rate-limiter.ts';
/** A de-duplicating work queue with per-key serialisation, delays and backoff. */
export { WorkQueue, type WorkQueueMetrics, type WorkQueueOptions } from './work-queue.ts';
