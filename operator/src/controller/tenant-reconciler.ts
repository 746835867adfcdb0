import { createHash } from 'node:crypto';
import type { KubernetesObject, V1Deployment, V1Job, V1Secret } from '@kubernetes/client-node';
import {
  API_VERSION,
  KIND,
  type WhatsAppTenant,
  type WhatsAppTenantStatus,
  whatsAppTenantSchema,
} from '../api/v1alpha1/index.ts';
import { KubeApiError, type KubeClient } from '../kube/kube-client.ts';
import type { ObjectReader } from '../kube/object-cache.ts';
import { publicUrl } from '../specs/config-map.ts';
import {
  buildManagedDatabaseSecret,
  DATABASE_SECRET_KEYS,
  databaseSecretName,
} from '../specs/database-secret.ts';
import { desiredChildren } from '../specs/desired-children.ts';
import { buildGeneratedSecret, newGeneratedSecretValues } from '../specs/generated-secret.ts';
import { buildMigrationJob } from '../specs/migration-job.ts';
import { childNames, tenantNamespace, workerSelector } from '../specs/names.ts';
import { type OperatorConfig, tenantImages } from '../specs/operator-config.ts';
import { applyIfDrifted, createIfMissing, forEachLimited } from './apply-children.ts';
import { deploymentCounts, jobState, observeRedis } from './child-observations.ts';
import type { EventRecorder } from './events.ts';
import { secretValue } from './platform-database.ts';
import { HttpTenantApi, type TenantApi } from './tenant-api.ts';
import { DEFAULT_TENANT_API_POLL_MS, observeTenantApi } from './tenant-api-observation.ts';
import { DATABASE_FINALIZER, dropManagedDatabase, provisionManagedDatabase } from './tenant-database.ts';
import {
  buildStatus,
  failedStatus,
  type MigrationState,
  type Observation,
  replaceLists,
  sameStatus,
  type TenantObservations,
} from './tenant-status.ts';

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

/** What a reconcile asks of the work queue. */
export interface ReconcileResult {
  /**
   * Run again after this long even without an event: a deletion waiting for operator
   * configuration, or a running tenant whose API is read again for its sessions.
   */
  requeueAfter?: number;
}

// A tenant waiting on its migration Job or its pods is not polled: every child kind is watched,
// so the Job's or the Deployment's status change reconciles it, and the tenant informer's
// resync (RESYNC_PERIOD_SECONDS) is the safety net for a missed event. Polling every 30-60 s
// cost the API server about 500 requests/s for 500 waiting tenants (bench/README.md). A running
// tenant is read again every 30 s for its sessions, which change without any Kubernetes event;
// that pass reads its children from the informer caches and writes only a changed status, so
// it costs the tenant's API one GET and the API server nothing for a managed-database tenant.
const FINALIZER_RETRY_MS = 60_000;

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

/** Where a pass is, for the status of one that fails. */
interface Progress {
  step: string;
  done: string[];
}

/**
 * A write refused because the cache was behind (a 409 conflict, or the finalizer patch's
 * resourceVersion test): the retry a few milliseconds later reads the newer object, so this is
 * not worth a Degraded status.
 */
function staleRead(progress: Progress, error: unknown): boolean {
  if (!(error instanceof KubeApiError)) return false;
  return error.status === 409 || (progress.step === 'finalizer' && error.status === 422);
}

/** The API server's message without the request line; any other error's message. */
function errorMessage(error: unknown): string {
  if (error instanceof KubeApiError) return `${error.status} ${error.reason}: ${error.apiMessage}`;
  return error instanceof Error ? error.message : String(error);
}

const key = (o: { apiVersion?: string; kind?: string; metadata?: { name?: string } }) =>
  `${o.apiVersion}/${o.kind}/${o.metadata?.name}`;
const refKey = (r: { apiVersion: string; kind: string; name: string }) =>
  `${r.apiVersion}/${r.kind}/${r.name}`;

/** metadata fields the schema leaves loose (the API server owns them). */
function finalizersOf(tenant: WhatsAppTenant): string[] {
  return (tenant.metadata.finalizers as string[] | undefined) ?? [];
}

function secretDigest(secret: V1Secret | undefined): string {
  return createHash('sha256')
    .update(JSON.stringify(Object.entries(secret?.data ?? {}).sort()))
    .digest('hex')
    .slice(0, 16);
}

