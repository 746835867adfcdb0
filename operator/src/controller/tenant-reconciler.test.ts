import { fileURLToPath } from 'node:url';
import type { KubernetesObject, V1Deployment, V1Job, V1Secret, V1StatefulSet } from '@kubernetes/client-node';
import {
  collectGarbage,
  completeJob,
  createTestNamespace,
  failJob,
  installCrds,
  kubeRequest,
  kubeRequestOk,
  markDeploymentAvailable,
  markStatefulSetReady,
  type TestNamespace,
  useControlPlane,
} from '@switchboard/envtest';
import { adminDatabaseUrl } from '@switchboard/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  API_VERSION,
  KIND,
  type WhatsAppTenant,
  type WhatsAppTenantSpecInput,
} from '../api/v1alpha1/index.ts';
import { KubeClient } from '../kube/kube-client.ts';
import { CONFIG_HASH_ANNOTATION } from '../specs/names.ts';
import { operatorConfigFixture } from '../testing/fixtures.ts';
import { startTenantApiStandIn, type TenantApiStandIn } from '../testing/tenant-api-stand-in.ts';
import type { EventRecorder } from './events.ts';
import { HttpTenantApi } from './tenant-api.ts';
import { managedDatabaseNames } from './tenant-database.ts';
import { TenantReconciler } from './tenant-reconciler.ts';

const { kubeConfig } = useControlPlane();
const config = operatorConfigFixture();
let ns: TestNamespace;
let client: KubeClient;
const recorded: { type: string; reason: string; message: string }[] = [];
const events: EventRecorder = {
  normal: async (_t, reason, message) => void recorded.push({ type: 'Normal', reason, message }),
  warning: async (_t, reason, message) => void recorded.push({ type: 'Warning', reason, message }),
};
let reconciler: TenantReconciler;
// The tenants' APIs: one local server speaking the internal routes' wire format.
let standIn: TenantApiStandIn;
// The reconciler's clock; a test moves it to expire an invite.
let clockOffsetMs = 0;

beforeAll(async () => {
  await installCrds(kubeConfig, 'crds');
  ns = await createTestNamespace(kubeConfig, 'reconcile');
  client = new KubeClient({ kubeConfig, fieldManager: 'switchboard-operator' });
  standIn = await startTenantApiStandIn();
  reconciler = new TenantReconciler({
    client,
    config,
    events,
    platformDatabaseUrl: async () => adminDatabaseUrl(),
    serviceMonitorsAvailable: async () => false,
    tenantApi: new HttpTenantApi({ baseUrl: standIn.baseUrl }),
    now: () => new Date(Date.now() + clockOffsetMs),
  });
});

afterAll(async () => {
  await standIn?.close();
  client?.close();
  await ns?.delete();
});

function tenantPath(name: string, sub = ''): string {
  return `/apis/switchboard.dev/v1alpha1/namespaces/${ns.name}/whatsapptenants/${name}${sub}`;
}

async function applyTenant(name: string, spec: WhatsAppTenantSpecInput): Promise<WhatsAppTenant> {
  return await kubeRequestOk<WhatsAppTenant>(kubeConfig, {
    method: 'PATCH',
    path: `${tenantPath(name)}?fieldManager=platform-team&force=true`,
    contentType: 'application/apply-patch+yaml',
    body: { apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace: ns.name }, spec },
  });
}

const getTenant = (name: string) => kubeRequestOk<WhatsAppTenant>(kubeConfig, { path: tenantPath(name) });
const get = <T extends KubernetesObject = KubernetesObject>(apiVersion: string, kind: string, name: string) =>
  client.get<T>(apiVersion, kind, ns.name, name);
const condition = (tenant: WhatsAppTenant, type: string) =>
  tenant.status?.conditions?.find((c) => c.type === type);

