// The API's SSO settings as server.ts reads them: the config schema's SSO_* fields and the
// settings built from them (none without SSO_ISSUER, a named error when a required one is missing).
import { ConfigError, loadConfig } from '@switchboard/config';
import { createSecretResolver } from '@switchboard/secrets';
import { describe, expect, it } from 'vitest';
import { apiConfigSchema } from '../config.ts';
import { ssoSettingsFromConfig } from './index.ts';

const BASE = {
  DATABASE_URL: 'postgres://app:pw@db/acme',
  REDIS_URL: 'redis://redis:6379/0',
  SWITCHBOARD_TENANT: 'acme',
  JWT_SIGNING_KEY: 'k'.repeat(48),
};

const SSO = {
  SSO_ISSUER: 'https://login.acme.example/realms/acme',
  SSO_CLIENT_ID: 'switchboard-inbox',
  SSO_CLIENT_SECRET: 'secret://env/OIDC_SECRET',
  OIDC_SECRET: 'the-client-secret',
  PUBLIC_URL: 'https://acme.inbox.example.com',
};

async function load(env: Record<string, string>) {
  const resolver = createSecretResolver({ env: { ...env } });
  try {
    return await loadConfig(apiConfigSchema, { env: { ...BASE, ...env }, resolver });
  } finally {
    await resolver.close();
  }
}

async function problems(env: Record<string, string>): Promise<string[]> {
  const error = await load(env).then(
    () => undefined,
    (failure: unknown) => failure,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return (error as ConfigError).problems.map((p) => `${p.variable}: ${p.problem}`);
}

describe('the SSO settings', () => {
  it('default to no single sign-on', async () => {
    const config = await load({});
    expect(config.SSO_AUTO_PROVISION).toBe(false);
    expect(config.SSO_ONLY).toBe(false);
    expect(config.SSO_DEFAULT_ROLE).toBe('agent');
    expect(ssoSettingsFromConfig(config)).toBeUndefined();
  });

  it('build the settings, the secret resolved from its reference and the redirect URI under PUBLIC_URL', async () => {
    const config = await load({
      ...SSO,
      SSO_ALLOWED_DOMAINS: 'Acme.Example, acme.dev',
      SSO_AUTO_PROVISION: 'true',
      SSO_DEFAULT_ROLE: 'viewer',
      SSO_ONLY: '1',
    });
    expect(ssoSettingsFromConfig(config)).toEqual({
      issuer: 'https://login.acme.example/realms/acme',
      clientId: 'switchboard-inbox',
      clientSecret: 'the-client-secret',
      redirectUri: 'https://acme.inbox.example.com/sso/callback',
      allowedDomains: ['acme.example', 'acme.dev'],
      autoProvision: true,
      defaultRole: 'viewer',
      ssoOnly: true,
    });
  });

  it('name what is missing or wrong, never a value', async () => {
    expect((await problems({ SSO_ISSUER: SSO.SSO_ISSUER })).sort()).toEqual([
      'PUBLIC_URL: is required with SSO_ISSUER (the redirect URI is under it)',
      'SSO_CLIENT_ID: is required with SSO_ISSUER',
      'SSO_CLIENT_SECRET: is required with SSO_ISSUER',
    ]);
    const plain = await problems({ ...SSO, SSO_ISSUER: 'http://login.acme.example' });
    expect(plain).toEqual(['SSO_ISSUER: must be https (http only for a provider on loopback, in tests)']);
    expect(await problems({ ...SSO, SSO_DEFAULT_ROLE: 'owner' })).toHaveLength(1);
    expect(await problems({ SSO_ONLY: 'true' })).toEqual([
      'SSO_ONLY: needs SSO_ISSUER (members could not sign in)',
    ]);
    // A provider on loopback may be plain http (the tests' own).
    await expect(load({ ...SSO, SSO_ISSUER: 'http://127.0.0.1:4000' })).resolves.toBeDefined();
  });
});
