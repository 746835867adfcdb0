// The shared control plane started by global-setup.ts: a real kube-apiserver that serves the
// pinned version, authenticates, authorizes with RBAC and runs CEL validation.
import { request } from 'node:https';
import { fileURLToPath } from 'node:url';
import { ApiException, CoreV1Api, CustomObjectsApi, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installCrds } from './crds.ts';
import { kubeRequest } from './http.ts';
import { impersonate } from './impersonate.ts';
import { createTestNamespace, type TestNamespace } from './namespaces.ts';
import { useControlPlane } from './shared-control-plane.ts';
import { KUBERNETES_VERSION } from './versions.ts';

const plane = useControlPlane();
const kc = plane.kubeConfig;
const crdsDir = fileURLToPath(new URL('./fixtures/crds/', import.meta.url));

// A request with no client certificate and no token: only the CA, to trust the server.
function anonymousGet(
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, plane.server), { ca: plane.caCertificate, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function statusOf(error: unknown): number | undefined {
  return error instanceof ApiException ? error.code : undefined;
}

let ns: TestNamespace;
beforeAll(async () => {
  ns = await createTestNamespace(kc, 'control-plane');
});
afterAll(async () => {
  await ns?.delete();
});

describe('the shared control plane', () => {
  it.skipIf(plane.binarySource === 'assets')(
    'serves /version with the pinned Kubernetes version',
    async () => {
      const response = await kubeRequest<{ gitVersion: string; major: string; minor: string }>(kc, {
        path: '/version',
      });
      expect(response.status).toBe(200);
      expect(response.body.gitVersion).toBe(`v${KUBERNETES_VERSION}`);
      const [major, minor] = KUBERNETES_VERSION.split('.');
      expect(response.body).toMatchObject({ major, minor });
      expect(plane.version.gitVersion).toBe(`v${KUBERNETES_VERSION}`);
    },
  );

  it('listens on loopback only', () => {
    expect(new URL(plane.server).hostname).toBe('127.0.0.1');
  });

  it('lets the admin client certificate (system:masters) do anything', async () => {
    const review = await kubeRequest<{ status: { userInfo: { username: string; groups: string[] } } }>(kc, {
      method: 'POST',
      path: '/apis/authentication.k8s.io/v1/selfsubjectreviews',
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
    });
    expect(review.body.status.userInfo.username).toBe('admin');
    expect(review.body.status.userInfo.groups).toContain('system:masters');
    const namespaces = await kc.makeApiClient(CoreV1Api).listNamespace();
    expect(namespaces.items.map((n) => n.metadata?.name)).toContain('kube-system');
  });

  it('rejects a request without credentials (anonymous is not authorized)', async () => {
    const response = await anonymousGet('/api/v1/namespaces');
    expect(response.status).toBe(403);
    expect(response.body).toContain('system:anonymous');
  });

  it('rejects a request with a token it did not sign (401)', async () => {
    const response = await anonymousGet('/api/v1/namespaces', { authorization: 'Bearer not-a-real-token' });
    expect(response.status).toBe(401);
  });

  it('enforces RBAC for an impersonated service account with no rules', async () => {
    const asRobot = impersonate(kc, { namespace: ns.name, serviceAccount: 'robot' });
    const core = asRobot.makeApiClient(CoreV1Api);
    const denied = await core
      .listNamespacedConfigMap({ namespace: ns.name })
      .catch((error: unknown) => error);
    expect(statusOf(denied)).toBe(403);
    expect(JSON.parse((denied as ApiException<string>).body).message).toContain(
      `User "system:serviceaccount:${ns.name}:robot" cannot list resource "configmaps"`,
    );

    // Grant exactly get/list on ConfigMaps: listing now works, creating still does not.
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace: ns.name,
      body: {
        metadata: { name: 'read-configmaps' },
        rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: ns.name,
      body: {
        metadata: { name: 'robot-reads-configmaps' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'read-configmaps' },
        subjects: [{ kind: 'ServiceAccount', name: 'robot', namespace: ns.name }],
      },
    });
    await expect(core.listNamespacedConfigMap({ namespace: ns.name })).resolves.toBeDefined();
    const createDenied = await core
      .createNamespacedConfigMap({ namespace: ns.name, body: { metadata: { name: 'nope' } } })
      .catch((error: unknown) => error);
    expect(statusOf(createDenied)).toBe(403);
  });

  it('installs a CRD and rejects an object that breaks its CEL rule', async () => {
    const names = await installCrds(kc, crdsDir);
    expect(names).toEqual(['widgets.envtest.switchboard.dev']);
    // Installing again is harmless (server-side apply): other test files may install the same CRDs.
    await installCrds(kc, crdsDir);

    const custom = kc.makeApiClient(CustomObjectsApi);
    const widget = (name: string, spec: object) => ({
      group: 'envtest.switchboard.dev',
      version: 'v1alpha1',
      namespace: ns.name,
      plural: 'widgets',
      body: { apiVersion: 'envtest.switchboard.dev/v1alpha1', kind: 'Widget', metadata: { name }, spec },
    });
    await expect(
      custom.createNamespacedCustomObject(widget('good', { replicas: 3, minReplicas: 1 })),
    ).resolves.toMatchObject({ metadata: { name: 'good' } });

    const rejected = await custom
      .createNamespacedCustomObject(widget('bad', { replicas: 1, minReplicas: 2 }))
      .catch((error: unknown) => error);
    expect(statusOf(rejected)).toBe(422);
    const body = String((rejected as ApiException<string>).body);
    expect(body).toContain('minReplicas must not exceed replicas');
    expect(body).toContain('spec.minReplicas');

    // The OpenAPI schema is enforced too (minimum: 0).
    const negative = await custom
      .createNamespacedCustomObject(widget('negative', { replicas: -1 }))
      .catch((error: unknown) => error);
    expect(statusOf(negative)).toBe(422);
  });
});