/** The reconcile of one WhatsAppTenant. */
export class TenantReconciler {
  private readonly client: KubeClient;
  private readonly reader: ObjectReader;
  private readonly applyConcurrency: number;
  private readonly config: OperatorConfig;
  private readonly events: EventRecorder;
  private readonly platformDatabaseUrl: () => Promise<string | undefined>;
  private readonly serviceMonitorsAvailable: () => Promise<boolean>;
  private readonly prometheusRulesAvailable: () => Promise<boolean>;
  private readonly now: () => Date;
  private readonly tenantApi: TenantApi;
  private readonly tenantApiPollMs: number;

  constructor(options: TenantReconcilerOptions) {
    this.client = options.client;
    this.reader = options.reader ?? options.client;
    this.applyConcurrency = options.applyConcurrency ?? 16;
    this.config = options.config;
    this.events = options.events;
    this.platformDatabaseUrl = options.platformDatabaseUrl ?? (async () => undefined);
    this.serviceMonitorsAvailable = options.serviceMonitorsAvailable;
    this.prometheusRulesAvailable = options.prometheusRulesAvailable ?? (async () => false);
    this.now = options.now ?? (() => new Date());
    this.tenantApi = options.tenantApi ?? new HttpTenantApi({ clusterDomain: options.config.clusterDomain });
    this.tenantApiPollMs = options.tenantApiPollMs ?? DEFAULT_TENANT_API_POLL_MS;
  }

