import { describe, expect, it } from 'vitest';
import { createSecretResolver } from './default-resolver.ts';
import { SecretError } from './provider.ts';
import { readSecretProviderSettings } from './settings.ts';

function problem(env: Record<string, string>): string {
  try {
    readSecretProviderSettings(env);
  } catch (error) {
    expect(error).toBeInstanceOf(SecretError);
    expect((error as SecretError).code).toBe('SECRET_PROVIDER_MISCONFIGURED');
    return (error as SecretError).message;
  }
  throw new Error('expected the settings to be refused');
}

describe('the secret providers’ settings', () => {
  it('default to the kubernetes provider, a 5 minute TTL and 30 minutes of staleness', () => {
    expect(readSecretProviderSettings({})).toEqual({
      SECRETS_PROVIDER: 'kubernetes',
      VAULT_AUTH_MOUNT_PATH: 'kubernetes',
      VAULT_TOKEN_PATH: '/var/run/secrets/kubernetes.io/serviceaccount/token',
      SECRETS_CACHE_TTL: 300_000,
      SECRETS_MAX_STALE: 1_800_000,
    });
  });

  it('read what the operator writes for a vault tenant, empty values as unset', () => {
    expect(
      readSecretProviderSettings({
        SECRETS_PROVIDER: 'vault',
        VAULT_ADDR: 'https://vault:8200',
        VAULT_ROLE: 'acme',
        VAULT_AUTH_MOUNT_PATH: 'k8s/prod',
        VAULT_TOKEN_PATH: '/var/run/secrets/switchboard/vault/token',
        VAULT_TOKEN: '',
        SECRETS_CACHE_TTL: '90s',
      }),
    ).toMatchObject({
      SECRETS_PROVIDER: 'vault',
      VAULT_ADDR: 'https://vault:8200',
      VAULT_ROLE: 'acme',
      VAULT_AUTH_MOUNT_PATH: 'k8s/prod',
      VAULT_TOKEN_PATH: '/var/run/secrets/switchboard/vault/token',
      SECRETS_CACHE_TTL: 90_000,
    });
  });

  it.each([
    [{ SECRETS_PROVIDER: 'hashicorp' }, 'SECRETS_PROVIDER: expected one of kubernetes, vault, aws'],
    [
      { SECRETS_PROVIDER: 'vault', VAULT_ROLE: 'acme' },
      'VAULT_ADDR: is required when SECRETS_PROVIDER=vault',
    ],
    [
      { SECRETS_PROVIDER: 'vault', VAULT_ADDR: 'https://vault:8200' },
      'VAULT_ROLE: is required when SECRETS_PROVIDER=vault, unless VAULT_TOKEN is set',
    ],
    [
      {
        SECRETS_PROVIDER: 'vault',
        VAULT_ADDR: 'https://vault:8200',
        VAULT_ROLE: 'acme',
        VAULT_TOKEN: 'hvs.s3cr3t-token',
      },
      'VAULT_TOKEN: cannot be set together with VAULT_ROLE',
    ],
    [
      { SECRETS_PROVIDER: 'vault', VAULT_ADDR: 'https://vault:8200', VAULT_TOKEN: 'secret://file/run/token' },
      'VAULT_TOKEN: must be the token itself',
    ],
    [
      { SECRETS_PROVIDER: 'vault', VAULT_ADDR: 'vault:8200', VAULT_TOKEN: 't' },
      'VAULT_ADDR: expected a URL starting with http:// or https://',
    ],
    [{ SECRETS_PROVIDER: 'aws' }, 'AWS_REGION: is required when SECRETS_PROVIDER=aws'],
    [
      { SECRETS_PROVIDER: 'aws', AWS_REGION: 'Europe' },
      'AWS_REGION: expected an AWS region such as eu-west-1',
    ],
    [
      { SECRETS_PROVIDER: 'aws', AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE' },
      'AWS_SECRET_ACCESS_KEY: is required with the other half of the AWS key pair',
    ],
    [{ SECRETS_CACHE_TTL: 'soon' }, 'SECRETS_CACHE_TTL: expected a duration such as 500ms, 30s, 5m or 1h'],
  ])('refuse %j, naming the variable', (env, expected) => {
    expect(problem(env)).toContain(expected);
  });

  it('never quote a value in the message', () => {
    const message = problem({
      SECRETS_PROVIDER: 'vault',
      VAULT_ADDR: 'not a url with s3cr3t',
      VAULT_ROLE: 'acme',
      VAULT_TOKEN: 'hvs.s3cr3t-token',
    });
    expect(message).not.toContain('s3cr3t');
  });
});

describe('createSecretResolver', () => {
  it('registers env and file, and the provider SECRETS_PROVIDER names', () => {
    const names = (env: Record<string, string>) => createSecretResolver({ env }).providerNames();
    expect(names({})).toEqual(['env', 'file']);
    expect(names({ SECRETS_PROVIDER: 'kubernetes' })).toEqual(['env', 'file']);
    expect(
      names({ SECRETS_PROVIDER: 'vault', VAULT_ADDR: 'http://127.0.0.1:8200', VAULT_TOKEN: 't' }),
    ).toEqual(['env', 'file', 'vault']);
    expect(names({ SECRETS_PROVIDER: 'aws', AWS_REGION: 'eu-west-1' })).toEqual(['aws', 'env', 'file']);
  });

  it('refuses bad settings before anything is contacted', () => {
    expect(() => createSecretResolver({ env: { SECRETS_PROVIDER: 'vault' } })).toThrow(
      /SECRETS_PROVIDER=vault|VAULT_ADDR/,
    );
    expect(() =>
      createSecretResolver({
        env: {
          SECRETS_PROVIDER: 'vault',
          VAULT_ADDR: 'https://vault:8200',
          VAULT_TOKEN: 't',
          VAULT_CACERT: '/no/such/ca.pem',
        },
      }),
    ).toThrow('VAULT_CACERT: /no/such/ca.pem could not be read (ENOENT)');
  });

  it('answers SECRET_PROVIDER_UNKNOWN for a vault reference when the tenant uses another provider', async () => {
    const resolver = createSecretResolver({ env: {} });
    await expect(resolver.resolve('secret://vault/secret/acme/meta#accessToken')).rejects.toMatchObject({
      code: 'SECRET_PROVIDER_UNKNOWN',
    });
  });
});
