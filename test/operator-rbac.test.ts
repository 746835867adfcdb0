// The operator's reconcile, run with exactly the RBAC the Helm chart grants: the chart's
// ServiceAccount, ClusterRole and bindings are rendered by the real helm, applied to the real
// API server, and the reconciler acts as that ServiceAccount (impersonation). A rule missing
// from charts/switchboard/templates/rbac.yaml shows up here as a 403, so RBAC drift fails CI.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { KubernetesObject, V1Job } from '@kubernetes/client-node';
import {
  completeJob,
  createTestNamespace,
  impersonate,
  installCrds,
  kubeRequest,
  kubeRequestOk,
  markDeploymentAvailable,
  markStatefulSetReady,
  type TestNamespace,
  useControlPlane,
} from '@switchboard/envtest';
import { adminDatabaseUrl } from '@switchboard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { API_VERSION, KIND, type WhatsAppTenant } from '../operator/src/api/v1alpha1/index.ts';
import { KubeEventRecorder } from '../operator/src/controller/events.ts';
import { platformDatabaseUrlFromSecret } from '../operator/src/controller/platform-database.ts';
import { TenantReconciler } from '../operator/src/controller/tenant-reconciler.ts';
import { KubeClient } from '../operator/src/kube/kube-client.ts';
import { operatorConfigFixture } from '../operator/src/testing/fixtures.ts';

const run = promisify(execFile);
const { kubeConfig, tools } = useControlPlane();
const RBAC_KINDS = new Set(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);

let operatorNs: TestNamespace;
let tenantNs: TestNamespace;
let workDir: string;
let applied: KubernetesObject[] = [];
let client: KubeClient;
const fullname = `rbac-${randomBytes(3).toString('hex')}`;
const serviceAccount = `${fullname}-operator`;

async function serverSideApply(object: KubernetesObject): Promise<void> {
  const { apiVersion, kind, metadata } = object;
  const base = apiVersion === 'v1' ? '/api/v1' : `/apis/${apiVersion}`;
  const plural = {
    ServiceAccount: 'serviceaccounts',
    ClusterRole: 'clusterroles',
    ClusterRoleBinding: 'clusterrolebindings',
    Role: 'roles',
    RoleBinding: 'rolebindings',
  }[kind!];
  const ns = metadata?.namespace ? `/namespaces/${metadata.namespace}` : '';
  await kubeRequestOk(kubeConfig, {
    method: 'PATCH',
    path: `${base}${ns}/${plural}/${metadata!.name}?fieldManager=helm&force=true`,
    contentType: 'application/apply-patch+yaml',
    body: object,
  });
}

/** Renders the chart with `values` by the real helm and applies its RBAC objects. */
async function renderRbac(values: Record<string, unknown>): Promise<KubernetesObject[]> {
  const file = join(workDir, `values-${randomBytes(3).toString('hex')}.json`);
  await writeFile(file, JSON.stringify(values));
  const { stdout } = await run(
    tools.helm,
    ['template', 'switchboard', 'charts/switchboard', '--namespace', operatorNs.name, '--values', file],
    { env: { ...process.env, HELM_CACHE_HOME: workDir, HELM_CONFIG_HOME: workDir, HELM_DATA_HOME: workDir } },
  );
  const objects = parseAllDocuments(stdout)
    .map((doc) => doc.toJS() as KubernetesObject | null)
    .filter((o): o is KubernetesObject => o !== null && RBAC_KINDS.has(o.kind ?? ''));
  for (const object of objects) {
    object.metadata!.namespace ??= operatorNs.name;
    if (object.kind === 'ClusterRole' || object.kind === 'ClusterRoleBinding')
      delete object.metadata!.namespace;
    await serverSideApply(object);
  }
  return objects;
}

/** Deletes the cluster-scoped objects of `objects`, and its RoleBindings outside the test namespaces. */
async function deleteRbac(objects: KubernetesObject[]): Promise<void> {
  for (const object of objects) {
    const { kind, metadata } = object;
    const path =
      kind === 'ClusterRole' || kind === 'ClusterRoleBinding'
        ? `/apis/rbac.authorization.k8s.io/v1/${kind === 'ClusterRole' ? 'clusterroles' : 'clusterrolebindings'}/${metadata!.name}`
        : kind === 'RoleBinding' && metadata!.namespace === 'tenants'
          ? `/apis/rbac.authorization.k8s.io/v1/namespaces/tenants/rolebindings/${metadata!.name}`
          : undefined;
    if (path) await kubeRequestOk(kubeConfig, { method: 'DELETE', path }).catch(() => undefined);
  }
}