  /**
   * Reconciles the tenant `namespace/name`; a tenant that is gone needs nothing. A pass that
   * fails half-way still writes the status (Degraded, naming the step and the API's answer),
   * then throws so the work queue retries with backoff.
   */
  async reconcile(namespace: string, name: string): Promise<ReconcileResult> {
    const raw = await this.reader.get<WhatsAppTenant>(API_VERSION, KIND, namespace, name);
    if (!raw) return {};
    const parsed = whatsAppTenantSchema.safeParse(raw);
    if (!parsed.success) {
      // The API server validated it against the same schema, so this means a stored object
      // from an older CRD: say what is wrong and wait for an edit.
      const message = `The spec does not validate: ${parsed.error.issues
        .slice(0, 5)
        .map((i) => `${i.path.join('.')}: ${i.message}`)
        .join('; ')}`;
      await this.writeStatus(raw, {
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
    if (tenant.metadata.deletionTimestamp) return await this.finalize(tenant);
    const progress: Progress = { step: 'finalizer', done: [] };
    try {
      return await this.converge(tenant, progress);
    } catch (error) {
      if (progress.step !== 'status' && !staleRead(progress, error)) {
        try {
          await this.writeFailure(tenant, progress, error);
        } catch {
          // The API server refused the status too: the retry will try both again.
        }
      }
      throw error;
    }
  }

  private async converge(tenant: WhatsAppTenant, progress: Progress): Promise<ReconcileResult> {
    const namespace = tenantNamespace(tenant);
    const name = tenant.metadata.name;
    const managed = tenant.spec.database.mode === 'managed';
    if (managed && !finalizersOf(tenant).includes(DATABASE_FINALIZER)) {
      await this.client.jsonPatch(API_VERSION, KIND, namespace, name, [
        { op: 'test', path: '/metadata/resourceVersion', value: tenant.metadata.resourceVersion },
        tenant.metadata.finalizers
          ? { op: 'add', path: '/metadata/finalizers/-', value: DATABASE_FINALIZER }
          : { op: 'add', path: '/metadata/finalizers', value: [DATABASE_FINALIZER] },
      ]);
    }

    // Independent: the generated Secret and the database, at once.
    progress.step = 'generated Secret and database';
    const [generated, database] = await Promise.all([
      this.ensureGeneratedSecret(tenant),
      this.ensureDatabase(tenant),
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
    ].filter((secret): secret is string => secret !== undefined);
    for (const secret of ownSecrets) {
      secretDigests[secret] = secretDigest(
        await this.client.get<V1Secret>('v1', 'Secret', namespace, secret),
      );
    }
    progress.done.push('generated Secret', 'database');

    progress.step = 'discovery';
    const children = desiredChildren(tenant, this.config, {
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
      const result = await applyIfDrifted(this.client, this.reader, child);
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
      this.ensureMigrations(tenant, database.observation.ok),
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
        const existing = await this.reader.get(ref.apiVersion, ref.kind, namespace, ref.name);
        if (existing) live.set(refKey(ref), existing);
      }
    }

    progress.step = 'pruning';
    const wanted = new Set(children.map(key));
    for (const optional of optionalChildren(tenant)) {
      if (wanted.has(refKey(optional))) continue;
      const existing = await this.reader.get(optional.apiVersion, optional.kind, namespace, optional.name);
      if (existing) await this.client.delete(optional.apiVersion, optional.kind, namespace, optional.name);
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
        client: this.client,
        reader: this.reader,
        api: this.tenantApi,
        events: this.events,
        now: this.now,
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
    await this.writeStatus(tenant, observations);
    return fromApi.requeueAfter === undefined ? {} : { requeueAfter: fromApi.requeueAfter };
  }

  /**
   * The status of a pass that failed at `progress.step`: Degraded (ReconcileFailed) with the
   * step, what was done before it and the API server's message; the other conditions keep
   * what the last complete pass found. Written only when it changed.
   */
  private async writeFailure(tenant: WhatsAppTenant, progress: Progress, error: unknown): Promise<void> {
    const previous = tenant.status;
    const generation = tenant.metadata.generation ?? 0;
    const message = `Reconcile failed at ${progress.step}: ${errorMessage(error).replace(/[.\s]*$/, '.')}${
      progress.done.length > 0 ? ` Done before it: ${progress.done.join(', ')}.` : ''
    } Retrying with backoff.`;
    const status = failedStatus(previous, generation, message, this.now());
    if (sameStatus(previous, status)) return;
    await this.client.mergePatch(
      API_VERSION,
      KIND,
      tenantNamespace(tenant),
      tenant.metadata.name,
      { status: replaceLists(previous, status) },
      { subresource: 'status' },
    );
    void this.events.warning(tenant, 'ReconcileFailed', message);
  }

  private async finalize(tenant: WhatsAppTenant): Promise<ReconcileResult> {
    const finalizers = finalizersOf(tenant);
    const index = finalizers.indexOf(DATABASE_FINALIZER);
    if (index === -1) return {};
    if (tenant.spec.database.mode === 'managed' && tenant.spec.database.deletionPolicy === 'Delete') {
      const adminUrl = await this.platformDatabaseUrl();
      if (!adminUrl) {
        void this.events.warning(
          tenant,
          'DatabaseNotDropped',
          'No platform Postgres is configured; the finalizer stays until one is.',
        );
        return { requeueAfter: FINALIZER_RETRY_MS };
      }
      await dropManagedDatabase(adminUrl, tenant);
      void this.events.normal(
        tenant,
        'DatabaseDropped',
        'The managed database and its roles were dropped (deletionPolicy Delete).',
      );
    }
    // The test op makes the removal fail (and be retried) if someone changed the list meanwhile.
    await this.client.jsonPatch(API_VERSION, KIND, tenantNamespace(tenant), tenant.metadata.name, [
      { op: 'test', path: `/metadata/finalizers/${index}`, value: DATABASE_FINALIZER },
      { op: 'remove', path: `/metadata/finalizers/${index}` },
    ]);
    return {};
  }

  private async ensureGeneratedSecret(tenant: WhatsAppTenant): Promise<V1Secret> {
    const desired = buildGeneratedSecret(tenant, newGeneratedSecretValues());
    const { created, live } = await createIfMissing(this.client, this.reader, desired);
    if (created) {
      void this.events.normal(
        tenant,
        'SecretsGenerated',
        `Generated the signing key, internal token, Redis passwords, auth-state and sealing keys in Secret ${live.metadata?.name}.`,
      );
      return live;
    }
    // A Secret generated by an older version lacks the keys added since: add those, and never
    // touch one that exists (that would log every agent out or make sealed state unreadable).
    const missing = Object.keys(desired.data!).filter((key) => live.data?.[key] === undefined);
    if (missing.length === 0) return live;
    const patched = await this.client.jsonPatch<V1Secret>(
      'v1',
      'Secret',
      tenantNamespace(tenant),
      live.metadata!.name!,
      [
        // Fails (and the reconcile retries) if the Secret changed since it was read.
        { op: 'test', path: '/metadata/resourceVersion', value: live.metadata!.resourceVersion },
        ...(live.data ? [] : [{ op: 'add', path: '/data', value: {} }]),
        ...missing.map((key) => ({ op: 'add', path: `/data/${key}`, value: desired.data![key] })),
      ],
    );
    void this.events.normal(
      tenant,
      'SecretsGenerated',
      `Added ${missing.join(', ')} to Secret ${live.metadata?.name}; the values already there are kept.`,
    );
    return patched;
  }

  private async ensureDatabase(
    tenant: WhatsAppTenant,
  ): Promise<{ observation: Observation; secret: V1Secret | undefined }> {
    const namespace = tenantNamespace(tenant);
    const secretName = databaseSecretName(tenant);
    // Managed: the operator's own Secret (cached); external: the tenant's (not watched).
    const existing =
      tenant.spec.database.mode === 'managed'
        ? await this.reader.get<V1Secret>('v1', 'Secret', namespace, secretName)
        : await this.client.get<V1Secret>('v1', 'Secret', namespace, secretName);
    const missingKeys = Object.values(DATABASE_SECRET_KEYS).filter((k) => !secretValue(existing, k));
    if (tenant.spec.database.mode === 'external') {
      if (!existing) {
        return {
          observation: {
            ok: false,
            reason: 'SecretNotFound',
            message: `Secret ${secretName} (spec.database.external.secretRef) does not exist in ${namespace}.`,
          },
          secret: undefined,
        };
      }
      if (missingKeys.length > 0) {
        return {
          observation: {
            ok: false,
            reason: 'SecretIncomplete',
            message: `Secret ${secretName} lacks ${missingKeys.join(', ')}.`,
          },
          secret: existing,
        };
      }
      return {
        observation: {
          ok: true,
          reason: 'ExternalDatabase',
          message: `Using the database in Secret ${secretName}.`,
        },
        secret: existing,
      };
    }
    if (existing && missingKeys.length === 0) {
      return {
        observation: {
          ok: true,
          reason: 'Provisioned',
          message: 'The managed database and its roles exist.',
        },
        secret: existing,
      };
    }
    const adminUrl = await this.platformDatabaseUrl();
    if (!adminUrl) {
      return {
        observation: {
          ok: false,
          reason: 'PlatformDatabaseMissing',
          message:
            'database.mode is managed but the operator has no platform Postgres (chart value platformPostgres.secretName).',
        },
        secret: existing,
      };
    }
    try {
      const values = await provisionManagedDatabase(adminUrl, tenant);
      const { live } = await createIfMissing(
        this.client,
        this.reader,
        buildManagedDatabaseSecret(tenant, values),
      );
      void this.events.normal(
        tenant,
        'DatabaseProvisioned',
        `Created the database and roles on the platform Postgres; URLs in Secret ${secretName}.`,
      );
      return {
        observation: {
          ok: true,
          reason: 'Provisioned',
          message: 'The managed database and its roles exist.',
        },
        secret: live,
      };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      // Never the URL: it holds the admin password. pg's messages name the server, not the URL.
      return {
        observation: {
          ok: false,
          reason: 'ProvisioningFailed',
          message: `Provisioning the database failed: ${message}`,
        },
        secret: existing,
      };
    }
  }

  private async ensureMigrations(
    tenant: WhatsAppTenant,
    databaseReady: boolean,
  ): Promise<{ state: MigrationState; reason: string; message: string }> {
    const job = buildMigrationJob(tenant, this.config);
    const image = tenantImages(tenant, this.config).api;
    if (!databaseReady) {
      const existing = await this.reader.get<V1Job>(
        'batch/v1',
        'Job',
        tenantNamespace(tenant),
        job.metadata!.name!,
      );
      if (!existing) {
        return {
          state: 'Blocked',
          reason: 'WaitingForDatabase',
          message: `Migrations for ${image} wait for the database.`,
        };
      }
      return jobState(existing);
    }
    const { created, live } = await createIfMissing(this.client, this.reader, job);
    if (created) {
      void this.events.normal(
        tenant,
        'MigrationStarted',
        `Started migration Job ${live.metadata?.name} for ${image}.`,
      );
    }
    return jobState(live);
  }

  private async writeStatus(
    tenant: WhatsAppTenant,
    observations: TenantObservations,
  ): Promise<WhatsAppTenantStatus> {
    const previous = tenant.status;
    const status = buildStatus(previous, observations, this.now());
    if (sameStatus(previous, status)) return status;
    await this.client.mergePatch(
      API_VERSION,
      KIND,
      tenantNamespace(tenant),
      tenant.metadata.name,
      { status: replaceLists(previous, status) },
      { subresource: 'status' },
    );
    const before = new Map((previous?.conditions ?? []).map((c) => [c.type, c]));
    for (const c of status.conditions ?? []) {
      const old = before.get(c.type);
      if (old && old.status === c.status && old.reason === c.reason) continue;
      if (c.type === 'Degraded' && c.status === 'True') void this.events.warning(tenant, c.reason, c.message);
      if (c.type === 'Ready' && c.status === 'True') void this.events.normal(tenant, 'Ready', c.message);
    }
    return status;
  }
}
