import type { V1Deployment } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { MEDIA_MOUNT_PATH, type WhatsAppTenantSpecInput } from '../api/v1alpha1/index.ts';
import { operatorConfigFixture, tenantFixture } from '../testing/fixtures.ts';
import {
  buildApiAutoscaler,
  buildApiDeployment,
  buildApiIngress,
  buildApiPodDisruptionBudget,
  buildApiService,
} from './api.ts';
import { mediaSettings } from './config-map.ts';
import { CONFIG_HASH_ANNOTATION } from './names.ts';
import { buildWorkerDeployment } from './worker.ts';

const config = operatorConfigFixture();
const digests = { 'acme-internal': 'g1', 'acme-db': 'd1' };

function deployments(spec: WhatsAppTenantSpecInput, secretDigests: Record<string, string> = digests) {
  const tenant = tenantFixture(spec);
  return {
    api: buildApiDeployment(tenant, config, { secretDigests }),
    worker: buildWorkerDeployment(tenant, config, { secretDigests }),
  };
}

const hash = (deployment: V1Deployment) =>
  deployment.spec?.template.metadata?.annotations?.[CONFIG_HASH_ANNOTATION];

describe('config hash of the API and worker pods', () => {
  const base = deployments({ sessions: [{ name: 'support' }] });

  it('is set on both pod templates', () => {
    expect(hash(base.api)).toMatch(/^[0-9a-f]{16}$/);
    expect(hash(base.worker)).toMatch(/^[0-9a-f]{16}$/);
  });

  it.each<[string, WhatsAppTenantSpecInput, Record<string, string>, { api: boolean; worker: boolean }]>([
    ['worker replicas', { workers: { replicas: 5 } }, digests, { api: false, worker: false }],
    [
      'maxSessionsPerWorker',
      { workers: { maxSessionsPerWorker: 10 } },
      digests,
      { api: false, worker: true },
    ],
    [
      'the public host',
      { api: { ingress: { host: 'new.example.com' } } },
      digests,
      { api: true, worker: false },
    ],
    [
      'the tracing endpoint',
      { observability: { tracing: { endpoint: 'http://o:4318' } } },
      digests,
      { api: true, worker: true },
    ],
    ['the display name', { displayName: 'Acme' }, digests, { api: true, worker: true }],
    ['the generated Secret', {}, { ...digests, 'acme-internal': 'g2' }, { api: true, worker: true }],
    ['the database Secret', {}, { ...digests, 'acme-db': 'd2' }, { api: true, worker: true }],
    ['an unrelated Secret', {}, { ...digests, 'someone-else': 'x' }, { api: false, worker: false }],
  ])('changes on %s exactly where it is read', (_, extra, secretDigests, changes) => {
    const changed = deployments({ sessions: [{ name: 'support' }], ...extra }, secretDigests);
    expect(hash(changed.api) !== hash(base.api)).toBe(changes.api);
    expect(hash(changed.worker) !== hash(base.worker)).toBe(changes.worker);
  });

  it('leaves both pod templates untouched when a baileys session is declared', () => {
    const more = deployments({ sessions: [{ name: 'support' }, { name: 'sales' }] });
    expect(more.api.spec?.template).toEqual(base.api.spec?.template);
    expect(more.worker.spec?.template).toEqual(base.worker.spec?.template);
  });
});