/** Drives a tenant to Ready: migration done, Redis and workloads rolled out (the stand-ins). */
async function driveToReady(name: string): Promise<WhatsAppTenant> {
  await reconciler.reconcile(ns.name, name);
  const jobs = await client.list<V1Job>('batch/v1', 'Job', ns.name, `switchboard.dev/tenant=${name}`);
  for (const job of jobs) {
    if (!job.status?.conditions?.length)
      await completeJob(kubeConfig, { namespace: ns.name, name: job.metadata!.name! });
  }
  await reconciler.reconcile(ns.name, name);
  for (const set of ['redis', 'sentinel']) {
    if (await get('apps/v1', 'StatefulSet', `${name}-${set}`)) {
      await markStatefulSetReady(kubeConfig, { namespace: ns.name, name: `${name}-${set}` });
    }
  }
  for (const deployment of ['api', 'worker']) {
    await markDeploymentAvailable(kubeConfig, { namespace: ns.name, name: `${name}-${deployment}` });
  }
  await reconciler.reconcile(ns.name, name);
  return await getTenant(name);
}

describe('a new tenant', () => {
  it('gets its children, migrates before any API or worker pod exists, then becomes Ready', async () => {
    await applyTenant('acme', {
      displayName: 'Acme Inc',
      sessions: [{ name: 'support', channel: 'baileys' }],
      workers: { replicas: 2 },
      api: { replicas: 2, ingress: { host: 'acme.inbox.example.com', tlsSecretName: 'acme-tls' } },
      database: { deletionPolicy: 'Delete' },
    });

    // No polling while the migration runs: the Job's status change is what reconciles next.
    const first = await reconciler.reconcile(ns.name, 'acme');
    expect(first.requeueAfter).toBeUndefined();

    // Before the migration Job has succeeded there is no API or worker Deployment at all.
    expect(await get('apps/v1', 'Deployment', 'acme-api')).toBeUndefined();
    expect(await get('apps/v1', 'Deployment', 'acme-worker')).toBeUndefined();
    const jobs = await client.list<V1Job>('batch/v1', 'Job', ns.name, 'switchboard.dev/tenant=acme');
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.spec!.template.spec!.containers[0]!.image).toBe(config.images.api);

    // Everything else is there, owned by the tenant.
    const tenant = await getTenant('acme');
    for (const [apiVersion, kind, name] of [
      ['v1', 'ServiceAccount', 'acme-api'],
      ['v1', 'ServiceAccount', 'acme-worker'],
      ['v1', 'ConfigMap', 'acme-config'],
      ['v1', 'Secret', 'acme-internal'],
      ['v1', 'Secret', 'acme-db'],
      ['apps/v1', 'StatefulSet', 'acme-redis'],
      ['apps/v1', 'StatefulSet', 'acme-sentinel'],
      ['v1', 'Service', 'acme-api'],
      ['networking.k8s.io/v1', 'Ingress', 'acme-api'],
    ] as const) {
      const child = await get(apiVersion, kind, name);
      expect(child, `${kind} ${name}`).toBeDefined();
      expect(child!.metadata!.ownerReferences?.[0]).toMatchObject({
        uid: tenant.metadata.uid,
        controller: true,
      });
    }
    expect(tenant.metadata.finalizers).toContain('switchboard.dev/database');
    expect(condition(tenant, 'MigrationsApplied')).toMatchObject({
      status: 'False',
      reason: 'MigrationRunning',
    });
    expect(condition(tenant, 'DatabaseReady')).toMatchObject({ status: 'True', reason: 'Provisioned' });
    expect(tenant.status?.phase).toBe('Provisioning');
    expect(tenant.status?.sessionsSummary).toBe('unknown');
    expect(tenant.status?.endpoints).toEqual({
      inbox: 'https://acme.inbox.example.com',
      api: 'https://acme.inbox.example.com/v1',
    });

    // The managed database really exists, and the app role can log in with the Secret's URL.
    const secret = (await get<V1Secret>('v1', 'Secret', 'acme-db'))!;
    const appUrl = Buffer.from(secret.data!.appUrl!, 'base64').toString('utf8');
    const app = new pg.Client({ connectionString: appUrl });
    await app.connect();
    const { rows } = await app.query<{ db: string }>('SELECT current_database() AS db');
    await app.end();
    expect(rows[0]!.db).toBe(managedDatabaseNames(tenant).database);

    const ready = await driveToReady('acme');
    expect(ready.status?.phase).toBe('Ready');
    expect(condition(ready, 'Ready')).toMatchObject({ status: 'True', reason: 'AllComponentsReady' });
    expect(ready.status?.workersSummary).toBe('2/2');
    expect(ready.status?.observedGeneration).toBe(ready.metadata.generation);
    expect(recorded.map((e) => e.reason)).toEqual(
      expect.arrayContaining(['SecretsGenerated', 'DatabaseProvisioned', 'MigrationStarted', 'Ready']),
    );
  });

  it('writes nothing on a reconcile of an unchanged tenant', async () => {
    const before = await getTenant('acme');
    client.resetCounts();
    await reconciler.reconcile(ns.name, 'acme');
    expect(client.writes).toBe(0);
    expect(client.requests.get).toBeGreaterThan(0);
    const after = await getTenant('acme');
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
  });

  it('adds a key a newer version generates to an existing generated Secret, keeping every value there', async () => {
    const before = (await get<V1Secret>('v1', 'Secret', 'acme-internal'))!;
    expect(Object.keys(before.data ?? {})).toContain('AUTH_STATE_KEYS');
    // As an older operator left it: without the auth-state key.
    await kubeRequestOk(kubeConfig, {
      method: 'PATCH',
      path: `/api/v1/namespaces/${ns.name}/secrets/acme-internal`,
      contentType: 'application/json-patch+json',
      body: [{ op: 'remove', path: '/data/AUTH_STATE_KEYS' }],
    });
    await reconciler.reconcile(ns.name, 'acme');
    const after = (await get<V1Secret>('v1', 'Secret', 'acme-internal'))!;
    for (const key of ['JWT_SIGNING_KEY', 'INTERNAL_TOKEN', 'REDIS_PASSWORD']) {
      expect(after.data?.[key]).toBe(before.data?.[key]);
    }
    const keys = Buffer.from(after.data!.AUTH_STATE_KEYS!, 'base64').toString('utf8');
    expect(keys).toMatch(/^k1:[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(keys.slice(3), 'base64')).toHaveLength(32);
    // The workers read it; the API does not need it.
    const envOf = async (name: string) =>
      (await get<V1Deployment>('apps/v1', 'Deployment', name))!.spec!.template.spec!.containers[0]!.env!.map(
        (e) => e.name,
      );
    expect(await envOf('acme-worker')).toContain('AUTH_STATE_KEYS');
    expect(await envOf('acme-api')).not.toContain('AUTH_STATE_KEYS');
    // The changed Secret rolled the workers; bring the tenant back to Ready for the next tests.
    expect((await driveToReady('acme')).status?.phase).toBe('Ready');
  });

  it('adds SEALING_KEYS and the Redis ACL users’ passwords to a Secret from before them, keeping INTERNAL_TOKEN', async () => {
    const before = (await get<V1Secret>('v1', 'Secret', 'acme-internal'))!;
    const added = [
      'SEALING_KEYS',
      'REDIS_API_PASSWORD',
      'REDIS_WORKER_PASSWORD',
      'REDIS_REPLICATION_PASSWORD',
      'REDIS_SENTINEL_PASSWORD',
    ];
    await kubeRequestOk(kubeConfig, {
      method: 'PATCH',
      path: `/api/v1/namespaces/${ns.name}/secrets/acme-internal`,
      contentType: 'application/json-patch+json',
      body: added.map((key) => ({ op: 'remove', path: `/data/${key}` })),
    });
    await reconciler.reconcile(ns.name, 'acme');
    const after = (await get<V1Secret>('v1', 'Secret', 'acme-internal'))!;
    for (const key of ['JWT_SIGNING_KEY', 'INTERNAL_TOKEN', 'REDIS_PASSWORD', 'AUTH_STATE_KEYS'])
      expect(after.data?.[key]).toBe(before.data?.[key]);
    for (const key of added) expect(after.data?.[key]).toBeDefined();
    const sealing = Buffer.from(after.data!.SEALING_KEYS!, 'base64').toString('utf8');
    expect(sealing).toMatch(/^k1:[A-Za-z0-9+/]{43}=$/);
    expect(sealing).not.toBe(Buffer.from(after.data!.INTERNAL_TOKEN!, 'base64').toString('utf8'));
    expect((await driveToReady('acme')).status?.phase).toBe('Ready');
  });

  it('rolls only the pods whose inputs changed, and keeps lastTransitionTime', async () => {
    const api = (await get<V1Deployment>('apps/v1', 'Deployment', 'acme-api'))!;
    const worker = (await get<V1Deployment>('apps/v1', 'Deployment', 'acme-worker'))!;
    const readyBefore = condition(await getTenant('acme'), 'Ready')!;
    await applyTenant('acme', {
      displayName: 'Acme Inc',
      sessions: [{ name: 'support', channel: 'baileys' }],
      workers: { replicas: 2, maxSessionsPerWorker: 25 },
      api: { replicas: 2, ingress: { host: 'acme.inbox.example.com', tlsSecretName: 'acme-tls' } },
      database: { deletionPolicy: 'Delete' },
    });
    await reconciler.reconcile(ns.name, 'acme');
    const apiAfter = (await get<V1Deployment>('apps/v1', 'Deployment', 'acme-api'))!;
    const workerAfter = (await get<V1Deployment>('apps/v1', 'Deployment', 'acme-worker'))!;
    const hash = (d: V1Deployment) => d.spec!.template.metadata!.annotations![CONFIG_HASH_ANNOTATION];
    expect(hash(workerAfter)).not.toBe(hash(worker));
    expect(hash(apiAfter)).toBe(hash(api));
    expect(apiAfter.metadata!.generation).toBe(api.metadata!.generation);

    await markDeploymentAvailable(kubeConfig, { namespace: ns.name, name: 'acme-worker' });
    await reconciler.reconcile(ns.name, 'acme');
    const readyAfter = condition(await getTenant('acme'), 'Ready')!;
    expect(readyAfter.status).toBe('True');
    expect(readyAfter.lastTransitionTime).toBe(readyBefore.lastTransitionTime);
  });

  it('scales the workers through the scale subresource', async () => {
    await kubeRequestOk(kubeConfig, {
      method: 'PATCH',
      path: tenantPath('acme', '/scale'),
      contentType: 'application/merge-patch+json',
      body: { spec: { replicas: 4 } },
    });
    await reconciler.reconcile(ns.name, 'acme');
    const worker = (await get<V1Deployment>('apps/v1', 'Deployment', 'acme-worker'))!;
    expect(worker.spec!.replicas).toBe(4);
    const scale = await kubeRequestOk<{ spec: { replicas: number }; status: { selector: string } }>(
      kubeConfig,
      {
        path: tenantPath('acme', '/scale'),
      },
    );
    expect(scale.spec.replicas).toBe(4);
    expect(scale.status.selector).toContain('app.kubernetes.io/instance=acme');
    expect(scale.status.selector).toContain('app.kubernetes.io/component=worker');
  });

  it('suspends to zero pods keeping data, and resumes', async () => {
    const tenant = await getTenant('acme');
    await kubeRequestOk(kubeConfig, {
      method: 'PATCH',
      path: tenantPath('acme'),
      contentType: 'application/merge-patch+json',
      body: { spec: { suspend: true } },
    });
    await reconciler.reconcile(ns.name, 'acme');
    expect((await get<V1Deployment>('apps/v1', 'Deployment', 'acme-api'))!.spec!.replicas).toBe(0);
    expect((await get<V1Deployment>('apps/v1', 'Deployment', 'acme-worker'))!.spec!.replicas).toBe(0);
    expect(
      (await get<V1StatefulSet>('apps/v1', 'StatefulSet', 'acme-redis'))!.spec!.replicas,
    ).toBeGreaterThan(0);
    expect(await get('v1', 'Secret', 'acme-db')).toBeDefined();
    expect((await getTenant('acme')).status?.phase).toBe('Suspended');

    await kubeRequestOk(kubeConfig, {
      method: 'PATCH',
      path: tenantPath('acme'),
      contentType: 'application/merge-patch+json',
      body: { spec: { suspend: false } },
    });
    await reconciler.reconcile(ns.name, 'acme');
    expect((await get<V1Deployment>('apps/v1', 'Deployment', 'acme-worker'))!.spec!.replicas).toBe(4);
    expect((await getTenant('acme')).metadata.uid).toBe(tenant.metadata.uid);
  });

  it('does not roll onto a new image whose migration failed, and says why', async () => {
    const newImage = 'ghcr.io/switchboard/api:1.5.0';
    await kubeRequestOk(kubeConfig, {
      method: 'PATCH',
      path: tenantPath('acme'),
      contentType: 'application/merge-patch+json',
      body: { spec: { images: { api: newImage } } },
    });
    await reconciler.reconcile(ns.name, 'acme');
    const jobs = await client.list<V1Job>('batch/v1', 'Job', ns.name, 'switchboard.dev/tenant=acme');
    const job = jobs.find((j) => j.spec!.template.spec!.containers[0]!.image === newImage)!;
    expect(job).toBeDefined();
    await failJob(kubeConfig, { namespace: ns.name, name: job.metadata!.name! });
    recorded.length = 0;
    await reconciler.reconcile(ns.name, 'acme');

    const api = (await get<V1Deployment>('apps/v1', 'Deployment', 'acme-api'))!;
    expect(api.spec!.template.spec!.containers[0]!.image).toBe(config.images.api);
    const tenant = await getTenant('acme');
    expect(tenant.status?.phase).toBe('Degraded');
    expect(condition(tenant, 'Degraded')).toMatchObject({ status: 'True', reason: 'MigrationFailed' });
    expect(condition(tenant, 'Degraded')!.message).toContain(job.metadata!.name!);
    expect(recorded).toContainEqual(expect.objectContaining({ type: 'Warning', reason: 'MigrationFailed' }));

    // Back to the image that migrated: the Degraded condition clears.
    await kubeRequestOk(kubeConfig, {
      method: 'PATCH',
      path: tenantPath('acme'),
      contentType: 'application/merge-patch+json',
      body: { spec: { images: null } },
    });
    await reconciler.reconcile(ns.name, 'acme');
    expect(condition(await getTenant('acme'), 'Degraded')).toMatchObject({ status: 'False' });
  });

  it('removes what the spec no longer asks for', async () => {
    await kubeRequestOk(kubeConfig, {
      method: 'PATCH',
      path: tenantPath('acme'),
      contentType: 'application/merge-patch+json',
      body: { spec: { api: { ingress: null } } },
    });
    await reconciler.reconcile(ns.name, 'acme');
    expect(await get('networking.k8s.io/v1', 'Ingress', 'acme-api')).toBeUndefined();
  });

  it('on delete drops the managed database (deletionPolicy Delete) and lets everything go', async () => {
    const tenant = await getTenant('acme');
    const { database } = managedDatabaseNames(tenant);
    await kubeRequestOk(kubeConfig, { method: 'DELETE', path: tenantPath('acme') });
    // The finalizer holds the object until the operator has dealt with the database.
    expect((await getTenant('acme')).metadata.deletionTimestamp).toBeDefined();
    await reconciler.reconcile(ns.name, 'acme');
    expect((await kubeRequest(kubeConfig, { path: tenantPath('acme') })).status).toBe(404);

    const admin = new pg.Client({ connectionString: adminDatabaseUrl() });
    await admin.connect();
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    await admin.end();
    expect(rowCount).toBe(0);

    await collectGarbage(kubeConfig, { namespace: ns.name });
    expect(await get('apps/v1', 'Deployment', 'acme-api')).toBeUndefined();
    expect(await get('apps/v1', 'StatefulSet', 'acme-redis')).toBeUndefined();
    expect(await get('v1', 'Secret', 'acme-internal')).toBeUndefined();
  });
});

