import { randomUUID } from 'node:crypto';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Clock } from './clock.ts';
import { CacheSyncTimeoutError, TerminalReconcileError } from './errors.ts';
import { type Informer, type InformerHandlers, objectKey } from './informer.ts';
import { type RuntimeLogger, silentLogger, withFields } from './logger.ts';
import type { OperatorMetrics, ReconcileOutcome } from './metrics.ts';
import { defaultControllerRateLimiter, type RateLimiter } from './rate-limiter.ts';
import { WorkQueue } from './work-queue.ts';

/** What a reconcile asks for next; nothing (or `undefined`) means done until the next event. */
export interface ReconcileResult {
  /** Run again after this many milliseconds even without an event (waiting on a Job, on pods). */
  requeueAfter?: number;
  /** Run again after the key's backoff delay (not an error, but not done either). */
  requeue?: boolean;
}

/** What each reconcile gets besides its key and signal. */
export interface ReconcileContext {
  /** Unique per reconcile, in every log line it writes (controller-runtime's reconcileID). */
  reconcileId: string;
  /** The controller's logger with `controller`, `key` and `reconcileId` bound. */
  logger: RuntimeLogger;
  /** Retries with backoff since the key last succeeded; 0 on a first attempt. */
  requeues: number;
}

/**
 * Brings the cluster in line with the object `key` (`namespace/name`) names. It must be
 * idempotent: it runs after every event, on resyncs, and again after failures. `signal`
 * aborts only when a stopping controller runs out of patience.
 */
export type Reconcile = (
  key: string,
  signal: AbortSignal,
  context: ReconcileContext,
) => Promise<ReconcileOutput>;

/** What a reconcile resolves to: a `ReconcileResult`, or nothing when it is done. */
// biome-ignore lint/suspicious/noConfusingVoidType: most reconciles return nothing, and Promise<void> must fit.
export type ReconcileOutput = ReconcileResult | undefined | void;

/** An informer event, as a watch's `filter` sees it. */
export interface WatchEvent<T> {
  /** add, update (including resyncs) or delete. */
  type: 'add' | 'update' | 'delete';
  /** The object now (for delete, its last state). */
  object: T;
  /** The object before, for updates. */
  oldObject?: T;
}

/** A secondary watch: events on another resource enqueue the keys `mapToKeys` returns. */
export interface SecondaryWatch<T extends KubernetesObject = KubernetesObject> {
  /** The informer of the other resource (the controller starts it if needed). */
  informer: Informer<T>;
  /** Keys of primary objects to reconcile for an event on `object`, e.g. `ownerKeys(...)`. */
  mapToKeys: (object: T) => Iterable<string>;
  /** Drops events that cannot matter; all pass by default. */
  filter?: (event: WatchEvent<T>) => boolean;
}

/** The owner kind `ownerKeys` maps children to. */
export interface OwnerKindOptions {
  /** The owner's apiVersion; only its group has to match, as in controller-runtime. */
  apiVersion: string;
  /** The owner's kind. */
  kind: string;
  /** Only follow the owner reference marked `controller: true`; default true. */
  controllerOnly?: boolean;
  /** The owner is cluster-scoped (its key is its bare name); default false. */
  clusterScoped?: boolean;
}

/**
 * Maps a child object to the keys of its owners of the given kind, from its owner
 * references (controller-runtime's `EnqueueRequestForOwner`). A namespaced owner lives in
 * the child's namespace: Kubernetes refuses cross-namespace owner references.
 */
export function ownerKeys(owner: OwnerKindOptions): (object: KubernetesObject) => string[] {
  const group = groupOf(owner.apiVersion);
  const controllerOnly = owner.controllerOnly ?? true;
  return (object) => {
    const namespace = object.metadata?.namespace;
    return (object.metadata?.ownerReferences ?? [])
      .filter(
        (ref) =>
          ref.kind === owner.kind &&
          groupOf(ref.apiVersion) === group &&
          (!controllerOnly || ref.controller === true),
      )
      .map((ref) => (owner.clusterScoped || !namespace ? ref.name : `${namespace}/${ref.name}`));
  };
}