describe('buildApiDeployment', () => {
  it('runs the spec replicas, none when suspended, and leaves replicas to the HPA when autoscaled', () => {
    expect(deployments({ api: { replicas: 3 } }).api.spec?.replicas).toBe(3);
    expect(deployments({ api: { replicas: 3 }, suspend: true }).api.spec?.replicas).toBe(0);
    const autoscaled = deployments({ api: { autoscaling: { enabled: true } } }).api;
    expect(autoscaled.spec).not.toHaveProperty('replicas');
    expect(deployments({ api: { autoscaling: { enabled: true } }, suspend: true }).api.spec?.replicas).toBe(
      0,
    );
  });

  it('keeps serving while its endpoint removal propagates, then drains within the grace period', () => {
    const pod = deployments({}).api.spec?.template.spec;
    const preStop = pod?.containers[0]?.lifecycle?.preStop;
    // The kubelet's own sleep action: no exec, so no `sleep` binary is needed in the image.
    expect(preStop).toEqual({ sleep: { seconds: 10 } });
    expect(pod?.terminationGracePeriodSeconds).toBe(40);
    expect(pod?.terminationGracePeriodSeconds).toBeGreaterThanOrEqual((preStop?.sleep?.seconds ?? 0) + 30);
  });

  it('selects its own pods and reads its settings and secrets by reference', () => {
    const { api } = deployments({});
    expect(api.spec?.template.metadata?.labels).toMatchObject(
      api.spec?.selector.matchLabels ?? { missing: true },
    );
    const container = api.spec?.template.spec?.containers[0];
    expect(container?.image).toBe('ghcr.io/switchboard/api:1.4.2');
    const env = Object.fromEntries((container?.env ?? []).map((variable) => [variable.name, variable]));
    expect(env.PORT?.valueFrom?.configMapKeyRef).toEqual({ name: 'acme-config', key: 'PORT' });
    expect(env.DATABASE_URL?.valueFrom?.secretKeyRef).toEqual({ name: 'acme-db', key: 'appUrl' });
    expect(env.JWT_SIGNING_KEY?.valueFrom?.secretKeyRef).toEqual({
      name: 'acme-internal',
      key: 'JWT_SIGNING_KEY',
    });
    // Its own Redis ACL user, not the admin's password.
    expect(env.REDIS_USERNAME?.value).toBe('api');
    expect(env.REDIS_PASSWORD?.valueFrom?.secretKeyRef).toEqual({
      name: 'acme-internal',
      key: 'REDIS_API_PASSWORD',
    });
    expect(env.SEALING_KEYS?.valueFrom?.secretKeyRef).toEqual({ name: 'acme-internal', key: 'SEALING_KEYS' });
    expect(env.INTERNAL_TOKEN?.valueFrom?.secretKeyRef).toEqual({
      name: 'acme-internal',
      key: 'INTERNAL_TOKEN',
    });
    expect(env.OTEL_SERVICE_NAME?.value).toBe('switchboard-api');
  });

  it('uses the spec resources as a whole when given, the defaults otherwise', () => {
    const given = deployments({ api: { resources: { limits: { memory: '2Gi', cpu: 2 } } } }).api;
    expect(given.spec?.template.spec?.containers[0]?.resources).toEqual({
      limits: { memory: '2Gi', cpu: '2' },
    });
    const defaults = deployments({}).api;
    expect(defaults.spec?.template.spec?.containers[0]?.resources).toEqual({
      requests: { cpu: '100m', memory: '256Mi' },
      limits: { memory: '512Mi' },
    });
  });

  it('mounts cloud-api credentials with provider kubernetes, and the image override wins', () => {
    const tenant = tenantFixture({
      sessions: [
        { name: 'sales', channel: 'cloud-api', phoneNumberId: '1', secretRef: { name: 'sales-meta' } },
      ],
      images: { api: 'registry.example.com/api:pinned' },
    });
    const api = buildApiDeployment(tenant, config, { secretDigests: {} });
    const volume = api.spec?.template.spec?.volumes?.find((v) => v.name === 'session-credentials');
    expect(volume?.projected?.sources?.[0]?.secret).toEqual({
      name: 'sales-meta',
      items: [
        { key: 'accessToken', path: 'sales/accessToken' },
        { key: 'appSecret', path: 'sales/appSecret' },
        { key: 'verifyToken', path: 'sales/verifyToken' },
      ],
    });
    expect(api.spec?.template.spec?.containers[0]?.image).toBe('registry.example.com/api:pinned');
  });
});