describe('an external database', () => {
  it('waits for the Secret, names it in the status, and never provisions', async () => {
    await applyTenant('beta', {
      database: { mode: 'external', external: { secretRef: { name: 'beta-postgres' } } },
      redis: { mode: 'external', external: { secretRef: { name: 'beta-redis', key: 'url' } } },
    });
    await reconciler.reconcile(ns.name, 'beta');
    const tenant = await getTenant('beta');
    expect(condition(tenant, 'DatabaseReady')).toMatchObject({ status: 'False', reason: 'SecretNotFound' });
    expect(condition(tenant, 'DatabaseReady')!.message).toContain('beta-postgres');
    expect(tenant.metadata.finalizers ?? []).not.toContain('switchboard.dev/database');
    expect(await client.list('batch/v1', 'Job', ns.name, 'switchboard.dev/tenant=beta')).toHaveLength(0);
    expect(await get('apps/v1', 'StatefulSet', 'beta-redis')).toBeUndefined();
  });
});

describe('a reconcile that fails half-way', () => {
  it("still writes the status: Degraded, the failing step, what was done and the API server's message", async () => {
    // A StatefulSet with the Redis name and another selector, made by someone else: its
    // spec.selector is immutable, so the API server refuses the operator's apply.
    const other = { app: 'someone-else' };
    await client.create({
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'gamma-redis', namespace: ns.name },
      spec: {
        selector: { matchLabels: other },
        serviceName: 'gamma-redis',
        template: { metadata: { labels: other }, spec: { containers: [{ name: 'c', image: 'busybox' }] } },
      },
    } as KubernetesObject);
    await applyTenant('gamma', {
      database: { mode: 'external', external: { secretRef: { name: 'gamma-postgres' } } },
    });
    await expect(reconciler.reconcile(ns.name, 'gamma')).rejects.toThrow(/422/);
    const tenant = await getTenant('gamma');
    expect(tenant.status?.phase).toBe('Degraded');
    expect(condition(tenant, 'Ready')).toMatchObject({ status: 'False', reason: 'ReconcileFailed' });
    const degraded = condition(tenant, 'Degraded')!;
    expect(degraded).toMatchObject({ status: 'True', reason: 'ReconcileFailed' });
    expect(degraded.message).toContain('Reconcile failed at children and migration Job: 422 Invalid:');
    expect(degraded.message).toContain('updates to statefulset spec for fields other than');
    expect(degraded.message).toContain('are forbidden. Done before it');
    expect(degraded.message).toContain('Done before it: generated Secret, database.');
    expect(recorded).toContainEqual(expect.objectContaining({ type: 'Warning', reason: 'ReconcileFailed' }));
  });
});

