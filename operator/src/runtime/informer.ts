import type { Agent } from 'node:http';
import { type KubeConfig, type KubernetesObject, Watch } from '@kubernetes/client-node';
import { apiRequest, statusCodeOf } from './api-request.ts';
import { ApiStatusError, CacheSyncTimeoutError, type KubeStatus } from './errors.ts';
import { type RuntimeLogger, silentLogger, withFields } from './logger.ts';
import type { OperatorMetrics, WatchRestartReason } from './metrics.ts';

/** Callbacks for changes to an informer's cache; each runs after the cache was updated. */
export interface InformerHandlers<T> {
  /** An object appeared (initial list, watch ADDED, or found by a re-list). */
  add?(object: T): void;
  /** An object changed; on a resync `oldObject` and `newObject` are the same object. */
  update?(oldObject: T, newObject: T): void;
  /** An object went away; its last known state (or the final state the watch sent). */
  delete?(object: T): void;
}

/** What the list-watch loop is doing, for logs, tests and debugging. */
export type InformerLifecycleEvent =
  | { type: 'listed'; items: number; resourceVersion: string }
  | { type: 'list-failed'; error: unknown }
  | { type: 'watch-started'; resourceVersion: string }
  | { type: 'watch-ended'; reason: WatchRestartReason; events: number; error?: unknown };

/** Options for `Informer`. */
export interface InformerOptions<T extends KubernetesObject> {
  /** Credentials and server. */
  kubeConfig: KubeConfig;
  /** API version of the resource: `v1`, `apps/v1`, `switchboard.dev/v1alpha1`. */
  apiVersion: string;
  /** Kind of the resource: `ConfigMap`, `WhatsAppTenant`. */
  kind: string;
  /** Only this namespace; all namespaces (or a cluster-scoped resource) when omitted. */
  namespace?: string;
  /** Only objects matching this label selector, e.g. `app.kubernetes.io/managed-by=switchboard`. */
  labelSelector?: string;
  /** Only objects matching this field selector. */
  fieldSelector?: string;
  /** Name in logs and metrics; default the kind. */
  name?: string;
  /**
   * Every this many milliseconds every cached object is delivered again as an update, so a
   * controller corrects drift it was never told about; 0 turns it off. Default 10 hours,
   * controller-runtime's SyncPeriod.
   */
  resyncPeriodMs?: number;
  /**
   * Restart a watch that delivered nothing, not even a bookmark, for this long. The API
   * server sends a bookmark about once a minute (the watch cache's
   * defaultBookmarkFrequency), so the default, 150 s, is two missed bookmarks plus slack:
   * long enough never to fire on a healthy watch, short enough that a connection a
   * middlebox silently dropped does not hide changes for the TCP keepalive's minutes.
   */
  watchdogMs?: number;
  /**
   * Server-side timeout of each watch request; default random between 5 and 10 minutes
   * like client-go's reflector, so many informers do not reconnect in lockstep.
   */
  watchTimeoutSeconds?: number;
  /** First reconnect delay after a failed list or watch; default 800 ms (client-go's reflector). */
  backoffInitialMs?: number;
  /** Largest reconnect delay; default 30 s (client-go's reflector). */
  backoffMaxMs?: number;
  /** Objects per list page; default 500 (client-go's pager). */
  pageSize?: number;
  /**
   * Turns an object as the API server sent it (JSON: timestamps are strings, `from` is
   * `from`) into `T`; default: kept as it is, the shape the operator's KubeClient reads and
   * writes. Parse or validate here (a zod schema) to hand the handlers typed objects.
   */
  decode?: (raw: KubernetesObject) => T;
  /** Structured logger; silent by default. */
  logger?: RuntimeLogger;
  /** Counts watch restarts. */
  metrics?: OperatorMetrics;
  /** Called on every list and watch transition. */
  onLifecycleEvent?: (event: InformerLifecycleEvent) => void;
}

interface ResourceInfo {
  plural: string;
  namespaced: boolean;
}

