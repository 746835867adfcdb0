// The operator and a tenant's real API closing the loop: the reconcile (against the real
// kube-apiserver) reads GET /internal/status of the real API (buildApp over the tenant's real
// Postgres and Redis, listening on loopback) for the Sessions column, and asks it for the first
// owner's invite; the link it writes into the Secret sets the owner's password, after which the
// operator deletes the Secret and never makes another.
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { V1Job, V1Secret } from '@kubernetes/client-node';
import { createDb, type Db, tenantIdForSlug, withTenant } from '@switchboard/db';
import {
  completeJob,
  createTestNamespace,
  installCrds,
  kubeRequestOk,
  markDeploymentAvailable,
  markStatefulSetReady,
  type TestNamespace,
  useControlPlane,
} from '@switchboard/envtest';
import {
  createTestDatabase,
  deleteKeysWithPrefix,
  redisOptions,
  type TestDatabase,
} from '@switchboard/testing';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, KIND, type WhatsAppTenant } from '../operator/src/api/v1alpha1/index.ts';
import type { EventRecorder } from '../operator/src/controller/events.ts';
import { HttpTenantApi } from '../operator/src/controller/tenant-api.ts';
import { TenantReconciler } from '../operator/src/controller/tenant-reconciler.ts';
import { KubeClient } from '../operator/src/kube/kube-client.ts';
import { operatorConfigFixture } from '../operator/src/testing/fixtures.ts';
import { buildApp } from '../services/api/src/app.ts';

const { kubeConfig } = useControlPlane();
const name = `owned-${randomBytes(3).toString('hex')}`;
let ns: TestNamespace;
let client: KubeClient;
let database: TestDatabase;
let db: Db;
let redis: Redis;
let app: FastifyInstance | undefined;
let apiUrl = 'http://127.0.0.1:9';
const events: EventRecorder = { normal: async () => {}, warning: async () => {} };
let reconciler: TenantReconciler;

beforeAll(async () => {
  await installCrds(kubeConfig, 'crds');
  ns = await createTestNamespace(kubeConfig, 'tenant-api');
  client = new KubeClient({ kubeConfig, fieldManager: 'switchboard-operator' });
  database = await createTestDatabase({ label: 'tenant-api' });
  db = createDb({ databaseUrl: database.appUrl, applicationName: 'tenant-api-test' });
  redis = new Redis({ ...redisOptions(), maxRetriesPerRequest: 1 });
  reconciler = new TenantReconciler({
    client,
    config: operatorConfigFixture(),
    events,
    serviceMonitorsAvailable: async () => false,
    // The API's Service name does not resolve here: the reconcile reaches the API on loopback.
    tenantApi: new HttpTenantApi({ baseUrl: () => apiUrl }),
  });
});

afterAll(async () => {
  await app?.close();
  if (redis) await deleteKeysWithPrefix(redis, `sb:${name}:`);
  redis?.disconnect();
  await db?.$disconnect();
  await database?.drop();
  client?.close();
  await ns?.delete();
});

const tenantPath = `/apis/switchboard.dev/v1alpha1/namespaces/${'{ns}'}/whatsapptenants/${name}`;
const getTenant = () =>
  kubeRequestOk<WhatsAppTenant>(kubeConfig, { path: tenantPath.replace('{ns}', ns.name) });
const secretText = (secret: V1Secret | undefined, key: string) =>
  Buffer.from(secret?.data?.[key] ?? '', 'base64').toString('utf8');