/** Options for `Controller`. */
export interface ControllerOptions<T extends KubernetesObject> {
  /** Name in logs and metrics (`controller` and the queue's `name` label), e.g. `whatsapptenant`. */
  name: string;
  /** The primary resource: each of its events enqueues the object's own key. */
  informer: Informer<T>;
  /** Drops primary events that cannot matter; all pass by default. */
  filter?: (event: WatchEvent<T>) => boolean;
  /** Other resources whose events enqueue primary keys (owned children, referenced Secrets). */
  // biome-ignore lint/suspicious/noExplicitAny: each watch has its own object type.
  watches?: SecondaryWatch<any>[];
  /** The reconcile. */
  reconcile: Reconcile;
  /** Reconciles at once, each on a different key; default 1 (controller-runtime's MaxConcurrentReconciles). */
  concurrency?: number;
  /** Backoff after errors; default controller-runtime's (5 ms doubling to 1000 s, 10 qps overall). */
  rateLimiter?: RateLimiter<string>;
  /** Fail `start` when the informers have not synced in this long; default 2 minutes (controller-runtime's CacheSyncTimeout). */
  cacheSyncTimeoutMs?: number;
  /** Metrics; none by default. */
  metrics?: OperatorMetrics;
  /** Structured logger; silent by default. */
  logger?: RuntimeLogger;
  /** Time source of the work queue; for tests. */
  clock?: Clock;
}

/**
 * A controller as controller-runtime builds one: informer events become keys in a
 * de-duplicating work queue, N workers run the reconcile on them (one reconcile per key
 * at a time, because the queue never hands out a key twice), an error requeues the key
 * with per-key backoff, success forgets the backoff, and `requeueAfter` schedules a
 * later run. `stop` drains: reconciles in flight finish, queued keys are left.
 */
export class Controller<T extends KubernetesObject = KubernetesObject> {
  /** Name in logs and metrics. */
  readonly name: string;
  /** The work queue, exposed for metrics and for tests. */
  readonly queue: WorkQueue<string>;
  private readonly options: ControllerOptions<T>;
  private readonly logger: RuntimeLogger;
  private readonly concurrency: number;
  private readonly abortController = new AbortController();
  private readonly unsubscribe: (() => void)[] = [];
  private workers: Promise<void>[] = [];
  private active = 0;
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private running = false;
  private unobserveQueue: (() => void) | undefined;