interface WatchOutcome {
  reason: WatchRestartReason | 'stopped';
  events: number;
  durationMs: number;
  error?: unknown;
}

interface ListBody {
  metadata?: { resourceVersion?: string; continue?: string };
  items?: KubernetesObject[];
}

// A watch that ended cleanly after at least this long, or after delivering anything, was
// healthy: reconnect at once and reset the backoff (a server-side timeout looks like this).
const HEALTHY_WATCH_MS = 1000;

/** The cache key of an object: `namespace/name`, or `name` for a cluster-scoped object (client-go's MetaNamespaceKeyFunc). */
export function objectKey(object: KubernetesObject): string {
  const { namespace, name } = object.metadata ?? {};
  return namespace ? `${namespace}/${name ?? ''}` : (name ?? '');
}

/** Splits a key from `objectKey` into namespace (absent for cluster-scoped objects) and name. */
export function splitObjectKey(key: string): { namespace?: string; name: string } {
  const slash = key.indexOf('/');
  return slash < 0 ? { name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/**
 * A list-watch cache of one resource, with client-go's informer behaviour written for
 * client-node: it lists (paginated), then watches from the list's resourceVersion with
 * bookmarks; a closed or failed watch resumes from the last resourceVersion seen, after an
 * exponential backoff with jitter; a 410 Gone re-lists and delivers the difference (adds,
 * updates, and deletes for objects that vanished meanwhile); a watchdog restarts a watch
 * that went silent; and a periodic resync re-delivers every object. client-node's own
 * `makeInformer` stops on the first non-410 error, which is why this exists.
 */
export class Informer<T extends KubernetesObject = KubernetesObject> {
  /** Name in logs and metrics. */
  readonly name: string;
  private readonly options: InformerOptions<T>;
  private readonly logger: RuntimeLogger;
  private readonly watchdogMs: number;
  private readonly backoffInitialMs: number;
  private readonly backoffMaxMs: number;
  private readonly decode: (raw: KubernetesObject) => T;
  private cache = new Map<string, T>();
  private readonly handlers = new Set<InformerHandlers<T>>();
  private resource: ResourceInfo | undefined;
  private resourceVersion = '';
  private synced = false;
  private syncWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  private started = false;
  private stopped = false;
  private readonly stopController = new AbortController();
  private loop: Promise<void> | undefined;
  private endWatch: ((reason: 'stopped') => void) | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;

  /** Creates the informer; nothing happens until `start`. */
  constructor(options: InformerOptions<T>) {
    this.options = options;
    this.name = options.name ?? options.kind;
    this.logger = withFields(options.logger ?? silentLogger, { informer: this.name });
    this.watchdogMs = options.watchdogMs ?? 150_000;
    this.backoffInitialMs = options.backoffInitialMs ?? 800;
    this.backoffMaxMs = options.backoffMaxMs ?? 30_000;
    this.decode = options.decode ?? ((raw) => raw as T);
  }

  /** Starts listing and watching in the background; a no-op when already started. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.loop = this.run();
    const resyncPeriodMs = this.options.resyncPeriodMs ?? 10 * 60 * 60 * 1000;
    if (resyncPeriodMs > 0) this.resyncTimer = setInterval(() => this.resync(), resyncPeriodMs);
  }

  /** Stops the watch and every timer; resolves when the loop has ended. The cache stays readable. */
  async stop(): Promise<void> {
    if (this.stopped) return this.loop;
    this.stopped = true;
    this.stopController.abort();
    this.endWatch?.('stopped');
    if (this.resyncTimer !== undefined) clearInterval(this.resyncTimer);
    for (const waiter of this.syncWaiters.splice(0)) {
      waiter.reject(new CacheSyncTimeoutError(`informer ${this.name} stopped before it synced`));
    }
    await this.loop;
  }

  /** True once the first list has been delivered to the handlers. */
  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves once synced; rejects with `CacheSyncTimeoutError` after `timeoutMs` or on `stop`. */
  waitForSync(timeoutMs = 120_000): Promise<void> {
    if (this.synced) return Promise.resolve();
    if (this.stopped) return Promise.reject(new CacheSyncTimeoutError(`informer ${this.name} is stopped`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.syncWaiters = this.syncWaiters.filter((w) => w !== waiter);
        reject(new CacheSyncTimeoutError(`informer ${this.name} did not sync within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error: Error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.syncWaiters.push(waiter);
    });
  }

  /** Every cached object. */
  list(): T[] {
    return [...this.cache.values()];
  }

  /** The cached object with key `namespace/name` (or `name`), if any. */
  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  /** The resourceVersion the cache is at: the last list's, then each event's. */
  lastResourceVersion(): string {
    return this.resourceVersion;
  }

  /**
   * Registers handlers; when the cache is already synced they first get an `add` for every
   * cached object, as client-go does, so a late registration misses nothing. Returns a
   * function that unregisters them.
   */
  addHandler(handlers: InformerHandlers<T>): () => void {
    this.handlers.add(handlers);
    if (this.synced) for (const object of this.cache.values()) this.call(handlers, 'add', object);
    return () => {
      this.handlers.delete(handlers);
    };
  }

  private async run(): Promise<void> {
    let needList = true;
    let failures = 0;
    while (!this.stopped) {
      if (needList) {
        try {
          await this.listAndReplace();
          needList = false;
          failures = 0;
        } catch (error) {
          if (this.stopped) return;
          this.emitLifecycle({ type: 'list-failed', error });
          this.logger.warn({ err: error }, 'list failed; retrying');
          await this.sleep(this.backoff(failures++));
          continue;
        }
      }
      const outcome = await this.watchOnce();
      if (this.stopped || outcome.reason === 'stopped') return;
      const { reason } = outcome;
      this.options.metrics?.watchRestarted(this.name, reason);
      this.emitLifecycle({
        type: 'watch-ended',
        reason,
        events: outcome.events,
        ...(outcome.error === undefined ? {} : { error: outcome.error }),
      });
      const healthy = outcome.events > 0 || outcome.durationMs >= HEALTHY_WATCH_MS;
      if (healthy) failures = 0;
      if (reason === 'expired') {
        // The resourceVersion is gone from the server's history: only a fresh list
        // can tell what changed, so re-list at once (client-go does the same).
        this.logger.info({}, 'watch expired (410); re-listing');
        needList = true;
        continue;
      }
      if (reason === 'watchdog') {
        this.logger.warn({ silentForMs: this.watchdogMs }, 'watch went silent; restarting it');
        continue;
      }
      if (reason === 'closed' && healthy) {
        this.logger.debug({ events: outcome.events }, 'watch closed; resuming');
        continue;
      }
      this.logger.warn({ err: outcome.error, reason }, 'watch failed; reconnecting with backoff');
      await this.sleep(this.backoff(failures++));
    }
  }

  private async discover(): Promise<ResourceInfo> {
    if (this.resource) return this.resource;
    const { apiVersion, kind } = this.options;
    const list = await apiRequest<{ resources?: { name: string; kind: string; namespaced: boolean }[] }>(
      this.options.kubeConfig,
      { path: groupVersionPath(apiVersion), timeoutMs: 30_000, signal: this.stopController.signal },
    );
    const found = list.resources?.find((r) => r.kind === kind && !r.name.includes('/'));
    if (!found) throw new Error(`the API server does not serve ${kind} in ${apiVersion}`);
    this.resource = { plural: found.name, namespaced: found.namespaced };
    return this.resource;
  }

  private collectionPath(resource: ResourceInfo): string {
    const base = groupVersionPath(this.options.apiVersion);
    const { namespace } = this.options;
    return resource.namespaced && namespace
      ? `${base}/namespaces/${encodeURIComponent(namespace)}/${resource.plural}`
      : `${base}/${resource.plural}`;
  }

  private async listAndReplace(): Promise<void> {
    const resource = await this.discover();
    const path = this.collectionPath(resource);
    const items: T[] = [];
    let continueToken: string | undefined;
    let limit: number | undefined = this.options.pageSize ?? 500;
    let resourceVersion = '';
    for (;;) {
      let page: ListBody;
      try {
        page = await apiRequest<ListBody>(this.options.kubeConfig, {
          path,
          query: {
            limit,
            continue: continueToken,
            labelSelector: this.options.labelSelector,
            fieldSelector: this.options.fieldSelector,
          },
          timeoutMs: 60_000,
          signal: this.stopController.signal,
        });
      } catch (error) {
        if (statusCodeOf(error) === 410 && continueToken !== undefined) {
          // The continue token outlived etcd's compaction: fall back to one unpaginated
          // list, as client-go's pager does, rather than failing forever on a big list.
          items.length = 0;
          continueToken = undefined;
          limit = undefined;
          continue;
        }
        throw error;
      }
      // List items carry no apiVersion/kind; the watch's objects do. Make them alike.
      for (const raw of page.items ?? []) {
        items.push(this.decode({ apiVersion: this.options.apiVersion, kind: this.options.kind, ...raw }));
      }
      resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
      continueToken = page.metadata?.continue || undefined;
      if (continueToken === undefined) break;
    }
    if (this.stopped) return;
    this.replace(items, resourceVersion);
    this.emitLifecycle({ type: 'listed', items: items.length, resourceVersion });
    this.logger.debug({ items: items.length, resourceVersion }, 'listed');
  }

  /** Swaps in a fresh list and delivers the difference to the handlers. */
  private replace(items: T[], resourceVersion: string): void {
    const previous = this.cache;
    const next = new Map<string, T>();
    for (const item of items) next.set(objectKey(item), item);
    this.cache = next;
    this.resourceVersion = resourceVersion;
    for (const [key, object] of next) {
      const old = previous.get(key);
      if (old === undefined) this.emit('add', object);
      else if (old.metadata?.resourceVersion !== object.metadata?.resourceVersion)
        this.emit('update', object, old);
    }
    for (const [key, old] of previous) {
      if (!next.has(key)) this.emit('delete', old);
    }
    if (!this.synced) {
      this.synced = true;
      for (const waiter of this.syncWaiters.splice(0)) waiter.resolve();
    }
  }

  private watchOnce(): Promise<WatchOutcome> {
    const resource = this.resource!;
    const path = this.collectionPath(resource);
    const startedAt = Date.now();
    const fromVersion = this.resourceVersion;
    return new Promise<WatchOutcome>((resolve) => {
      let finished = false;
      let events = 0;
      let lastActivity = startedAt;
      let request: AbortController | undefined;
      let agent: Agent | undefined;
      const finish = (reason: WatchOutcome['reason'], error?: unknown) => {
        if (finished) return;
        finished = true;
        clearInterval(watchdog);
        this.endWatch = undefined;
        request?.abort();
        // Destroying the agent also ends a request still waiting for response headers,
        // which `Watch` gives no handle for until they arrive.
        agent?.destroy();
        resolve({
          reason,
          events,
          durationMs: Date.now() - startedAt,
          ...(error === undefined ? {} : { error }),
        });
      };
      this.endWatch = finish;
      const watchdog = setInterval(
        () => {
          if (Date.now() - lastActivity > this.watchdogMs) finish('watchdog');
        },
        Math.max(10, Math.min(1000, this.watchdogMs / 4)),
      );
      const config = agentTrackingConfig(this.options.kubeConfig, (created) => {
        agent = created;
        if (finished) created.destroy();
      });
      const timeoutSeconds = this.options.watchTimeoutSeconds ?? Math.floor(300 * (1 + Math.random()));
      this.emitLifecycle({ type: 'watch-started', resourceVersion: fromVersion });
      new Watch(config)
        .watch(
          path,
          {
            resourceVersion: fromVersion,
            allowWatchBookmarks: true,
            timeoutSeconds,
            labelSelector: this.options.labelSelector,
            fieldSelector: this.options.fieldSelector,
          },
          (type: string, raw: unknown) => {
            if (finished) return;
            lastActivity = Date.now();
            events += 1;
            const outcome = this.handleWatchEvent(type, raw);
            if (outcome) finish(outcome.reason, outcome.error);
          },
          (error: unknown) => {
            if (!error) finish('closed');
            else finish(statusCodeOf(error) === 410 ? 'expired' : 'error', error);
          },
        )
        .then(
          (controller) => {
            request = controller;
            if (finished) controller.abort();
          },
          (error: unknown) => finish('error', error),
        );
    });
  }

  /** Applies one watch event; returns how the watch ends when the event ends it. */
  private handleWatchEvent(
    type: string,
    raw: unknown,
  ): { reason: WatchRestartReason; error: unknown } | undefined {
    if (type === 'ERROR') {
      const status = raw as KubeStatus;
      const code = status.code ?? 500;
      return { reason: code === 410 ? 'expired' : 'error', error: new ApiStatusError(code, status, 'watch') };
    }
    const meta = (raw as KubernetesObject | undefined)?.metadata;
    if (type === 'BOOKMARK') {
      if (meta?.resourceVersion) this.resourceVersion = meta.resourceVersion;
      return undefined;
    }
    if (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED') return undefined;
    const object = this.decode(raw as KubernetesObject);
    const key = objectKey(object);
    const old = this.cache.get(key);
    if (object.metadata?.resourceVersion) this.resourceVersion = object.metadata.resourceVersion;
    if (type === 'DELETED') {
      this.cache.delete(key);
      this.emit('delete', object);
    } else {
      this.cache.set(key, object);
      if (old === undefined) this.emit('add', object);
      else this.emit('update', object, old);
    }
    return undefined;
  }

  private resync(): void {
    if (!this.synced || this.stopped) return;
    for (const object of this.cache.values()) this.emit('update', object, object);
  }

  private emit(type: 'add' | 'update' | 'delete', object: T, old?: T): void {
    for (const handlers of this.handlers) this.call(handlers, type, object, old);
  }

  private call(handlers: InformerHandlers<T>, type: 'add' | 'update' | 'delete', object: T, old?: T): void {
    try {
      if (type === 'add') handlers.add?.(object);
      else if (type === 'update') handlers.update?.(old ?? object, object);
      else handlers.delete?.(object);
    } catch (error) {
      // One broken handler must not stop the cache or the other handlers.
      this.logger.error({ err: error, key: objectKey(object), event: type }, 'informer handler threw');
    }
  }

  private emitLifecycle(event: InformerLifecycleEvent): void {
    try {
      this.options.onLifecycleEvent?.(event);
    } catch (error) {
      this.logger.error({ err: error }, 'onLifecycleEvent threw');
    }
  }

  /** Exponential backoff with "equal jitter": half fixed, half random, capped. */
  private backoff(failures: number): number {
    const base = Math.min(this.backoffMaxMs, this.backoffInitialMs * 2 ** Math.min(failures, 30));
    return base / 2 + (Math.random() * base) / 2;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopController.signal.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        this.stopController.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.stopController.signal.addEventListener('abort', done, { once: true });
    });
  }
}

/** `/api/v1` for the core group, `/apis/<group>/<version>` for the others. */
function groupVersionPath(apiVersion: string): string {
  return apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
}

/**
 * The part of a KubeConfig that `Watch` uses, reporting the HTTP agent each watch request
 * gets (client-node makes a new one per request), so the watchdog can destroy a request
 * that never got its response headers.
 */
function agentTrackingConfig(kubeConfig: KubeConfig, onAgent: (agent: Agent) => void): KubeConfig {
  const tracking: Pick<KubeConfig, 'getCurrentCluster' | 'applyToFetchOptions'> = {
    getCurrentCluster: () => kubeConfig.getCurrentCluster(),
    applyToFetchOptions: async (opts) => {
      const init = await kubeConfig.applyToFetchOptions(opts);
      const agent = init.agent as unknown;
      if (typeof agent === 'object' && agent !== null && 'destroy' in agent) onAgent(agent as Agent);
      return init;
    },
  };
  return tracking as KubeConfig;
}
