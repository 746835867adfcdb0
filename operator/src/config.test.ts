import { readFile } from 'node:fs/promises';
import { ConfigError, loadConfig, renderConfigMarkdown } from '@switchboard/config';
import { describe, expect, it } from 'vitest';
import { operatorConfigFromEnv, operatorConfigSchema } from './config.ts';

// What the chart's Deployment sets (charts/switchboard/templates/deployment.yaml).
const chartEnv = {
  WATCH_NAMESPACES: 'tenants, tenants-eu',
  POD_NAME: 'switchboard-operator-7d9f-abcde',
  POD_NAMESPACE: 'switchboard-system',
  LEADER_ELECTION_NAMESPACE: 'switchboard-system',
  OPERATOR_API_IMAGE: 'ghcr.io/switchboard/api:0.1.0',
  OPERATOR_WORKER_IMAGE: 'ghcr.io/switchboard/worker:0.1.0',
  OPERATOR_REDIS_IMAGE: 'redis:7.4-alpine',
  OPERATOR_CLUSTER_DOMAIN: 'cluster.local',
  OPERATOR_TENANT_LOG_LEVEL: 'info',
  OPERATOR_NETWORK: JSON.stringify({
    ingressController: [
      { namespace: 'ingress-nginx', podLabels: { 'app.kubernetes.io/name': 'ingress-nginx' } },
    ],
    prometheus: [{ namespace: 'monitoring' }],
    dns: [{ namespace: 'kube-system', podLabels: { 'k8s-app': 'kube-dns' } }],
    postgres: { peers: [{ cidr: '0.0.0.0/0' }], port: 5432 },
    workerInternetPorts: [443, 5222],
  }),
  PLATFORM_POSTGRES_SECRET: 'platform-postgres',
  LOG_LEVEL: 'info',
  METRICS_PORT: '8080',
  HEALTH_PORT: '8081',
};

async function problems(env: Record<string, string>): Promise<string[]> {
  const error = await loadConfig(operatorConfigSchema, { env }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return (error as ConfigError).problems.map((p) => `${p.variable}: ${p.problem}`);
}

describe('operator configuration', () => {
  it("reads the chart's environment into the builders' settings", async () => {
    const env = await loadConfig(operatorConfigSchema, { env: chartEnv });
    expect(env.WATCH_NAMESPACES).toEqual(['tenants', 'tenants-eu']);
    expect(env.RECONCILE_WORKERS).toBe(8);
    expect(env.KUBE_API_QPS).toBe(400);
    expect(env.KUBE_API_BURST).toBe(800);
    const config = operatorConfigFromEnv(env);
    expect(config.images).toEqual({
      api: 'ghcr.io/switchboard/api:0.1.0',
      worker: 'ghcr.io/switchboard/worker:0.1.0',
      redis: 'redis:7.4-alpine',
    });
    expect(config.network.postgres.port).toBe(5432);
    // The operator's own namespace may read the tenant APIs' /internal/status, unless narrowed.
    expect(config.network.operator).toEqual([{ namespace: env.POD_NAMESPACE }]);
    expect(config.imagePullSecrets).toBeUndefined();
  });

  it('names each bad or missing variable, and where inside the JSON the problem is', async () => {
    const { POD_NAME: _, ...withoutPodName } = chartEnv;
    const found = await problems({
      ...withoutPodName,
      WATCH_NAMESPACES: 'tenants,Not_A_Namespace',
      OPERATOR_NETWORK: JSON.stringify({
        ...JSON.parse(chartEnv.OPERATOR_NETWORK),
        postgres: { peers: [], port: 99999 },
      }),
      HEALTH_PORT: 'eighty',
    });
    expect(found.join('\n')).toMatch(/POD_NAME/);
    expect(found.join('\n')).toMatch(/WATCH_NAMESPACES/);
    expect(found.join('\n')).toMatch(/OPERATOR_NETWORK: .*postgres\.port/);
    expect(found.join('\n')).toMatch(/HEALTH_PORT/);
  });

  it('refuses OPERATOR_NETWORK that is not JSON', async () => {
    expect((await problems({ ...chartEnv, OPERATOR_NETWORK: '{nope' })).join('\n')).toMatch(
      /OPERATOR_NETWORK: must be JSON/,
    );
  });
});

describe('the README', () => {
  it('documents exactly the variables the schema reads', async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(renderConfigMarkdown(operatorConfigSchema).trim());
  });
});
