// The operator and the services agree on configuration: every environment variable the operator
// gives the API and worker containers is one that service reads (or is named below with what
// reads it), and the values it writes are ones the service's schema accepts. Before this test a
// Prometheus port was set for an API that served /metrics elsewhere.
import { describe, expect, it } from 'vitest';
import type { WhatsAppTenantSpecInput } from '../operator/src/api/v1alpha1/index.ts';
import { settingsData, tenantSettings } from '../operator/src/specs/config-map.ts';
import { sessionCredentials } from '../operator/src/specs/secret-provider.ts';
import { serviceEnv } from '../operator/src/specs/service-env.ts';
import { operatorConfigFixture, tenantFixture } from '../operator/src/testing/fixtures.ts';
import { secretsConfigSchema } from '../packages/config/src/index.ts';
import { parseSecretReference, parseVaultPath } from '../packages/secrets/src/index.ts';
import { apiConfigSchema } from '../services/api/src/config.ts';
import { workerConfigSchema } from '../services/worker/src/config.ts';

/**
 * Variables read outside the services' own config schemas, and by what. The secret providers'
 * variables (SECRETS_PROVIDER, VAULT_*, AWS_*) are read by every service through
 * `secretsConfigSchema`, which loadConfigFromProcess reads and createSecretResolver wires into
 * the Vault or AWS provider.
 */
const READ_ELSEWHERE: Record<string, string> = Object.fromEntries(
  Object.keys(secretsConfigSchema.shape).map((name) => [name, '@switchboard/config secretsConfigSchema']),
);
/** Variables the operator sets for both components that one of them has no use for. */
const UNUSED_BY: Record<'api' | 'worker', string[]> = {
  // The pod name is in every container's env (logs); the API logs its hostname instead.
  api: ['POD_NAME'],
  worker: [],
};

const SPECS: Record<string, WhatsAppTenantSpecInput> = {
  defaults: {},
  'everything on': {
    sessions: [
      { name: 'sales', channel: 'cloud-api', phoneNumberId: '106540352242922', secretRef: { name: 'meta' } },
    ],
    api: { ingress: { host: 'acme.example.com', tlsSecretName: 'tls' } },
    media: {
      storage: 's3',
      s3: {
        bucket: 'acme-media',
        endpoint: 'http://minio:9000',
        forcePathStyle: true,
        secretRef: { name: 's3' },
      },
    },
    outbound: { perContactPerMinute: 5, perSessionPerMinute: 30, typingDelay: false },
    observability: { tracing: { endpoint: 'http://otel:4318' } },
    secrets: { provider: 'vault', vault: { address: 'https://vault:8200', role: 'acme', path: 'kv/acme' } },
    email: {
      host: 'smtp.example.com',
      port: 2525,
      tls: 'tls',
      from: 'Acme <no-reply@acme.example>',
      secretRef: { name: 'smtp' },
    },
    sso: {
      issuer: 'https://login.example.com/realms/acme',
      clientId: 'switchboard-inbox',
      secretRef: { name: 'oidc' },
      allowedDomains: ['acme.example', 'acme.dev'],
      autoProvision: true,
      defaultRole: 'viewer',
      ssoOnly: true,
    },
  },
  'aws secrets': {
    sessions: [
      { name: 'sales', channel: 'cloud-api', phoneNumberId: '106540352242922', secretRef: { name: 'meta' } },
    ],
    secrets: { provider: 'aws', aws: { region: 'eu-west-1', namePrefix: 'switchboard/acme/' } },
  },
  'vault secrets with the KV API path': {
    sessions: [
      { name: 'sales', channel: 'cloud-api', phoneNumberId: '106540352242922', secretRef: { name: 'meta' } },
    ],
    secrets: {
      provider: 'vault',
      vault: { address: 'https://vault:8200', role: 'acme', path: 'secret/data/switchboard/acme' },
    },
  },
  'external redis, volume media': {
    redis: { mode: 'external', external: { secretRef: { name: 'redis', key: 'url' } } },
    media: { storage: 'volume', volume: { claimName: 'acme-media' } },
  },
};

