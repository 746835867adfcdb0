// spec.sso: the CRD field and how the operator turns it into the API's settings, Secret env
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
const digests = { 'acme-internal': 'g1', 'acme-db': 'd1', 'acme-oidc': 'o1' };
const ingress = { host: 'acme.inbox.example.com', tlsSecretName: 'acme-tls' };
const sso = {
  issuer: 'https://login.example.com/realms/acme',
  clientId: 'switchboard-inbox',
  secretRef: { name: 'acme-oidc' },
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

describe('spec.sso', () => {
  it('defaults to existing members only, role agent, passwords allowed; needs api.ingress (the redirect URI)', () => {
    expect(tenantFixture({ api: { ingress }, sso }).spec.sso).toEqual({
      ...sso,
      autoProvision: false,
      defaultRole: 'agent',
      ssoOnly: false,
    });
    expect(problems({ sso })).toEqual([
      ": spec.sso needs spec.api.ingress: the provider redirects back to the inbox's host",
    ]);
  });

  it('refuses a plain-http issuer, an owner as the default role, a bad domain and a missing secretRef', () => {
    expect(problems({ api: { ingress }, sso: { ...sso, issuer: 'http://login.example.com' } })).toEqual([
      'spec.sso.issuer: must be an https URL without query or fragment',
    ]);
    expect(problems({ api: { ingress }, sso: { ...sso, defaultRole: 'owner' } })).toHaveLength(1);
    expect(problems({ api: { ingress }, sso: { ...sso, allowedDomains: ['Acme.Example'] } })).toEqual([
      'spec.sso.allowedDomains.0: must be a lower-case domain name',
    ]);
    expect(problems({ api: { ingress }, sso: { issuer: sso.issuer, clientId: sso.clientId } })).toHaveLength(
      1,
    );
  });

  it('gives the API the provider and the policy, the secret by reference; the workers none', () => {
    const settings = tenantSettings(
      tenantFixture({
        api: { ingress },
        sso: { ...sso, allowedDomains: ['acme.example', 'acme.dev'], autoProvision: true, ssoOnly: true },
      }),
      config,
    );
    expect(settings.api).toMatchObject({
      SSO_ISSUER: 'https://login.example.com/realms/acme',
      SSO_CLIENT_ID: 'switchboard-inbox',
      SSO_ALLOWED_DOMAINS: 'acme.example,acme.dev',
      SSO_AUTO_PROVISION: 'true',
      SSO_DEFAULT_ROLE: 'agent',
      SSO_ONLY: 'true',
      PUBLIC_URL: 'https://acme.inbox.example.com',
    });
    expect(Object.keys(settings.shared).some((key) => key.startsWith('SSO_'))).toBe(false);
    expect(Object.keys(settings.worker).some((key) => key.startsWith('SSO_'))).toBe(false);

    const built = deployments({ api: { ingress }, sso });
    const api = envOf(built.api);
    expect(api.SSO_CLIENT_SECRET?.valueFrom?.secretKeyRef).toEqual({
      name: 'acme-oidc',
      key: 'clientSecret',
    });
    expect(api.SSO_ISSUER?.valueFrom?.configMapKeyRef?.key).toBe('SSO_ISSUER');
    expect(envOf(built.worker).SSO_CLIENT_SECRET).toBeUndefined();
    expect(envOf(built.worker).SSO_ISSUER).toBeUndefined();
  });

  it('sets nothing without spec.sso, and no allowed domains when none are given', () => {
    const settings = tenantSettings(tenantFixture({ api: { ingress } }), config);
    expect(Object.keys(settings.api).some((key) => key.startsWith('SSO_'))).toBe(false);
    expect(envOf(deployments({ api: { ingress } }).api).SSO_CLIENT_SECRET).toBeUndefined();
    expect(
      tenantSettings(tenantFixture({ api: { ingress }, sso }), config).api.SSO_ALLOWED_DOMAINS,
    ).toBeUndefined();
  });

  it("rolls the API when the client secret's Secret changes (its digest is in the pod template)", () => {
    const tenant = tenantFixture({ api: { ingress }, sso });
    const hash = (digest: string) =>
      buildApiDeployment(tenant, config, { secretDigests: { ...digests, 'acme-oidc': digest } }).spec
        ?.template.metadata?.annotations;
    expect(hash('o1')).not.toEqual(hash('o2'));
  });

  it("opens the API's egress to the issuer's port, and no one else's", () => {
    const egressPorts = (spec: WhatsAppTenantSpecInput, component: string) =>
      buildNetworkPolicies(tenantFixture(spec), config)
        .filter((policy) => policy.metadata?.name?.endsWith(`-${component}`))
        .flatMap((policy) => policy.spec?.egress ?? [])
        .flatMap((rule) => (rule.ports ?? []).map((port) => port.port));
    expect(egressPorts({ api: { ingress }, sso }, 'api')).toContain(443);
    expect(
      egressPorts(
        { api: { ingress }, sso: { ...sso, issuer: 'https://idp.example.com:8443/realms/acme' } },
        'api',
      ),
    ).toContain(8443);
    expect(egressPorts({ api: { ingress } }, 'api')).not.toContain(8443);
    expect(
      egressPorts({ api: { ingress }, sso: { ...sso, issuer: 'https://idp.example.com:8443' } }, 'worker'),
    ).not.toContain(8443);
  });
});
