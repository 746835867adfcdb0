// The AI assistant's platform limits reach the workers: the kill switch (the tenant's
// spec.assistant.enabled or the chart's tenantStack.assistantEnabled) and the model allow-list.
import { loadConfig } from '@switchboard/config';
import { describe, expect, it } from 'vitest';
import { operatorConfigFromEnv, operatorConfigSchema } from '../config.ts';
import { operatorConfigFixture, tenantFixture } from '../testing/fixtures.ts';
import { tenantSettings } from './config-map.ts';

describe('assistant settings of the workers', () => {
  const config = operatorConfigFixture();

  it('leaves the workers on, any model, by default', () => {
    const worker = tenantSettings(tenantFixture({}), config).worker;
    expect(worker).not.toHaveProperty('ASSISTANT_ENABLED');
    expect(worker).not.toHaveProperty('ASSISTANT_ALLOWED_MODELS');
  });

  it("turns the assistant off from the tenant's spec or the chart, and passes the allow-list", () => {
    const tenant = tenantFixture({
      assistant: { enabled: false, allowedModels: ['gpt-4o-mini', 'llama3:8b'] },
    });
    expect(tenantSettings(tenant, config).worker).toMatchObject({
      ASSISTANT_ENABLED: 'false',
      ASSISTANT_ALLOWED_MODELS: 'gpt-4o-mini,llama3:8b',
    });
    const platformOff = { ...config, assistantEnabled: false };
    expect(tenantSettings(tenantFixture({}), platformOff).worker.ASSISTANT_ENABLED).toBe('false');
  });

  it("reads the chart's switch from the operator's environment", async () => {
    const env = await loadConfig(operatorConfigSchema, {
      env: {
        POD_NAME: 'switchboard-operator-0',
        POD_NAMESPACE: 'switchboard-system',
        OPERATOR_API_IMAGE: 'ghcr.io/switchboard/api:1',
        OPERATOR_WORKER_IMAGE: 'ghcr.io/switchboard/worker:1',
        OPERATOR_REDIS_IMAGE: 'redis:7.4-alpine',
        OPERATOR_NETWORK: JSON.stringify({
          ingressController: [],
          prometheus: [],
          dns: [],
          postgres: { peers: [], port: 5432 },
          workerInternetPorts: [443],
        }),
        OPERATOR_TENANT_ASSISTANT_ENABLED: 'false',
      },
    });
    expect(operatorConfigFromEnv(env).assistantEnabled).toBe(false);
  });
});