describe('the API server', () => {
  it('rejects an invalid tenant with a message that says what is wrong', async () => {
    const response = await kubeRequest<{ message: string }>(kubeConfig, {
      method: 'PATCH',
      path: `${tenantPath('gamma')}?fieldManager=platform-team`,
      contentType: 'application/apply-patch+yaml',
      body: {
        apiVersion: API_VERSION,
        kind: KIND,
        metadata: { name: 'gamma', namespace: ns.name },
        spec: { database: { mode: 'external' }, api: { ingress: { host: 'not a host' } } },
      },
    });
    expect(response.status).toBe(422);
    expect(response.body.message).toContain('database.mode external needs database.external.secretRef');
    expect(response.body.message).toContain('spec.api.ingress.host');
  });

  it('refuses to change database.mode after creation', async () => {
    await applyTenant('delta', {});
    const response = await kubeRequest<{ message: string }>(kubeConfig, {
      method: 'PATCH',
      path: tenantPath('delta'),
      contentType: 'application/merge-patch+json',
      body: { spec: { database: { mode: 'external', external: { secretRef: { name: 'x' } } } } },
    });
    expect(response.status).toBe(422);
    expect(response.body.message).toContain('database.mode cannot change after creation');
  });
});

describe('deletionPolicy Retain', () => {
  it('keeps the managed database when the tenant is deleted', async () => {
    await applyTenant('keep', {});
    await reconciler.reconcile(ns.name, 'keep');
    const tenant = await getTenant('keep');
    const { database } = managedDatabaseNames(tenant);
    await kubeRequestOk(kubeConfig, { method: 'DELETE', path: tenantPath('keep') });
    await reconciler.reconcile(ns.name, 'keep');
    expect((await kubeRequest(kubeConfig, { path: tenantPath('keep') })).status).toBe(404);
    const admin = new pg.Client({ connectionString: adminDatabaseUrl() });
    await admin.connect();
    try {
      const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
      expect(rowCount).toBe(1);
      // Retained on purpose; this test's own cleanup drops it.
      await admin.query(`DROP DATABASE ${admin.escapeIdentifier(database)} WITH (FORCE)`);
    } finally {
      await admin.end();
    }
  });
});

