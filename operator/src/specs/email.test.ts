// spec.email: the CRD field and how the operator turns it into the API's settings, Secret env
// and egress.
import type { V1Deployment } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  API_VERSION,
  KIND,
  type WhatsAppTenantSpecInput,
  whatsAppTenantSchema,
} from '../api/v1alpha1/index.ts';
import { operatorConfigFixture, tenantFixture } from '../testing/fixtures.ts';
import { buildApiDeployment } from './api.ts';
import { tenantSettings } from './config-map.ts';
import { buildNetworkPolicies } from './network-policies.ts';
import { buildWorkerDeployment } from './worker.ts';

const config = operatorConfigFixture();
const digests = { 'acme-internal': 'g1', 'acme-db': 'd1', 'acme-smtp': 's1' };
const ingress = { host: 'acme.inbox.example.com', tlsSecretName: 'acme-tls' };
const email = {
  host: 'smtp.example.com',
  from: 'Acme Inbox <no-reply@acme.example>',
  secretRef: { name: 'acme-smtp' },
};

function problems(spec: unknown): string[] {
  const result = whatsAppTenantSchema.safeParse({
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: 'acme', namespace: 'tenants' },
    spec,
  });
  return result.success
    ? []
    : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

const envOf = (deployment: V1Deployment) =>
  Object.fromEntries(
    (deployment.spec?.template.spec?.containers[0]?.env ?? []).map((variable) => [variable.name, variable]),
  );

function deployments(spec: WhatsAppTenantSpecInput) {
  const tenant = tenantFixture(spec);
  return {
    api: buildApiDeployment(tenant, config, { secretDigests: digests }),
    worker: buildWorkerDeployment(tenant, config, { secretDigests: digests }),
  };
}

describe('spec.email', () => {
  it('defaults tls to starttls and needs api.ingress (the links point at its host)', () => {
    expect(tenantFixture({ api: { ingress }, email }).spec.email).toEqual({ ...email, tls: 'starttls' });
    expect(problems({ email })).toEqual([
      ": spec.email needs spec.api.ingress: the links in the mails point at the inbox's host",
    ]);
  });

  it('refuses a From header of two lines, an unknown TLS mode and a port out of range', () => {
    expect(
      problems({ api: { ingress }, email: { ...email, from: 'a@b.example\r\nBcc: x@y.example' } }),
    ).toEqual(['spec.email.from: must be one line']);
    expect(problems({ api: { ingress }, email: { ...email, tls: 'ssl' } })).toHaveLength(1);
    expect(problems({ api: { ingress }, email: { ...email, port: 70_000 } })).toHaveLength(1);
  });

  it('gives the API the relay, sender and link base, and the credentials by reference; the workers none', () => {
    const settings = tenantSettings(
      tenantFixture({ api: { ingress }, email: { ...email, port: 2525 } }),
      config,
    );
    expect(settings.api).toMatchObject({
      SMTP_HOST: 'smtp.example.com',
      SMTP_PORT: '2525',
      SMTP_TLS: 'starttls',
      SMTP_FROM: 'Acme Inbox <no-reply@acme.example>',
      PUBLIC_URL: 'https://acme.inbox.example.com',
    });
    expect(Object.keys(settings.shared).some((key) => key.startsWith('SMTP_'))).toBe(false);
    expect(Object.keys(settings.worker).some((key) => key.startsWith('SMTP_'))).toBe(false);

    const built = deployments({ api: { ingress }, email });
    const api = envOf(built.api);
    expect(api.SMTP_USERNAME?.valueFrom?.secretKeyRef).toEqual({ name: 'acme-smtp', key: 'username' });
    expect(api.SMTP_PASSWORD?.valueFrom?.secretKeyRef).toEqual({ name: 'acme-smtp', key: 'password' });
    expect(api.SMTP_HOST?.valueFrom?.configMapKeyRef?.key).toBe('SMTP_HOST');
    expect(envOf(built.worker).SMTP_PASSWORD).toBeUndefined();
    expect(envOf(built.worker).SMTP_HOST).toBeUndefined();
  });

  it('sets nothing without spec.email, and no credentials without secretRef', () => {
    const settings = tenantSettings(tenantFixture({ api: { ingress } }), config);
    expect(Object.keys(settings.api).some((key) => key.startsWith('SMTP_'))).toBe(false);
    expect(envOf(deployments({ api: { ingress } }).api).SMTP_PASSWORD).toBeUndefined();
    const anonymous = envOf(
      deployments({ api: { ingress }, email: { host: email.host, from: email.from } }).api,
    );
    expect(anonymous.SMTP_HOST).toBeDefined();
    expect(anonymous.SMTP_USERNAME).toBeUndefined();
    expect(anonymous.SMTP_PASSWORD).toBeUndefined();
  });

  it("opens the API's egress to the relay's port (by TLS mode when unset), and no one else's", () => {
    const egressPorts = (spec: WhatsAppTenantSpecInput, component: string) =>
      buildNetworkPolicies(tenantFixture(spec), config)
        .filter((policy) => policy.metadata?.name?.endsWith(`-${component}`))
        .flatMap((policy) => policy.spec?.egress ?? [])
        .flatMap((rule) => (rule.ports ?? []).map((port) => port.port));
    expect(egressPorts({ api: { ingress }, email }, 'api')).toContain(587);
    expect(egressPorts({ api: { ingress }, email: { ...email, tls: 'tls' } }, 'api')).toContain(465);
    expect(egressPorts({ api: { ingress }, email: { ...email, port: 2525 } }, 'api')).toContain(2525);
    expect(egressPorts({ api: { ingress } }, 'api')).not.toContain(587);
    expect(egressPorts({ api: { ingress }, email }, 'worker')).not.toContain(587);
  });
});