describe('the operator and the tenant API', () => {
  it('fill the Sessions column and hand the first owner a working invite link', async () => {
    // The tenant's database is this test's: given to the operator as an external database.
    await client.create<V1Secret>({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: `${name}-postgres`, namespace: ns.name },
      stringData: { ownerUrl: database.ownerUrl, appUrl: database.appUrl, appRole: database.appRole },
    });
    await kubeRequestOk(kubeConfig, {
      method: 'PATCH',
      path: `${tenantPath.replace('{ns}', ns.name)}?fieldManager=platform-team&force=true`,
      contentType: 'application/apply-patch+yaml',
      body: {
        apiVersion: API_VERSION,
        kind: KIND,
        metadata: { name, namespace: ns.name },
        spec: {
          sessions: [
            { name: 'support', channel: 'baileys' },
            { name: 'sales', channel: 'baileys' },
          ],
          api: { ingress: { host: `${name}.inbox.example.com`, tlsSecretName: `${name}-tls` } },
          database: { mode: 'external', external: { secretRef: { name: `${name}-postgres` } } },
          owner: { email: 'first.owner@example.com' },
        },
      },
    });

    // The first pass generates INTERNAL_TOKEN; the API starts with it, as its pods would.
    await reconciler.reconcile(ns.name, name);
    const generated = await client.get<V1Secret>('v1', 'Secret', ns.name, `${name}-internal`);
    app = await buildApp({
      db,
      redis,
      tenant: { slug: name, displayName: 'Owned' },
      jwtSigningKey: secretText(generated, 'JWT_SIGNING_KEY'),
      internalToken: secretText(generated, 'INTERNAL_TOKEN'),
      scrypt: { N: 1024, r: 8, p: 1 },
      inboxDir: null,
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    apiUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    // The workers' view of the declared sessions: one connected, one waiting for its QR code.
    const tenantId = tenantIdForSlug(name);
    await withTenant(db, tenantId, async (tx) => {
      await tx.session.create({
        data: { tenantId, name: 'support', channel: 'baileys', declared: true, state: 'connected' },
      });
      await tx.session.create({
        data: { tenantId, name: 'sales', channel: 'baileys', declared: true, state: 'pairing' },
      });
    });

    // Migrated, Redis and pods ready: the API is asked.
    for (const job of await client.list<V1Job>('batch/v1', 'Job', ns.name, `switchboard.dev/tenant=${name}`))
      await completeJob(kubeConfig, { namespace: ns.name, name: job.metadata!.name! });
    await reconciler.reconcile(ns.name, name);
    for (const set of ['redis', 'sentinel'])
      await markStatefulSetReady(kubeConfig, { namespace: ns.name, name: `${name}-${set}` });
    for (const deployment of ['api', 'worker'])
      await markDeploymentAvailable(kubeConfig, { namespace: ns.name, name: `${name}-${deployment}` });
    const result = await reconciler.reconcile(ns.name, name);
    expect(result.requeueAfter).toBe(30_000);

    let tenant = await getTenant();
    expect(tenant.status?.phase).toBe('Ready');
    expect(tenant.status?.sessionsSummary).toBe('1/2');
    expect(tenant.status?.conditions?.find((c) => c.type === 'SessionsHealthy')).toMatchObject({
      status: 'False',
      reason: 'SessionsNotConnected',
      message: '1 of 2 declared sessions are not connected: sales (pairing).',
    });

    // The platform team reads the link from the Secret the status names.
    const secretName = tenant.status?.ownerInvite?.secretName;
    expect(secretName).toBe(`${name}-owner-invite`);
    const link = secretText(await client.get<V1Secret>('v1', 'Secret', ns.name, secretName!), 'url');
    expect(link).toMatch(new RegExp(`^https://${name}\\.inbox\\.example\\.com/accept-invite#token=`));
    const token = decodeURIComponent(new URL(link).hash.replace(/^#token=/, ''));

    // The owner opens it (the inbox page makes these two calls) and signs in.
    const invite = await app.inject({ method: 'POST', url: '/v1/auth/invite', payload: { token } });
    expect(invite.json()).toMatchObject({ email: 'first.owner@example.com', tenant: name });
    const accepted = await app.inject({
      method: 'POST',
      url: '/v1/auth/invite/accept',
      payload: { token, password: 'the owner password 1' },
    });
    expect(accepted.statusCode).toBe(204);
    const login = await app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { email: 'first.owner@example.com', password: 'the owner password 1' },
    });
    expect(login.statusCode).toBe(200);

    // The next pass sees the owner: the Secret goes, and nothing is made again.
    await withTenant(db, tenantId, (tx) =>
      tx.session.updateMany({ where: { name: 'sales' }, data: { state: 'connected' } }),
    );
    await reconciler.reconcile(ns.name, name);
    tenant = await getTenant();
    expect(tenant.status?.ownerInvite).toEqual({ email: 'first.owner@example.com', accepted: true });
    expect(tenant.status?.sessionsSummary).toBe('2/2');
    expect(await client.get('v1', 'Secret', ns.name, `${name}-owner-invite`)).toBeUndefined();
    await reconciler.reconcile(ns.name, name);
    expect(await client.get('v1', 'Secret', ns.name, `${name}-owner-invite`)).toBeUndefined();
    const owners = await withTenant(db, tenantId, (tx) =>
      tx.membership.findMany({ where: { role: 'owner' }, include: { user: true } }),
    );
    expect(owners.map((o) => o.user.email)).toEqual(['first.owner@example.com']);
  });
});