describe("the tenant's API", () => {
  it('fills the Sessions column, names the sessions not connected, and keeps one owner invite open until the owner signs up', async () => {
    await applyTenant('talk', {
      sessions: [
        { name: 'support', channel: 'baileys' },
        { name: 'sales', channel: 'baileys' },
      ],
      api: { ingress: { host: 'talk.inbox.example.com', tlsSecretName: 'talk-tls' } },
      owner: { email: 'Owner@Talk.example.com' },
      database: { deletionPolicy: 'Delete' },
    });
    await reconciler.reconcile(ns.name, 'talk');
    const api = standIn.tenant(ns.name, 'talk');
    const generated = (await get<V1Secret>('v1', 'Secret', 'talk-internal'))!;
    api.token = Buffer.from(generated.data!.INTERNAL_TOKEN!, 'base64').toString('utf8');
    api.sessions = [
      { name: 'support', state: 'connected', declared: true },
      { name: 'sales', state: 'pairing', declared: true },
      // Added in the inbox, not declared: not counted against the spec.
      { name: 'extra', state: 'connected', declared: false },
    ];
    let tenant = await driveToReady('talk');
    expect(tenant.status?.phase).toBe('Ready');
    expect(tenant.status?.sessionsSummary).toBe('1/2');
    expect(tenant.status?.sessions).toEqual({ total: 2, connected: 1, pairing: 1, disconnected: 0 });
    expect(condition(tenant, 'SessionsHealthy')).toMatchObject({
      status: 'False',
      reason: 'SessionsNotConnected',
      message: '1 of 2 declared sessions are not connected: sales (pairing).',
    });

    // The owner invite: one link, on the ingress host, in the Secret the status names.
    expect(api.invites).toHaveLength(1);
    expect(api.invites[0]!.email).toBe('owner@talk.example.com');
    expect(tenant.status?.ownerInvite).toMatchObject({
      email: 'owner@talk.example.com',
      accepted: false,
      secretName: 'talk-owner-invite',
    });
    const linkOf = async () => {
      const secret = await get<V1Secret>('v1', 'Secret', 'talk-owner-invite');
      return secret ? Buffer.from(secret.data!.url!, 'base64').toString('utf8') : undefined;
    };
    expect(await linkOf()).toBe(
      `https://talk.inbox.example.com/accept-invite#token=${encodeURIComponent(api.invites[0]!.token)}`,
    );

    // Running: the reconcile asks to run again, since sessions change without any event.
    api.sessions[1]!.state = 'connected';
    const polled = await reconciler.reconcile(ns.name, 'talk');
    expect(polled.requeueAfter).toBe(30_000);
    tenant = await getTenant('talk');
    expect(tenant.status?.sessionsSummary).toBe('2/2');
    expect(condition(tenant, 'SessionsHealthy')).toMatchObject({
      status: 'True',
      reason: 'AllSessionsConnected',
    });
    // An open invite is not replaced by later passes, and a poll that finds nothing new writes nothing.
    expect(api.invites).toHaveLength(1);
    client.resetCounts();
    await reconciler.reconcile(ns.name, 'talk');
    expect(client.writes).toBe(0);

    // A week later, unaccepted: a new link replaces the expired one.
    clockOffsetMs = 7 * 86_400_000;
    try {
      await reconciler.reconcile(ns.name, 'talk');
    } finally {
      clockOffsetMs = 0;
    }
    expect(api.invites).toHaveLength(2);
    expect(await linkOf()).toBe(
      `https://talk.inbox.example.com/accept-invite#token=${encodeURIComponent(api.invites[1]!.token)}`,
    );

    // The API cannot be asked: Unknown, not an invented count; the invite is kept in the status.
    const token = api.token;
    api.token = 'not the token';
    await reconciler.reconcile(ns.name, 'talk');
    tenant = await getTenant('talk');
    expect(tenant.status?.sessionsSummary).toBe('unknown');
    expect(condition(tenant, 'SessionsHealthy')).toMatchObject({
      status: 'Unknown',
      reason: 'StatusUnavailable',
    });
    expect(condition(tenant, 'SessionsHealthy')?.message).toContain('answered 401');
    expect(tenant.status?.ownerInvite?.secretName).toBe('talk-owner-invite');
    api.token = token;

    // The owner has set a password: the link is deleted and nothing is made again, ever.
    api.ownerActive = true;
    await reconciler.reconcile(ns.name, 'talk');
    expect(await linkOf()).toBeUndefined();
    tenant = await getTenant('talk');
    expect(tenant.status?.ownerInvite).toEqual({ email: 'owner@talk.example.com', accepted: true });
    expect(recorded.some((e) => e.reason === 'OwnerSignedUp')).toBe(true);
    clockOffsetMs = 30 * 86_400_000;
    try {
      await reconciler.reconcile(ns.name, 'talk');
    } finally {
      clockOffsetMs = 0;
    }
    expect(await linkOf()).toBeUndefined();
    expect(api.invites).toHaveLength(2);
    expect(api.requests.filter((r) => r === 'POST /internal/owner-invite')).toHaveLength(2);
  });
});