  /** Creates the controller; nothing is watched until `start`. */
  constructor(options: ControllerOptions<T>) {
    this.options = options;
    this.name = options.name;
    this.concurrency = Math.max(1, options.concurrency ?? 1);
    this.logger = withFields(options.logger ?? silentLogger, { controller: options.name });
    this.queue = new WorkQueue<string>({
      rateLimiter: options.rateLimiter ?? defaultControllerRateLimiter(options.clock),
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.metrics ? { metrics: options.metrics.workQueue(options.name) } : {}),
    });
  }

  /**
   * Registers the event handlers, starts the informers that are not running, waits until
   * all have synced (`CacheSyncTimeoutError` otherwise, as controller-runtime does), then
   * starts the workers. Reconciling before the caches are full would act on a partial
   * picture, e.g. delete children that are merely not listed yet.
   */
  start(): Promise<void> {
    this.starting ??= this.startOnce();
    return this.starting;
  }

  /**
   * `start`, then run until `signal` aborts, then `stop`; fits `LeaderElector`'s
   * `onStartedLeading: (signal) => controller.run(signal)`.
   */
  async run(signal: AbortSignal): Promise<void> {
    await this.start();
    if (!signal.aborted) {
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    }
    await this.stop();
  }

  /**
   * Stops taking work and waits for reconciles in flight; after `timeoutMs` (default 30 s)
   * their signal is aborted and they get 5 s more. Informers are left running: they may be
   * shared, and whoever created them stops them.
   */
  stop(timeoutMs = 30_000): Promise<void> {
    this.stopping ??= this.stopOnce(timeoutMs);
    return this.stopping;
  }

  /** Enqueues `key` by hand, e.g. from a timer or another controller. */
  enqueue(key: string): void {
    this.queue.add(key);
  }

  /** True once the informers synced and the workers run; for readiness checks. */
  isRunning(): boolean {
    return this.running;
  }

  private async startOnce(): Promise<void> {
    const primary = this.options.informer;
    this.unsubscribe.push(
      primary.addHandler(this.handlers(primary, (object) => [objectKey(object)], this.options.filter)),
    );
    for (const watch of this.options.watches ?? []) {
      this.unsubscribe.push(
        watch.informer.addHandler(this.handlers(watch.informer, watch.mapToKeys, watch.filter)),
      );
    }
    const informers = [primary, ...(this.options.watches ?? []).map((w) => w.informer)];
    for (const informer of informers) informer.start();
    const timeoutMs = this.options.cacheSyncTimeoutMs ?? 120_000;
    try {
      await Promise.all(informers.map((informer) => informer.waitForSync(timeoutMs)));
    } catch (error) {
      const waiting = informers.filter((i) => !i.hasSynced()).map((i) => i.name);
      throw new CacheSyncTimeoutError(
        `controller ${this.name}: informers ${waiting.join(', ') || '(none)'} did not sync: ${String(error)}`,
      );
    }
    if (this.stopping) {
      // Stopped while waiting for the caches: nothing may be enqueued any more.
      for (const unsubscribe of this.unsubscribe.splice(0)) unsubscribe();
      return;
    }
    this.options.metrics?.controllerStarted(this.name, this.concurrency);
    this.unobserveQueue = this.options.metrics?.observeQueue(this.name, this.queue);
    this.workers = Array.from({ length: this.concurrency }, () => this.worker());
    this.running = true;
    this.logger.info({ workers: this.concurrency }, 'controller started');
  }

  private async stopOnce(timeoutMs: number): Promise<void> {
    for (const unsubscribe of this.unsubscribe.splice(0)) unsubscribe();
    this.running = false;
    const drained = (async () => {
      await this.queue.shutDownWithDrain();
      await Promise.all(this.workers);
    })();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      drained.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.logger.warn(
        { timeoutMs, inFlight: this.active },
        'reconciles did not finish in time; aborting them',
      );
      this.abortController.abort();
      await Promise.race([drained, new Promise((resolve) => setTimeout(resolve, 5000))]);
    }
    this.unobserveQueue?.();
    this.logger.info({}, 'controller stopped');
  }

  private handlers<O extends KubernetesObject>(
    informer: Informer<O>,
    mapToKeys: (object: O) => Iterable<string>,
    filter: ((event: WatchEvent<O>) => boolean) | undefined,
  ): InformerHandlers<O> {
    const enqueue = (event: WatchEvent<O>, ...objects: O[]) => {
      if (filter && !filter(event)) return;
      for (const object of objects) {
        for (const key of mapToKeys(object)) {
          this.logger.debug({ key, event: event.type, source: informer.name }, 'enqueued');
          this.queue.add(key);
        }
      }
    };
    return {
      add: (object) => enqueue({ type: 'add', object }, object),
      // Both: a child whose owner reference changed must reconcile the old owner too.
      update: (oldObject, object) =>
        enqueue(
          { type: 'update', object, oldObject },
          ...(oldObject === object ? [object] : [oldObject, object]),
        ),
      delete: (object) => enqueue({ type: 'delete', object }, object),
    };
  }

  private async worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      // Once stopping, keys still queued are left for the next leader's initial list.
      if (this.stopping) {
        this.queue.done(key);
        continue;
      }
      await this.process(key);
    }
  }

  private async process(key: string): Promise<void> {
    const reconcileId = randomUUID();
    const logger = withFields(this.logger, { key, reconcileId });
    const requeues = this.queue.numRequeues(key);
    const startedAt = performance.now();
    this.active += 1;
    this.options.metrics?.activeWorkers(this.name, this.active);
    let outcome: ReconcileOutcome = 'success';
    try {
      const result = await this.options.reconcile(key, this.abortController.signal, {
        reconcileId,
        logger,
        requeues,
      });
      if (result?.requeueAfter !== undefined && result.requeueAfter > 0) {
        outcome = 'requeue_after';
        this.queue.forget(key);
        this.queue.addAfter(key, result.requeueAfter);
      } else if (result?.requeue) {
        outcome = 'requeue';
        this.queue.addRateLimited(key);
      } else {
        this.queue.forget(key);
      }
    } catch (error) {
      outcome = 'error';
      if (error instanceof TerminalReconcileError) {
        // Retrying cannot fix it; the next change to the object will trigger a reconcile.
        this.queue.forget(key);
        logger.error({ err: error }, 'reconcile failed terminally; not retrying');
      } else {
        this.queue.addRateLimited(key);
        logger.error({ err: error, requeues: requeues + 1 }, 'reconcile failed; retrying with backoff');
      }
    } finally {
      const seconds = (performance.now() - startedAt) / 1000;
      this.active -= 1;
      this.options.metrics?.activeWorkers(this.name, this.active);
      this.options.metrics?.reconciled(this.name, outcome, seconds);
      logger.debug({ outcome, durationSeconds: seconds }, 'reconciled');
      this.queue.done(key);
    }
  }
}

function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}
