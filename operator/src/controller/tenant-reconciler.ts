import type { KubernetesObject, V1Deployment, V1Secret } from '@kubernetes/client-node';
import { API_VERSION, KIND, type WhatsAppTenant, whatsAppTenantSchema } from '../api/v1alpha1/index.ts';
import { KubeApiError, type KubeClient } from '../kube/kube-client.ts';
import type { ObjectReader } from '../kube/object-cache.ts';
import { publicUrl } from '../specs/config-map.ts';
import { databaseSecretName } from '../specs/database-secret.ts';
import { desiredChildren } from '../specs/desired-children.ts';
import { childNames, tenantNamespace, workerSelector } from '../specs/names.ts';
import type { OperatorConfig } from '../specs/operator-config.ts';
import { applyIfDrifted, forEachLimited } from './apply-children.ts';
import { deploymentCounts, observeRedis } from './child-observations.ts';
import type { EventRecorder } from './events.ts';
import type { ReconcileContext, ReconcileResult } from './reconcile-context.ts';
import { HttpTenantApi, type TenantApi } from './tenant-api.ts';
import { DEFAULT_TENANT_API_POLL_MS, observeTenantApi } from './tenant-api-observation.ts';
import { ensureDatabase } from './tenant-database-step.ts';
import { addDatabaseFinalizer, finalize } from './tenant-finalizer.ts';
import { ensureMigrations } from './tenant-migrations.ts';
import { ensureGeneratedSecret, secretDigest } from './tenant-secrets.ts';
import type { TenantObservations } from './tenant-status.ts';
import { type Progress, writeFailure, writeStatus } from './tenant-status-writes.ts';

export type { ReconcileResult } from './reconcile-context.ts';

/**
 * The WhatsAppTenant reconcile: one pass from what the tenant says to what the cluster has,
 * idempotent, safe to run at any time and from any replica that holds the leader lease.
 *
 * Order, and why:
 * 1. deletion: a managed database is dropped or kept (deletionPolicy) before the finalizer goes;
 * 2. the generated Secret (created once: rotating a signing key logs every agent out);
 * 3. the database (managed: provisioned on the platform Postgres; external: the tenant's Secret);
 * 4. every child that does not depend on migrations, server-side applied when it changed;
 * 5. the migration Job for the target image; the API and worker Deployments are created or
 *    rolled to that image only after it succeeded (the seeds' outage: pods rolled onto an
 *    unmigrated database);
 * 6. children the spec no longer wants are deleted;
 * 7. the status, written only when it changed.
 */

/** Options for TenantReconciler. */
export interface TenantReconcilerOptions {
  /** Writes, and reads of what no informer holds (the tenant's own Secrets). */
  client: KubeClient;
  /** Reads of the tenant and its children: the informer caches (ObjectCache); the client when absent. */
  reader?: ObjectReader;
  /** Child applies in flight at once within one reconcile; default 16. */
  applyConcurrency?: number;
  config: OperatorConfig;
  /** Sent without waiting (best effort): the recorder reports its failures, never rejects. */
  events: EventRecorder;
  /**
   * The platform Postgres admin URL for managed databases, read when needed (the chart gives
   * it as a Secret). Undefined: managed tenants report DatabaseReady=False, PlatformDatabaseMissing.
   */
  platformDatabaseUrl?: () => Promise<string | undefined>;
  /** Whether the cluster serves monitoring.coreos.com/v1 (from discovery). */
  serviceMonitorsAvailable: () => Promise<boolean>;
  /** Whether the cluster serves monitoring.coreos.com/v1 PrometheusRules; never when unset. */
  prometheusRulesAvailable?: () => Promise<boolean>;
  /** Clock, for condition transition times and the owner invite's expiry. */
  now?: () => Date;
  /** The tenants' own APIs (sessions, owner invite); default HTTP to each tenant's API Service. */
  tenantApi?: TenantApi;
  /** How often a running tenant's API is read again; default DEFAULT_TENANT_API_POLL_MS (30 s). */
  tenantApiPollMs?: number;
}