describe('ServiceMonitors and PrometheusRules', () => {
  it('are created once discovery finds monitoring.coreos.com/v1, and not before', async () => {
    const served = async (kind: string) =>
      (
        (await client.getPath<{ resources?: { kind: string }[] }>('/apis/monitoring.coreos.com/v1'))
          ?.resources ?? []
      ).some((r) => r.kind === kind);
    const discovering = new TenantReconciler({
      client,
      config,
      events,
      serviceMonitorsAvailable: () => served('ServiceMonitor'),
      prometheusRulesAvailable: () => served('PrometheusRule'),
    });
    await applyTenant('watched', {
      database: { mode: 'external', external: { secretRef: { name: 'watched-postgres' } } },
      observability: { serviceMonitor: true, prometheusRule: true },
    });
    const installed = (await client.getPath('/apis/monitoring.coreos.com/v1')) !== undefined;
    if (!installed) {
      // Without the CRDs the reconcile succeeds (applying either kind would fail with 404).
      await expect(discovering.reconcile(ns.name, 'watched')).resolves.toBeDefined();
      expect(await get('v1', 'Service', 'watched-api')).toBeDefined();
    }
    await installCrds(kubeConfig, fileURLToPath(new URL('./fixtures', import.meta.url)));
    await discovering.reconcile(ns.name, 'watched');
    const monitors = await client.list('monitoring.coreos.com/v1', 'ServiceMonitor', ns.name);
    expect(monitors.map((m) => m.metadata?.name)).toContain('watched');
    const rule = await get<
      KubernetesObject & {
        spec: {
          groups: { rules: { alert: string; expr: string; annotations: { runbook_url: string } }[] }[];
        };
      }
    >('monitoring.coreos.com/v1', 'PrometheusRule', 'watched');
    expect(rule?.metadata?.ownerReferences?.map((o) => o.name)).toEqual(['watched']);
    const alerts = rule?.spec.groups.flatMap((g) => g.rules) ?? [];
    expect(alerts.map((a) => a.alert)).toContain('SwitchboardOutboundDeadLetters');
    for (const alert of alerts) {
      expect(alert.expr, alert.alert).toContain('tenant="watched"');
      expect(alert.annotations.runbook_url, alert.alert).toMatch(
        new RegExp(`/docs/runbooks/${alert.alert}\\.md$`),
      );
    }
  });
});
