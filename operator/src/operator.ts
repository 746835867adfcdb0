import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { MetricsRegistry } from '@switchboard/telemetry';
import { API_VERSION, KIND } from './api/v1alpha1/index.ts';
import { KubeEventRecorder } from './controller/events.ts';
import type { TenantApi } from './controller/tenant-api.ts';
import { TenantReconciler } from './controller/tenant-reconciler.ts';
import { KubeClient } from './kube/kube-client.ts';
import { ObjectCache } from './kube/object-cache.ts';
import {
  Controller,
  HealthServer,
  Informer,
  informersSynced,
  LeaderElector,
  OperatorMetrics,
  ownerKeys,
  type RuntimeLogger,
  type SecondaryWatch,
  silentLogger,
  splitObjectKey,
  type WatchEvent,
} from './runtime/index.ts';
import { MANAGED_BY } from './specs/names.ts';
import type { OperatorConfig } from './specs/operator-config.ts';
import { registerTenantPhaseMetrics } from './tenant-metrics.ts';

/**
 * The operator as one testable object: informers, the WhatsAppTenant controller, leader
 * election, health and metrics servers, wired from options (server.ts reads them from the
 * environment). Every replica keeps warm caches and reports ready; only the leader reconciles.
 */

/** The field manager of everything the operator applies. */
export const FIELD_MANAGER = 'switchboard-operator';

/** Options for SwitchboardOperator. */
export interface SwitchboardOperatorOptions {
  kubeConfig: KubeConfig;
  config: OperatorConfig;
  /** Namespaces to manage; all when empty. */
  watchNamespaces: readonly string[];
  /** Leader election: where the Lease lives, its name, and this replica's identity. */
  leaderElection: {
    namespace: string;
    name: string;
    identity: string;
    leaseDurationMs?: number;
    renewDeadlineMs?: number;
    retryPeriodMs?: number;
  };
  /** The platform Postgres admin URL for managed databases (read on use). */
  platformDatabaseUrl?: () => Promise<string | undefined>;
  metrics: MetricsRegistry;
  logger?: RuntimeLogger;
  /** Tenants reconciled at once. */
  concurrency?: number;
  /** Every tenant is reconciled at least this often. */
  resyncPeriodMs?: number;
  /** Ports of the metrics and health servers; 0 picks a free one (tests). */
  metricsPort?: number;
  healthPort?: number;
  /** Called when leadership is lost: the process should exit and be restarted (controller-runtime does). */
  onLostLeadership?: () => void;
  /** Client-side rate limit of the operator's requests (client-go's QPS/Burst); DEFAULT_RATE_LIMIT when absent. */
  rateLimit?: { qps: number; burst: number };
  /** Child applies in flight at once within one reconcile; default 16. */
  applyConcurrency?: number;
  /** The tenants' own APIs (sessions, owner invite); default HTTP to each tenant's API Service. */
  tenantApi?: TenantApi;
  /** How often a running tenant's API is read again; default 30 s. */
  tenantApiPollMs?: number;
}

/**
 * The default client-side rate limit. controller-runtime's is QPS 20 / burst 30; a first
 * rollout of 500 tenants is about 13,000 writes, which at 20 a second takes 11 minutes, so the
 * operator allows what the API server can take (bench/README.md: a kube-apiserver on two
 * cores sustains about 250 applies a second) and leaves the protection of the server to its
 * priority and fairness. Configurable: KUBE_API_QPS / KUBE_API_BURST, chart values operator.kubeApi.
 */
export const DEFAULT_RATE_LIMIT = { qps: 400, burst: 800 } as const;

/**
 * Every kind the operator creates (controller-runtime's `Owns()`): a change or deletion of one
 * of these, made by anyone but the operator, reconciles the owning tenant. Each informer
 * holds only the operator's objects (label selector `app.kubernetes.io/managed-by`).
 */
