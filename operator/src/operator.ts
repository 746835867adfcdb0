import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { MetricsRegistry } from '@switchboard/telemetry';
import { API_VERSION, KIND } from './api/v1alpha1/index.ts';
import { KubeEventRecorder } from './controller/events.ts';
import { TenantReconciler } from './controller/tenant-reconciler.ts';
import { KubeClient } from './kube/kube-client.ts';
import {
  Controller,
  HealthServer,
  Informer,
  informersSynced,
  LeaderElector,
  OperatorMetrics,
  ownerKeys,
  type RuntimeLogger,
  silentLogger,
  splitObjectKey,
} from './runtime/index.ts';
import { MANAGED_BY } from './specs/names.ts';
import type { OperatorConfig } from './specs/operator-config.ts';

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
}

// Children whose status the reconcile reads: their changes re-trigger the owner's reconcile.
const WATCHED_CHILDREN = [
  { apiVersion: 'apps/v1', kind: 'Deployment' },
  { apiVersion: 'apps/v1', kind: 'StatefulSet' },
  { apiVersion: 'batch/v1', kind: 'Job' },
] as const;

// Discovery answers are cached: the monitoring CRDs are installed rarely, and asking on every
// reconcile would add a request to each one.
const DISCOVERY_TTL_MS = 60_000;

/** The running operator. */
export class SwitchboardOperator {
  /** The REST client of the reconciles (its counters are the operator's write count). */
  readonly client: KubeClient;
  private readonly logger: RuntimeLogger;
  private readonly informers: Informer<KubernetesObject>[] = [];
  private readonly controllers: Controller<KubernetesObject>[] = [];
  private readonly elector: LeaderElector;
  private readonly healthServer: HealthServer;
  private readonly metricsServer: HealthServer;
  private monitoring: { available: boolean; checkedAt: number } | undefined;
  private stopping: Promise<void> | undefined;

  constructor(options: SwitchboardOperatorOptions) {
    this.logger = options.logger ?? silentLogger;
    const metrics = new OperatorMetrics(options.metrics);
    this.client = new KubeClient({ kubeConfig: options.kubeConfig, fieldManager: FIELD_MANAGER });
    const reconciler = new TenantReconciler({
      client: this.client,
      config: options.config,
      events: new KubeEventRecorder({
        client: this.client,
        component: FIELD_MANAGER,
        instance: options.leaderElection.identity,
        onError: (error) => this.logger.warn({ err: error }, 'could not record an Event'),
      }),
      ...(options.platformDatabaseUrl ? { platformDatabaseUrl: options.platformDatabaseUrl } : {}),
      serviceMonitorsAvailable: () => this.serviceMonitorsAvailable(),
    });

    const scopes: (string | undefined)[] =
      options.watchNamespaces.length > 0 ? [...options.watchNamespaces] : [undefined];
    for (const namespace of scopes) {
      const common = {
        kubeConfig: options.kubeConfig,
        ...(namespace ? { namespace } : {}),
        metrics,
        logger: this.logger,
        ...(options.resyncPeriodMs ? { resyncPeriodMs: options.resyncPeriodMs } : {}),
      };
      const tenants = new Informer<KubernetesObject>({
        ...common,
        apiVersion: API_VERSION,
        kind: KIND,
        name: `whatsapptenants${namespace ? `-${namespace}` : ''}`,
      });
      const children = WATCHED_CHILDREN.map(
        (type) =>
          new Informer<KubernetesObject>({
            ...common,
            ...type,
            labelSelector: `app.kubernetes.io/managed-by=${MANAGED_BY}`,
            name: `${type.kind.toLowerCase()}s${namespace ? `-${namespace}` : ''}`,
          }),
      );
      this.informers.push(tenants, ...children);
      this.controllers.push(
        new Controller<KubernetesObject>({
          name: namespace ? `whatsapptenant-${namespace}` : 'whatsapptenant',
          informer: tenants,
          watches: children.map((informer) => ({
            informer,
            mapToKeys: ownerKeys({ apiVersion: API_VERSION, kind: KIND }),
          })),
          reconcile: async (key) => {
            const { namespace: ns, name } = splitObjectKey(key);
            return await reconciler.reconcile(ns!, name);
          },
          concurrency: options.concurrency ?? 4,
          metrics,
          logger: this.logger,
        }),
      );
    }

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
      metrics,
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
      readinessChecks: { informers: informersSynced(...this.informers) },
    });
    this.metricsServer = new HealthServer({ port: options.metricsPort ?? 8080, metrics: options.metrics });
  }

  /** Starts the informers and servers, then campaigns for leadership. */
  async start(): Promise<{ healthPort: number; metricsPort: number }> {
    for (const informer of this.informers) informer.start();
    const [health, metrics] = await Promise.all([this.healthServer.listen(), this.metricsServer.listen()]);
    this.elector.start();
    return { healthPort: health.port, metricsPort: metrics.port };
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

  private async serviceMonitorsAvailable(): Promise<boolean> {
    const now = Date.now();
    if (this.monitoring && now - this.monitoring.checkedAt < DISCOVERY_TTL_MS)
      return this.monitoring.available;
    const group = await this.client.getPath<{ resources?: { kind: string }[] }>(
      '/apis/monitoring.coreos.com/v1',
    );
    const available = (group?.resources ?? []).some((resource) => resource.kind === 'ServiceMonitor');
    this.monitoring = { available, checkedAt: now };
    return available;
  }
}
