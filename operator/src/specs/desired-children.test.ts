import type { KubernetesObject, V1PodTemplateSpec } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { WhatsAppTenantSpecInput } from '../api/v1alpha1/index.ts';
import { operatorConfigFixture, tenantFixture } from '../testing/fixtures.ts';
import { desiredChildren } from './desired-children.ts';
import { buildGeneratedSecret } from './generated-secret.ts';
import { buildMigrationJob } from './migration-job.ts';
import { TENANT_LABEL } from './names.ts';
import { tenantOwnerReference } from './owner-reference.ts';
import { RUN_AS_USER } from './pod-template.ts';

const config = operatorConfigFixture();
const inputs = { secretDigests: {}, serviceMonitorsAvailable: true };

const variants: [string, WhatsAppTenantSpecInput][] = [
  ['defaults', {}],
  [
    'everything on',
    {
      sessions: [
        { name: 'support' },
        { name: 'sales', channel: 'cloud-api', phoneNumberId: '1', secretRef: { name: 's' } },
      ],
      api: { ingress: { host: 'acme.example.com', tlsSecretName: 'tls' }, autoscaling: { enabled: true } },
      observability: { tracing: { endpoint: 'http://otel:4318' } },
      secrets: {
        provider: 'aws',
        aws: { region: 'eu-west-1', roleArn: 'arn:aws:iam::123456789012:role/acme' },
      },
    },
  ],
  [
    'external services',
    {
      redis: { mode: 'external', external: { secretRef: { name: 'r', key: 'url' } } },
      database: { mode: 'external', external: { secretRef: { name: 'db' } } },
      secrets: { provider: 'vault', vault: { address: 'https://vault:8200', role: 'r', path: 'kv/acme' } },
    },
  ],
];

function podTemplate(object: KubernetesObject): V1PodTemplateSpec | undefined {
  return (object as { spec?: { template?: V1PodTemplateSpec } }).spec?.template;
}

describe.each(variants)('the children of a tenant with %s', (_, spec) => {
  const tenant = tenantFixture(spec, { name: 'kids' });
  const children = [
    ...desiredChildren(tenant, config, inputs),
    buildMigrationJob(tenant, config),
    buildGeneratedSecret(tenant, {
      jwtSigningKey: 'j',
      internalToken: 'i',
      redisPassword: 'r',
      redisApiPassword: 'ra',
      redisWorkerPassword: 'rw',
      redisReplicationPassword: 'rr',
      redisSentinelPassword: 'rs',
      authStateKeys: 'k1:a',
      sealingKeys: 'k1:s',
    }),
  ];

  it('are owned by the tenant, in its namespace, labelled with it', () => {
    for (const child of children) {
      const where = `${child.kind}/${child.metadata?.name}`;
      expect(child.apiVersion, where).toBeTruthy();
      expect(child.metadata?.namespace, where).toBe('tenants');
      expect(child.metadata?.labels?.[TENANT_LABEL], where).toBe('kids');
      expect(child.metadata?.ownerReferences, where).toEqual([tenantOwnerReference(tenant)]);
    }
  });

  it('have unique names per kind', () => {
    const keys = children.map((child) => `${child.kind}/${child.metadata?.name}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('run every container restricted, with resources and a writable /tmp', () => {
    const templates = children.map(podTemplate).filter((template) => template !== undefined);
    expect(templates.length).toBeGreaterThanOrEqual(3);
    for (const template of templates) {
      const pod = template.spec!;
      expect(pod.securityContext).toMatchObject({
        runAsNonRoot: true,
        runAsUser: RUN_AS_USER,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(template.metadata?.labels?.[TENANT_LABEL]).toBe('kids');
      for (const container of [...(pod.initContainers ?? []), ...pod.containers]) {
        expect(container.securityContext, container.name).toEqual({
          runAsNonRoot: true,
          runAsUser: RUN_AS_USER,
          runAsGroup: RUN_AS_USER,
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
          seccompProfile: { type: 'RuntimeDefault' },
        });
        expect(container.resources?.limits?.memory, container.name).toBeDefined();
        expect(
          container.volumeMounts?.some((mount) => mount.mountPath === '/tmp'),
          container.name,
        ).toBe(true);
      }
      expect(pod.volumes?.some((volume) => volume.name === 'tmp' && volume.emptyDir)).toBe(true);
    }
  });

  it('select their own pods', () => {
    for (const child of children) {
      const template = podTemplate(child);
      const selector = (child as { spec?: { selector?: { matchLabels?: Record<string, string> } } }).spec
        ?.selector;
      if (template && selector?.matchLabels)
        expect(template.metadata?.labels).toMatchObject(selector.matchLabels);
    }
  });
});

describe('desiredChildren', () => {
  it('builds Redis only in sentinel mode, and the ServiceMonitor only where the cluster has the CRD', () => {
    const kinds = (spec: WhatsAppTenantSpecInput, available = true) =>
      desiredChildren(tenantFixture(spec), config, {
        secretDigests: {},
        serviceMonitorsAvailable: available,
      }).map((child) => `${child.kind}/${child.metadata?.name}`);
    expect(kinds({})).toEqual(
      expect.arrayContaining(['StatefulSet/acme-redis', 'StatefulSet/acme-sentinel', 'ServiceMonitor/acme']),
    );
    expect(kinds({}, false)).not.toContain('ServiceMonitor/acme');
    const external = kinds({
      redis: { mode: 'external', external: { secretRef: { name: 'r', key: 'url' } } },
    });
    expect(external.filter((key) => key.includes('redis') || key.includes('sentinel'))).toEqual([
      'ServiceAccount/acme-redis',
    ]);
  });
});