describe('media storage of the API and worker pods', () => {
  const envOf = (deployment: V1Deployment) =>
    Object.fromEntries(
      (deployment.spec?.template.spec?.containers[0]?.env ?? []).map((variable) => [variable.name, variable]),
    );

  it('mounts the volume claim in both at the path MEDIA_DIR names', () => {
    const built = deployments({ media: { storage: 'volume', volume: { claimName: 'acme-media' } } });
    for (const deployment of [built.api, built.worker]) {
      const pod = deployment.spec?.template.spec;
      expect(pod?.volumes).toContainEqual({
        name: 'media',
        persistentVolumeClaim: { claimName: 'acme-media' },
      });
      expect(pod?.containers[0]?.volumeMounts).toContainEqual({ name: 'media', mountPath: MEDIA_MOUNT_PATH });
      expect(envOf(deployment).MEDIA_DIR?.valueFrom?.configMapKeyRef?.key).toBe('MEDIA_DIR');
    }
    const settings = mediaSettings(
      tenantFixture({ media: { storage: 'volume', volume: { claimName: 'acme-media' } } }),
    );
    expect(settings).toEqual({ MEDIA_STORAGE: 'local', MEDIA_DIR: MEDIA_MOUNT_PATH });
  });

  it('gives both the bucket settings and the access key by reference, and rolls them when the key changes', () => {
    const spec: WhatsAppTenantSpecInput = {
      media: {
        storage: 's3',
        s3: {
          bucket: 'acme-media',
          endpoint: 'http://minio.storage:9000',
          forcePathStyle: true,
          secretRef: { name: 'acme-s3' },
        },
      },
    };
    expect(mediaSettings(tenantFixture(spec))).toEqual({
      MEDIA_STORAGE: 's3',
      S3_BUCKET: 'acme-media',
      S3_REGION: 'us-east-1',
      S3_ENDPOINT: 'http://minio.storage:9000',
      S3_FORCE_PATH_STYLE: 'true',
    });
    const before = deployments(spec, { ...digests, 'acme-s3': 'k1' });
    for (const deployment of [before.api, before.worker]) {
      const env = envOf(deployment);
      expect(env.S3_ACCESS_KEY_ID?.valueFrom?.secretKeyRef).toEqual({ name: 'acme-s3', key: 'accessKeyId' });
      expect(env.S3_SECRET_ACCESS_KEY?.valueFrom?.secretKeyRef).toEqual({
        name: 'acme-s3',
        key: 'secretAccessKey',
      });
      expect(deployment.spec?.template.spec?.volumes?.some((v) => v.name === 'media')).toBe(false);
    }
    const after = deployments(spec, { ...digests, 'acme-s3': 'k2' });
    expect(hash(after.api)).not.toBe(hash(before.api));
    expect(hash(after.worker)).not.toBe(hash(before.worker));
  });

  it("gives the API and workers the tenant's Sentry DSN by reference, and none without one", () => {
    const spec: WhatsAppTenantSpecInput = {
      observability: { sentry: { dsnSecretRef: { name: 'acme-sentry', key: 'dsn' } } },
    };
    for (const deployment of Object.values(deployments(spec))) {
      expect(envOf(deployment).SENTRY_DSN?.valueFrom?.secretKeyRef).toEqual({
        name: 'acme-sentry',
        key: 'dsn',
      });
    }
    for (const deployment of Object.values(deployments({})))
      expect(envOf(deployment).SENTRY_DSN).toBeUndefined();
  });

  it('stores no files by default, and says so to the services', () => {
    expect(mediaSettings(tenantFixture({}))).toEqual({ MEDIA_STORAGE: 'none' });
    expect(envOf(deployments({}).api).S3_ACCESS_KEY_ID).toBeUndefined();
  });
});

describe('API Service, Ingress, HPA and PDB', () => {
  it('routes the host to the API Service with TLS', () => {
    const tenant = tenantFixture({
      api: { ingress: { host: 'acme.example.com', className: 'nginx', tlsSecretName: 'acme-tls' } },
    });
    const ingress = buildApiIngress(tenant);
    expect(ingress?.spec).toEqual({
      ingressClassName: 'nginx',
      tls: [{ hosts: ['acme.example.com'], secretName: 'acme-tls' }],
      rules: [
        {
          host: 'acme.example.com',
          http: {
            paths: [
              {
                path: '/',
                pathType: 'Prefix',
                backend: { service: { name: 'acme-api', port: { name: 'http' } } },
              },
            ],
          },
        },
      ],
    });
    const service = buildApiService(tenant);
    expect(service.spec?.ports?.map((port) => port.name)).toContain('http');
    expect(service.spec?.selector).toEqual(
      buildApiDeployment(tenant, config, { secretDigests: {} }).spec?.selector.matchLabels,
    );
    expect(buildApiIngress(tenantFixture({}))).toBeUndefined();
  });

  it('builds an HPA only when autoscaling is on and the tenant is not suspended', () => {
    const on = { api: { autoscaling: { enabled: true, minReplicas: 3, maxReplicas: 9 } } };
    expect(buildApiAutoscaler(tenantFixture(on))?.spec).toMatchObject({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'acme-api' },
      minReplicas: 3,
      maxReplicas: 9,
      metrics: [{ resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
    });
    expect(buildApiAutoscaler(tenantFixture({}))).toBeUndefined();
    expect(buildApiAutoscaler(tenantFixture({ ...on, suspend: true }))).toBeUndefined();
  });

  it('lets a drain take one API pod at a time', () => {
    expect(buildApiPodDisruptionBudget(tenantFixture({})).spec?.maxUnavailable).toBe(1);
  });
});