export const OWNED_KINDS = [
  { apiVersion: 'v1', kind: 'Secret' },
  { apiVersion: 'v1', kind: 'ConfigMap' },
  { apiVersion: 'v1', kind: 'Service' },
  { apiVersion: 'v1', kind: 'ServiceAccount' },
  { apiVersion: 'apps/v1', kind: 'Deployment' },
  { apiVersion: 'apps/v1', kind: 'StatefulSet' },
  { apiVersion: 'batch/v1', kind: 'Job' },
  { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget' },
  { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' },
] as const;

/** Owned kinds of the Prometheus Operator, watched when discovery finds them at start. */
export const MONITORING_KINDS = [
  { apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor' },
  { apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule' },
] as const;

/**
 * The tenant predicate (controller-runtime's GenerationChangedPredicate, plus deletion): an
 * update passes when the spec changed (metadata.generation) or deletion started, so the
 * operator's own status writes and finalizer edits do not reconcile the tenant again. Adds,
 * deletes and resyncs (the same object twice) always pass.
 */
export function tenantChanged(event: WatchEvent<KubernetesObject>): boolean {
  if (event.type !== 'update' || !event.oldObject || event.oldObject === event.object) return true;
  const before = event.oldObject.metadata;
  const after = event.object.metadata;
  return (
    before?.generation !== after?.generation ||
    Boolean(before?.deletionTimestamp) !== Boolean(after?.deletionTimestamp)
  );
}

// Whether to build ServiceMonitors and PrometheusRules: asked of discovery at most once a minute, and only while
// reconciles run (an idle operator sends nothing). Prometheus Operator CRDs installed after the
// start get their ServiceMonitors within a minute; their informers start with the next restart.
const DISCOVERY_TTL_MS = 60_000;

/** The running operator. */
export class SwitchboardOperator {
  /** The REST client of the reconciles (its counters are the operator's write count). */
  readonly client: KubeClient;
  /** The informer caches the reconciles read from. */
  readonly cache: ObjectCache;
  private readonly options: SwitchboardOperatorOptions;
  private readonly metrics: OperatorMetrics;
  private readonly reconciler: TenantReconciler;
  private readonly logger: RuntimeLogger;
  private readonly informers: Informer<KubernetesObject>[] = [];
  /** The WhatsAppTenant informers (one per watched namespace, or one cluster-wide). */
  private readonly tenantInformers: Informer<KubernetesObject>[] = [];
  private readonly controllers: Controller<KubernetesObject>[] = [];
  private readonly elector: LeaderElector;
  private readonly healthServer: HealthServer;
  private readonly metricsServer: HealthServer;
  private monitoring: { served: Set<string>; checkedAt: number } | undefined;
  private stopping: Promise<void> | undefined;
  private inFlight = 0;
  private reconciles = 0;

  constructor(options: SwitchboardOperatorOptions) {
    this.options = options;
    this.logger = options.logger ?? silentLogger;
    this.metrics = new OperatorMetrics(options.metrics);
    registerTenantPhaseMetrics(options.metrics, () =>
      this.tenantInformers.flatMap((informer) => informer.list() as { status?: { phase?: string } }[]),
    );
    this.client = new KubeClient({
      kubeConfig: options.kubeConfig,
      fieldManager: FIELD_MANAGER,
      rateLimit: options.rateLimit ?? DEFAULT_RATE_LIMIT,
      writeObserver: {
        writeStarted: (ref) => this.cache.writeStarted(ref),
        writeEnded: (ref, answer) => this.cache.writeEnded(ref, answer),
      },
    });
    this.cache = new ObjectCache(this.client);
    this.reconciler = new TenantReconciler({
      client: this.client,
      reader: this.cache,
      ...(options.applyConcurrency ? { applyConcurrency: options.applyConcurrency } : {}),
      config: options.config,
      events: new KubeEventRecorder({
        client: this.client,
        component: FIELD_MANAGER,
        instance: options.leaderElection.identity,
        onError: (error) => this.logger.warn({ err: error }, 'could not record an Event'),
      }),
      ...(options.platformDatabaseUrl ? { platformDatabaseUrl: options.platformDatabaseUrl } : {}),
      serviceMonitorsAvailable: () => this.monitoringKindServed('ServiceMonitor'),
      prometheusRulesAvailable: () => this.monitoringKindServed('PrometheusRule'),
      ...(options.tenantApi ? { tenantApi: options.tenantApi } : {}),
      ...(options.tenantApiPollMs ? { tenantApiPollMs: options.tenantApiPollMs } : {}),
    });

    this.elector = new LeaderElector({
      kubeConfig: options.kubeConfig,
      namespace: options.leaderElection.namespace,
      name: options.leaderElection.name,
      identity: options.leaderElection.identity,
      ...(options.leaderElection.leaseDurationMs
        ? { leaseDurationMs: options.leaderElection.leaseDurationMs }
        : {}),
      ...(options.leaderElection.renewDeadlineMs
        ? { renewDeadlineMs: options.leaderElection.renewDeadlineMs }
        : {}),
      ...(options.leaderElection.retryPeriodMs
        ? { retryPeriodMs: options.leaderElection.retryPeriodMs }
        : {}),
      metrics: this.metrics,
      logger: this.logger,
      onStartedLeading: async (signal) => {
        this.logger.info({ identity: options.leaderElection.identity }, 'leading: reconciling tenants');
        await Promise.all(this.controllers.map((controller) => controller.run(signal)));
      },
      onStoppedLeading: () => {
        if (!this.stopping) {
          this.logger.warn({ identity: options.leaderElection.identity }, 'lost leadership');
          options.onLostLeadership?.();
        }
      },
    });
    // Ready as soon as the caches are warm, leader or not: a standby that reported unready
    // would block the Deployment's rollout and the PodDisruptionBudget.
    this.healthServer = new HealthServer({
      port: options.healthPort ?? 8081,
      readinessChecks: {
        informers: () => {
          if (this.informers.length === 0) throw new Error('informers not started');
          informersSynced(...this.informers)();
        },
      },
    });
    this.metricsServer = new HealthServer({ port: options.metricsPort ?? 8080, metrics: options.metrics });
  }

  /**
   * Builds the informers and controllers (asking discovery once whether the Prometheus
   * Operator's kinds are served), starts them and the servers, then campaigns for leadership.
   * Every replica keeps warm caches; only the leader's controllers run.
   */
  async start(): Promise<{ healthPort: number; metricsPort: number }> {
    const monitoring = await this.servedMonitoringKinds();
    this.buildControllers([...OWNED_KINDS, ...monitoring]);
    for (const informer of this.informers) informer.start();
    const [health, metrics] = await Promise.all([this.healthServer.listen(), this.metricsServer.listen()]);
    this.elector.start();
    return { healthPort: health.port, metricsPort: metrics.port };
  }

  private buildControllers(kinds: readonly { apiVersion: string; kind: string }[]): void {
    const options = this.options;
    const scopes: (string | undefined)[] =
      options.watchNamespaces.length > 0 ? [...options.watchNamespaces] : [undefined];
    const cache = this.cache;
    const toOwner = ownerKeys({ apiVersion: API_VERSION, kind: KIND });
    for (const namespace of scopes) {
      // Bound below; the held events of the filter enqueue through it.
      let controller: Controller<KubernetesObject> | undefined;
      // The operator's own writes come back as watch events: not a reason to reconcile.
      const notOwnWrite = (event: WatchEvent<KubernetesObject>) =>
        !cache.observe(event.type, event.object, () => {
          for (const key of toOwner(event.object)) controller?.enqueue(key);
        });
      const suffix = namespace ? `-${namespace}` : '';
      const common = {
        kubeConfig: options.kubeConfig,
        ...(namespace ? { namespace } : {}),
        metrics: this.metrics,
        logger: this.logger,
      };
      // Only the tenants resync: one full pass per tenant per period is the level-triggered
      // safety net; a child resync would only reconcile the same tenant again.
      const tenants = new Informer<KubernetesObject>({
        ...common,
        apiVersion: API_VERSION,
        kind: KIND,
        name: `whatsapptenants${suffix}`,
        ...(options.resyncPeriodMs ? { resyncPeriodMs: options.resyncPeriodMs } : {}),
      });
      cache.register(tenants, { apiVersion: API_VERSION, kind: KIND, namespace });
      this.informers.push(tenants);
      this.tenantInformers.push(tenants);
      const watches: SecondaryWatch<KubernetesObject>[] = kinds.map((type) => {
        const informer = new Informer<KubernetesObject>({
          ...common,
          ...type,
          labelSelector: `app.kubernetes.io/managed-by=${MANAGED_BY}`,
          name: `${type.kind.toLowerCase()}s${suffix}`,
          resyncPeriodMs: 0,
        });
        cache.register(informer, { ...type, namespace });
        this.informers.push(informer);
        return {
          informer,
          mapToKeys: toOwner,
          filter: notOwnWrite,
        };
      });
      controller = new Controller<KubernetesObject>({
        name: namespace ? `whatsapptenant-${namespace}` : 'whatsapptenant',
        informer: tenants,
        filter: (event) => {
          cache.observe(event.type, event.object);
          return tenantChanged(event);
        },
        watches,
        reconcile: async (key) => {
          const { namespace: ns, name } = splitObjectKey(key);
          this.inFlight += 1;
          try {
            return await this.reconciler.reconcile(ns!, name);
          } finally {
            this.inFlight -= 1;
            this.reconciles += 1;
          }
        },
        concurrency: options.concurrency ?? 8,
        metrics: this.metrics,
        logger: this.logger,
      });
      this.controllers.push(controller);
    }
  }

  /** The Prometheus Operator kinds the API server serves (none when the group is absent). */
  private async servedMonitoringKinds(): Promise<{ apiVersion: string; kind: string }[]> {
    const group = await this.client.getPath<{ resources?: { kind: string }[] }>(
      '/apis/monitoring.coreos.com/v1',
    );
    const served = new Set((group?.resources ?? []).map((resource) => resource.kind));
    this.monitoring = { served, checkedAt: Date.now() };
    return MONITORING_KINDS.filter((type) => served.has(type.kind));
  }

  /** Reconciles finished (any outcome) since start. */
  reconcileCount(): number {
    return this.reconciles;
  }

  /** True when no key is queued (delayed requeues aside) and no reconcile runs. */
  controllerQueueIdle(): boolean {
    return this.inFlight === 0 && this.controllers.every((controller) => controller.queue.len() === 0);
  }

  /** True while this replica holds the Lease. */
  isLeader(): boolean {
    return this.elector.isLeader();
  }

  /**
   * Graceful stop (SIGTERM): finish the reconciles in flight, release the Lease so a standby
   * takes over at once, then stop watching. `release: false` leaves the Lease to expire, as
   * a crash would (tests).
   */
  async stop(options: { release?: boolean } = {}): Promise<void> {
    this.stopping ??= (async () => {
      await this.elector.stop({ release: options.release ?? true });
      await Promise.all(this.informers.map((informer) => informer.stop()));
      await Promise.all([this.healthServer.close(), this.metricsServer.close()]);
      this.client.close();
    })();
    await this.stopping;
  }

  private async monitoringKindServed(kind: string): Promise<boolean> {
    const now = Date.now();
    if (this.monitoring && now - this.monitoring.checkedAt < DISCOVERY_TTL_MS)
      return this.monitoring.served.has(kind);
    const group = await this.client.getPath<{ resources?: { kind: string }[] }>(
      '/apis/monitoring.coreos.com/v1',
    );
    const served = new Set((group?.resources ?? []).map((resource) => resource.kind));
    this.monitoring = { served, checkedAt: now };
    return served.has(kind);
  }
}