beforeAll(async () => {
  await installCrds(kubeConfig, 'charts/switchboard/crds');
  operatorNs = await createTestNamespace(kubeConfig, 'operator');
  tenantNs = await createTestNamespace(kubeConfig, 'rbac-tenants');
  workDir = await mkdtemp(join(tmpdir(), 'switchboard-rbac-'));
  applied = await renderRbac({
    fullnameOverride: fullname,
    watchNamespaces: [tenantNs.name],
    platformPostgresSecret: 'platform-postgres',
    tenantStack: { network: { postgres: { peers: [{ namespace: 'switchboard-system' }], port: 5432 } } },
  });
  // The platform Postgres admin URL, where the chart's platformPostgresSecret points.
  await kubeRequestOk(kubeConfig, {
    method: 'POST',
    path: `/api/v1/namespaces/${operatorNs.name}/secrets`,
    body: {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'platform-postgres' },
      stringData: { url: adminDatabaseUrl() },
    },
  });
});

afterAll(async () => {
  client?.close();
  await deleteRbac(applied);
  await tenantNs?.delete();
  await operatorNs?.delete();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('the chart grants what the reconcile needs', () => {
  it('reconciles a full tenant to Ready as the operator ServiceAccount, with no 403', async () => {
    expect(applied.map((o) => o.kind)).toEqual(
      expect.arrayContaining(['ServiceAccount', 'ClusterRole', 'RoleBinding', 'Role']),
    );
    const asOperator = impersonate(kubeConfig, { namespace: operatorNs.name, serviceAccount });
    client = new KubeClient({ kubeConfig: asOperator, fieldManager: 'switchboard-operator' });
    const failedEvents: unknown[] = [];
    const reconciler = new TenantReconciler({
      client,
      config: operatorConfigFixture(),
      events: new KubeEventRecorder({
        client,
        component: 'switchboard-operator',
        instance: 'rbac-test',
        onError: (error) => failedEvents.push(error),
      }),
      platformDatabaseUrl: () => platformDatabaseUrlFromSecret(client, operatorNs.name, 'platform-postgres'),
      serviceMonitorsAvailable: async () => false,
    });

    await kubeRequestOk(kubeConfig, {
      method: 'PATCH',
      path: `/apis/switchboard.dev/v1alpha1/namespaces/${tenantNs.name}/whatsapptenants/acme?fieldManager=platform-team`,
      contentType: 'application/apply-patch+yaml',
      body: {
        apiVersion: API_VERSION,
        kind: KIND,
        metadata: { name: 'acme', namespace: tenantNs.name },
        spec: {
          sessions: [{ name: 'support', channel: 'baileys' }],
          api: { ingress: { host: 'acme.inbox.example.com' }, autoscaling: { enabled: true } },
          database: { deletionPolicy: 'Delete' },
        },
      },
    });

    await reconciler.reconcile(tenantNs.name, 'acme');
    const jobs = await client.list<V1Job>(
      'batch/v1',
      'Job',
      tenantNs.name,
      'app.kubernetes.io/instance=acme',
    );
    expect(jobs).toHaveLength(1);
    await completeJob(kubeConfig, { namespace: tenantNs.name, name: jobs[0]!.metadata!.name! });
    await reconciler.reconcile(tenantNs.name, 'acme');
    for (const name of ['acme-redis', 'acme-sentinel']) {
      await markStatefulSetReady(kubeConfig, { namespace: tenantNs.name, name });
    }
    for (const name of ['acme-api', 'acme-worker']) {
      await markDeploymentAvailable(kubeConfig, { namespace: tenantNs.name, name });
    }
    await reconciler.reconcile(tenantNs.name, 'acme');

    const tenant = await kubeRequestOk<WhatsAppTenant>(kubeConfig, {
      path: `/apis/switchboard.dev/v1alpha1/namespaces/${tenantNs.name}/whatsapptenants/acme`,
    });
    expect(tenant.status?.phase).toBe('Ready');
    expect(failedEvents).toEqual([]);
    const events = await kubeRequestOk<{ items: { reason: string; source: { component: string } }[] }>(
      kubeConfig,
      {
        path: `/api/v1/namespaces/${tenantNs.name}/events`,
      },
    );
    expect(events.items.map((e) => e.reason)).toEqual(
      expect.arrayContaining(['DatabaseProvisioned', 'Ready']),
    );

    // And the delete path: finalizer removal and dropping the database, also as the operator.
    await kubeRequestOk(kubeConfig, {
      method: 'DELETE',
      path: `/apis/switchboard.dev/v1alpha1/namespaces/${tenantNs.name}/whatsapptenants/acme`,
    });
    await reconciler.reconcile(tenantNs.name, 'acme');
    expect(await client.get(API_VERSION, KIND, tenantNs.name, 'acme')).toBeUndefined();
  });

  it('cannot read kube-system Secrets with the chart defaults, nor list Secrets cluster-wide', async () => {
    // The chart's default values (watchNamespaces: [tenants]), rendered and applied for real.
    const defaults = `rbac-default-${randomBytes(3).toString('hex')}`;
    await kubeRequest(kubeConfig, {
      method: 'POST',
      path: '/api/v1/namespaces',
      body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'tenants' } },
    });
    const objects = await renderRbac({ fullnameOverride: defaults });
    try {
      expect(objects.filter((o) => o.kind === 'ClusterRoleBinding')).toEqual([]);
      const user = `system:serviceaccount:${operatorNs.name}:${defaults}-operator`;
      const allowed = async (attributes: Record<string, string>): Promise<boolean> => {
        const review = await kubeRequestOk<{ status: { allowed: boolean } }>(kubeConfig, {
          method: 'POST',
          path: '/apis/authorization.k8s.io/v1/subjectaccessreviews',
          body: {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SubjectAccessReview',
            spec: {
              user,
              groups: [
                'system:serviceaccounts',
                `system:serviceaccounts:${operatorNs.name}`,
                'system:authenticated',
              ],
              resourceAttributes: attributes,
            },
          },
        });
        return review.status.allowed;
      };
      // Wait until the authorizer has seen the bindings (it may read Secrets where tenants
      // live), so the denials below are the rules' answer, not a binding not yet seen.
      const deadline = Date.now() + 20_000;
      while (!(await allowed({ verb: 'list', resource: 'secrets', namespace: 'tenants' }))) {
        if (Date.now() > deadline) throw new Error('the RoleBinding in tenants was not seen within 20 s');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(await allowed({ verb: 'get', resource: 'secrets', namespace: 'kube-system' })).toBe(false);
      expect(await allowed({ verb: 'list', resource: 'secrets', namespace: 'kube-system' })).toBe(false);
      expect(await allowed({ verb: 'list', resource: 'secrets' })).toBe(false);
      expect(
        await allowed({ verb: 'create', group: 'apps', resource: 'deployments', namespace: 'kube-system' }),
      ).toBe(false);
      // And as the ServiceAccount itself (impersonation), through the real authorizer.
      const asDefault = impersonate(kubeConfig, {
        namespace: operatorNs.name,
        serviceAccount: `${defaults}-operator`,
      });
      const read = await kubeRequest(asDefault, { path: '/api/v1/namespaces/kube-system/secrets' });
      expect(read.status).toBe(403);
    } finally {
      await deleteRbac(objects);
    }
  });

  it('does not let the operator act outside the namespaces it watches', async () => {
    const other = await createTestNamespace(kubeConfig, 'unwatched');
    try {
      const asOperator = impersonate(kubeConfig, { namespace: operatorNs.name, serviceAccount });
      const outsider = new KubeClient({ kubeConfig: asOperator, fieldManager: 'switchboard-operator' });
      await expect(
        outsider.apply({
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'x', namespace: other.name },
        }),
      ).rejects.toMatchObject({ status: 403 });
      outsider.close();
    } finally {
      await other.delete();
    }
  });
});