// A tenant waiting on its migration Job or its pods is not polled: every child kind is watched,
// so the Job's or the Deployment's status change reconciles it, and the tenant informer's
// resync (RESYNC_PERIOD_SECONDS) is the safety net for a missed event. Polling every 30-60 s
// cost the API server about 500 requests/s for 500 waiting tenants (bench/README.md). A running
// tenant is read again every 30 s for its sessions, which change without any Kubernetes event;
// that pass reads its children from the informer caches and writes only a changed status, so
// it costs the tenant's API one GET and the API server nothing for a managed-database tenant.
// A deletion waiting for operator configuration is retried (tenant-finalizer.ts).

/** The optional children: kinds and names that exist only for some specs, deleted when unwanted. */
function optionalChildren(tenant: WhatsAppTenant): { apiVersion: string; kind: string; name: string }[] {
  const names = childNames(tenant);
  return [
    { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: names.api },
    { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', name: names.api },
    { apiVersion: 'apps/v1', kind: 'StatefulSet', name: names.redis },
    { apiVersion: 'apps/v1', kind: 'StatefulSet', name: names.sentinel },
    { apiVersion: 'v1', kind: 'Service', name: names.redis },
    { apiVersion: 'v1', kind: 'Service', name: names.sentinel },
    { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', name: names.redis },
    { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', name: names.sentinel },
    { apiVersion: 'v1', kind: 'ConfigMap', name: names.redisScripts },
  ];
}

// The kinds applied in the second wave, after what their pods reference.
const WORKLOAD_KINDS = new Set([
  'StatefulSet',
  'Deployment',
  'HorizontalPodAutoscaler',
  'Ingress',
  'ServiceMonitor',
  'PrometheusRule',
]);

/**
 * A write refused because the cache was behind (a 409 conflict, or the finalizer patch's
 * resourceVersion test): the retry a few milliseconds later reads the newer object, so this is
 * not worth a Degraded status.
 */
function staleRead(progress: Progress, error: unknown): boolean {
  if (!(error instanceof KubeApiError)) return false;
  return error.status === 409 || (progress.step === 'finalizer' && error.status === 422);
}

const key = (o: { apiVersion?: string; kind?: string; metadata?: { name?: string } }) =>
  `${o.apiVersion}/${o.kind}/${o.metadata?.name}`;
const refKey = (r: { apiVersion: string; kind: string; name: string }) =>
  `${r.apiVersion}/${r.kind}/${r.name}`;

/** The reconcile of one WhatsAppTenant. */
export class TenantReconciler {
  private readonly ctx: ReconcileContext;
  private readonly applyConcurrency: number;
  private readonly serviceMonitorsAvailable: () => Promise<boolean>;
  private readonly prometheusRulesAvailable: () => Promise<boolean>;
  private readonly tenantApi: TenantApi;
  private readonly tenantApiPollMs: number;

  constructor(options: TenantReconcilerOptions) {
    this.ctx = {
      client: options.client,
      reader: options.reader ?? options.client,
      config: options.config,
      events: options.events,
      now: options.now ?? (() => new Date()),
      platformDatabaseUrl: options.platformDatabaseUrl ?? (async () => undefined),
    };
    this.applyConcurrency = options.applyConcurrency ?? 16;
    this.serviceMonitorsAvailable = options.serviceMonitorsAvailable;
    this.prometheusRulesAvailable = options.prometheusRulesAvailable ?? (async () => false);
    this.tenantApi = options.tenantApi ?? new HttpTenantApi({ clusterDomain: options.config.clusterDomain });
    this.tenantApiPollMs = options.tenantApiPollMs ?? DEFAULT_TENANT_API_POLL_MS;
  }

  /**
   * Reconciles the tenant `namespace/name`; a tenant that is gone needs nothing. A pass that
   * fails half-way still writes the status (Degraded, naming the step and the API's answer),
   * then throws so the work queue retries with backoff.
   */
  async reconcile(namespace: string, name: string): Promise<ReconcileResult> {
    const raw = await this.ctx.reader.get<WhatsAppTenant>(API_VERSION, KIND, namespace, name);
    if (!raw) return {};
    const parsed = whatsAppTenantSchema.safeParse(raw);
    if (!parsed.success) {
      // The API server validated it against the same schema, so this means a stored object
      // from an older CRD: say what is wrong and wait for an edit.
      const message = `The spec does not validate: ${parsed.error.issues
        .slice(0, 5)
        .map((i) => `${i.path.join('.')}: ${i.message}`)
        .join('; ')}`;
      await writeStatus(this.ctx, raw, {
        generation: raw.metadata.generation ?? 0,
        suspended: false,
        invalid: { ok: false, reason: 'InvalidSpec', message },
        database: { ok: false, reason: 'InvalidSpec', message },
        redis: { ok: false, reason: 'InvalidSpec', message },
        migrations: { state: 'Blocked', reason: 'InvalidSpec', message },
        workers: { desired: 0, ready: 0, updated: 0 },
        api: { desired: 0, ready: 0, updated: 0 },
        sessions: { reported: false, reason: 'InvalidSpec', message },
        selector: '',
      });
      return {};
    }
    const tenant = parsed.data;
    if (tenant.metadata.deletionTimestamp) return await finalize(this.ctx, tenant);
    const progress: Progress = { step: 'finalizer', done: [] };
    try {
      return await this.converge(tenant, progress);
    } catch (error) {
      if (progress.step !== 'status' && !staleRead(progress, error)) {
        try {
          await writeFailure(this.ctx, tenant, progress, error);
        } catch {
          // The API server refused the status too: the retry will try both again.
        }
      }
      throw error;
    }
  }

  private async converge(tenant: WhatsAppTenant, progress: Progress): Promise<ReconcileResult> {
    const namespace = tenantNamespace(tenant);
    await addDatabaseFinalizer(this.ctx, tenant);

    // Independent: the generated Secret and the database, at once.
    progress.step = 'generated Secret and database';
    const [generated, database] = await Promise.all([
      ensureGeneratedSecret(this.ctx, tenant),
      ensureDatabase(this.ctx, tenant),
    ]);
    const databaseSecret = database.secret;

    // The tenant's own Secrets are not the operator's children: no informer holds them.
    const secretDigests: Record<string, string> = {
      [childNames(tenant).generatedSecret]: secretDigest(generated),
      [databaseSecretName(tenant)]: secretDigest(databaseSecret),
    };
    const ownSecrets = [
      tenant.spec.redis.mode === 'external' ? tenant.spec.redis.external!.secretRef.name : undefined,
      tenant.spec.media.storage === 's3' ? tenant.spec.media.s3?.secretRef?.name : undefined,
      tenant.spec.email?.secretRef?.name,
      tenant.spec.sso?.secretRef.name,
    ].filter((secret): secret is string => secret !== undefined);
    for (const secret of ownSecrets) {
      secretDigests[secret] = secretDigest(
        await this.ctx.client.get<V1Secret>('v1', 'Secret', namespace, secret),
      );
    }
    progress.done.push('generated Secret', 'database');

    progress.step = 'discovery';
    const children = desiredChildren(tenant, this.ctx.config, {
      secretDigests,
      serviceMonitorsAvailable: await this.serviceMonitorsAvailable(),
      prometheusRulesAvailable: await this.prometheusRulesAvailable(),
    });
    const names = childNames(tenant);
    const gatedRefs = [
      { apiVersion: 'apps/v1', kind: 'Deployment', name: names.api },
      { apiVersion: 'apps/v1', kind: 'Deployment', name: names.worker },
      { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', name: names.api },
    ];
    const gated = new Set(gatedRefs.map(refKey));
    const live = new Map<string, KubernetesObject>();
    let applied = 0;
    const apply = async (child: KubernetesObject) => {
      const result = await applyIfDrifted(this.ctx.client, this.ctx.reader, child);
      if (result.outcome === 'applied') applied += 1;
      live.set(key(child), result.live);
    };
    // Two waves, each in parallel: what pods reference (ServiceAccounts, ConfigMaps, Services,
    // NetworkPolicies, PDBs) before the workloads that use it.
    const ungated = children.filter((child) => !gated.has(key(child)));
    const first = ungated.filter((child) => !WORKLOAD_KINDS.has(child.kind ?? ''));
    const second = ungated.filter((child) => WORKLOAD_KINDS.has(child.kind ?? ''));
    progress.step = 'children and migration Job';
    await forEachLimited(first, this.applyConcurrency, apply);
    // The migration Job does not wait for the workloads, nor they for it.
    const [migrations] = await Promise.all([
      ensureMigrations(this.ctx, tenant, database.observation.ok),
      forEachLimited(second, this.applyConcurrency, apply),
    ]);
    progress.done.push(
      `${ungated.length} children (${applied} applied)`,
      `migrations ${migrations.state.toLowerCase()}`,
    );
    progress.step = 'rollout';
    if (migrations.state === 'Succeeded') {
      await forEachLimited(
        children.filter((child) => gated.has(key(child))),
        this.applyConcurrency,
        apply,
      );
    } else {
      // Not rolled: whatever runs keeps running on the version its database was migrated for.
      for (const ref of gatedRefs) {
        const existing = await this.ctx.reader.get(ref.apiVersion, ref.kind, namespace, ref.name);
        if (existing) live.set(refKey(ref), existing);
      }
    }

    progress.step = 'pruning';
    const wanted = new Set(children.map(key));
    for (const optional of optionalChildren(tenant)) {
      if (wanted.has(refKey(optional))) continue;
      const existing = await this.ctx.reader.get(
        optional.apiVersion,
        optional.kind,
        namespace,
        optional.name,
      );
      if (existing)
        await this.ctx.client.delete(optional.apiVersion, optional.kind, namespace, optional.name);
    }

    progress.step = 'status';
    const redis = observeRedis(tenant, live);
    const apiDeployment = live.get(`apps/v1/Deployment/${names.api}`) as V1Deployment | undefined;
    const workerDeployment = live.get(`apps/v1/Deployment/${names.worker}`) as V1Deployment | undefined;
    const desiredOf = (d: V1Deployment | undefined, fallback: number) => d?.spec?.replicas ?? fallback;
    const workersDesired = tenant.spec.suspend ? 0 : tenant.spec.workers.replicas;
    const apiDesired = tenant.spec.suspend
      ? 0
      : desiredOf(
          apiDeployment,
          tenant.spec.api.autoscaling.enabled
            ? tenant.spec.api.autoscaling.minReplicas
            : tenant.spec.api.replicas,
        );
    const url = publicUrl(tenant);
    progress.step = 'tenant API';
    const apiCounts = deploymentCounts(apiDeployment);
    const fromApi = await observeTenantApi(
      {
        client: this.ctx.client,
        reader: this.ctx.reader,
        api: this.tenantApi,
        events: this.ctx.events,
        now: this.ctx.now,
        pollMs: this.tenantApiPollMs,
      },
      tenant,
      generated,
      migrations.state === 'Succeeded' && apiCounts.ready > 0,
    );
    progress.step = 'status';
    const observations: TenantObservations = {
      generation: tenant.metadata.generation ?? 0,
      suspended: tenant.spec.suspend,
      database: database.observation,
      redis,
      migrations,
      workers: { desired: workersDesired, ...deploymentCounts(workerDeployment) },
      api: { desired: apiDesired, ...apiCounts },
      ...(url ? { endpoints: { inbox: url, api: `${url}/v1` } } : {}),
      sessions: fromApi.sessions,
      ...(fromApi.ownerInvite ? { ownerInvite: fromApi.ownerInvite } : {}),
      selector: workerSelector(tenant),
    };
    await writeStatus(this.ctx, tenant, observations);
    return fromApi.requeueAfter === undefined ? {} : { requeueAfter: fromApi.requeueAfter };
  }
}
