import { describe, expect, it } from 'vitest';
import { operatorConfigFixture, tenantFixture } from '../testing/fixtures.ts';
import {
  buildConfigMap,
  declaredSessions,
  SESSIONS_FILE,
  settingsData,
  tenantSettings,
} from './config-map.ts';

const config = operatorConfigFixture();
const cloudSession = {
  name: 'sales',
  channel: 'cloud-api',
  phoneNumberId: '1098',
  secretRef: { name: 'sales-meta' },
} as const;

describe('tenantSettings', () => {
  it('points the services at the tenant Sentinels by stable pod names', () => {
    const { shared } = tenantSettings(tenantFixture({}, { name: 'cm-test' }), config);
    expect(shared).toMatchObject({
      SWITCHBOARD_TENANT: 'cm-test',
      SWITCHBOARD_DISPLAY_NAME: 'cm-test',
      REDIS_MODE: 'sentinel',
      REDIS_SENTINEL_NAME: 'mymaster',
      REDIS_SENTINELS: [0, 1, 2]
        .map((i) => `cm-test-sentinel-${i}.cm-test-sentinel.tenants.svc.cluster.local:26379`)
        .join(','),
      SECRETS_PROVIDER: 'kubernetes',
    });
    expect(shared).not.toHaveProperty('OTEL_EXPORTER_OTLP_ENDPOINT');
  });

  it('uses standalone mode for an external Redis and keeps its URL out of the ConfigMap', () => {
    const tenant = tenantFixture({
      redis: { mode: 'external', external: { secretRef: { name: 'r', key: 'url' } } },
    });
    const data = settingsData(tenantSettings(tenant, config));
    expect(data.REDIS_MODE).toBe('standalone');
    expect(Object.keys(data).filter((key) => key.startsWith('REDIS_'))).toEqual(['REDIS_MODE']);
  });

  it('splits settings by the component that reads them', () => {
    const tenant = tenantFixture({
      workers: { maxSessionsPerWorker: 20 },
      outbound: { perContactPerMinute: 5, typingDelay: false },
      api: { ingress: { host: 'acme.example.com', tlsSecretName: 'tls' } },
      observability: { tracing: { endpoint: 'http://otel:4318' } },
    });
    const settings = tenantSettings(tenant, config);
    expect(settings.api).toEqual({ PORT: '8080', PUBLIC_URL: 'https://acme.example.com' });
    expect(settings.worker).toEqual({
      MAX_SESSIONS_PER_WORKER: '20',
      OUTBOUND_CONTACT_PER_MINUTE: '5',
      OUTBOUND_SESSION_PER_MINUTE: '60',
      OUTBOUND_TYPING_DELAY: 'false',
    });
    expect(settings.shared.OTEL_EXPORTER_OTLP_ENDPOINT).toBe('http://otel:4318');
  });

  it("gives the workers the tenant's Graph API base URL when it sets one", () => {
    const emulated = tenantFixture({ cloudApi: { baseUrl: 'http://cloud-api-emulator.e2e:9000' } });
    expect(tenantSettings(emulated, config).worker.CLOUD_API_BASE_URL).toBe(
      'http://cloud-api-emulator.e2e:9000',
    );
    expect(tenantSettings(emulated, config).api).not.toHaveProperty('CLOUD_API_BASE_URL');
    expect(tenantSettings(tenantFixture({}), config).worker).not.toHaveProperty('CLOUD_API_BASE_URL');
  });

  it('passes the Vault and AWS settings the secret providers need', () => {
    const vault = tenantFixture({
      secrets: { provider: 'vault', vault: { address: 'https://vault:8200', role: 'acme', path: 'kv/acme' } },
    });
    expect(tenantSettings(vault, config).shared).toMatchObject({
      SECRETS_PROVIDER: 'vault',
      VAULT_ADDR: 'https://vault:8200',
      VAULT_ROLE: 'acme',
      VAULT_AUTH_MOUNT_PATH: 'kubernetes',
      VAULT_TOKEN_PATH: '/var/run/secrets/switchboard/vault/token',
    });
    const aws = tenantFixture({ secrets: { provider: 'aws', aws: { region: 'eu-west-1' } } });
    expect(tenantSettings(aws, config).shared).toMatchObject({
      SECRETS_PROVIDER: 'aws',
      AWS_REGION: 'eu-west-1',
    });
  });
});

describe('declaredSessions', () => {
  it('references cloud-api credentials where the provider keeps them', () => {
    const sessions = [{ name: 'support' }, cloudSession];
    expect(declaredSessions(tenantFixture({ sessions }))).toEqual([
      { name: 'support', channel: 'baileys' },
      {
        name: 'sales',
        channel: 'cloud-api',
        phoneNumberId: '1098',
        credentials: {
          accessToken: 'secret://file/var/run/secrets/switchboard/sessions/sales/accessToken',
          appSecret: 'secret://file/var/run/secrets/switchboard/sessions/sales/appSecret',
          verifyToken: 'secret://file/var/run/secrets/switchboard/sessions/sales/verifyToken',
        },
      },
    ]);
    const vault = tenantFixture({
      sessions: [cloudSession],
      secrets: { provider: 'vault', vault: { address: 'https://vault', role: 'r', path: 'kv/data/acme/' } },
    });
    expect(declaredSessions(vault)[0]?.credentials?.accessToken).toBe(
      'secret://vault/kv/data/acme/sales-meta#accessToken',
    );
    const aws = tenantFixture({
      sessions: [cloudSession],
      secrets: { provider: 'aws', aws: { region: 'eu-west-1', namePrefix: 'switchboard/acme/' } },
    });
    expect(declaredSessions(aws)[0]?.credentials?.appSecret).toBe(
      'secret://aws/switchboard/acme/sales-meta#appSecret',
    );
  });
});

describe('buildConfigMap', () => {
  it('holds the settings and the sessions file', () => {
    const tenant = tenantFixture({ sessions: [{ name: 'support' }] }, { name: 'cm-test' });
    const configMap = buildConfigMap(tenant, config);
    expect(configMap.metadata?.name).toBe('cm-test-config');
    expect(configMap.data?.SWITCHBOARD_TENANT).toBe('cm-test');
    expect(JSON.parse(configMap.data?.[SESSIONS_FILE] ?? '')).toEqual([
      { name: 'support', channel: 'baileys' },
    ]);
  });
});