const schemas = { api: apiConfigSchema, worker: workerConfigSchema } as const;

describe.each(Object.entries(SPECS))('the operator and the services, with %s', (_name, spec) => {
  const tenant = tenantFixture(spec);
  const settings = tenantSettings(tenant, operatorConfigFixture());
  const data = settingsData(settings);

  it.each(['api', 'worker'] as const)('gives the %s only variables it reads', (component) => {
    const known = new Set(Object.keys(schemas[component].shape));
    const unread = serviceEnv(tenant, settings, component)
      .map((variable) => variable.name)
      .filter(
        (name) => !known.has(name) && !(name in READ_ELSEWHERE) && !UNUSED_BY[component].includes(name),
      );
    expect(unread).toEqual([]);
  });

  it.each(['api', 'worker'] as const)('writes values the %s accepts', async (component) => {
    // What the pod would see: ConfigMap values as written, Secrets and field refs as plausible values.
    const env: Record<string, string> = {};
    for (const variable of serviceEnv(tenant, settings, component)) {
      const key = variable.valueFrom?.configMapKeyRef?.key;
      if (key !== undefined) env[variable.name] = data[key]!;
      else if (variable.valueFrom?.secretKeyRef) env[variable.name] = secretValue(variable.name);
      else if (variable.valueFrom?.fieldRef) env[variable.name] = 'acme-worker-7d9f-abcde';
      else if (variable.value !== undefined) env[variable.name] = variable.value;
    }
    const known = new Set(Object.keys(schemas[component].shape));
    const own = Object.fromEntries(Object.entries(env).filter(([name]) => known.has(name)));
    const parsed = schemas[component].safeParse(own);
    expect(parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual(
      [],
    );
    // The secret providers' settings, as every service reads them before its own schema.
    const secretNames = new Set(Object.keys(secretsConfigSchema.shape));
    const secrets = secretsConfigSchema.safeParse(
      Object.fromEntries(Object.entries(env).filter(([name]) => secretNames.has(name))),
    );
    expect(
      secrets.success ? [] : secrets.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
    ).toEqual([]);
    if (secrets.success) expect(secrets.data.SECRETS_PROVIDER).toBe(tenant.spec.secrets.provider);
  });

  it('writes session credential references the secret providers can resolve', () => {
    for (const session of tenant.spec.sessions) {
      const credentials = sessionCredentials(tenant, session);
      if (credentials === undefined) continue;
      for (const reference of Object.values(credentials)) {
        const parsed = parseSecretReference(reference);
        const provider =
          tenant.spec.secrets.provider === 'kubernetes' ? 'file' : tenant.spec.secrets.provider;
        expect(parsed.provider).toBe(provider);
        if (provider === 'vault') {
          // The KV mount is the first segment of secrets.vault.path; the API form's data/ is dropped.
          const mount = tenant.spec.secrets.vault!.path.split('/')[0];
          expect(parseVaultPath(parsed.path)).toEqual({ mount, path: expect.stringMatching(/(^|\/)meta$/) });
          expect(parseVaultPath(parsed.path).path.startsWith('data/')).toBe(false);
        }
      }
    }
  });
});

function secretValue(name: string): string {
  if (name === 'DATABASE_URL') return 'postgresql://app:pw@acme-db:5432/acme';
  if (name === 'REDIS_URL') return 'redis://:pw@redis.example:6379/0';
  if (name === 'JWT_SIGNING_KEY') return 'k'.repeat(48);
  if (name === 'INTERNAL_TOKEN') return 't'.repeat(48);
  // The operator's format: `k1:<base64 of 32 random bytes>` (newGeneratedSecretValues in
  // operator/src/specs/generated-secret.ts).
  if (name === 'AUTH_STATE_KEYS') return `k1:${Buffer.alloc(32, 7).toString('base64')}`;
  if (name === 'SEALING_KEYS') return `k1:${Buffer.alloc(32, 8).toString('base64')}`;
  return 'secret-value';
}
