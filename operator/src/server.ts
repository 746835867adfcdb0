// The operator process: reads the environment once, wires SwitchboardOperator and runs until
// SIGTERM. Nothing else in the operator reads process.env.
import { KubeConfig } from '@kubernetes/client-node';
import { loadConfigFromProcess } from '@switchboard/config';
import { startTelemetry } from '@switchboard/telemetry';
import { operatorConfigFromEnv, operatorConfigSchema } from './config.ts';
import { platformDatabaseUrlFromSecret } from './controller/platform-database.ts';
import { SERVICE_NAME } from './index.ts';
import { KubeClient } from './kube/kube-client.ts';
import { SwitchboardOperator } from './operator.ts';

const env = await loadConfigFromProcess(operatorConfigSchema);
// Logs, metrics, traces (when OTEL_EXPORTER_OTLP_ENDPOINT is set) and Sentry (when SENTRY_DSN is).
const telemetry = startTelemetry(env, { defaultLabels: { pod: env.POD_NAME } });
const { logger } = telemetry;
const kubeConfig = new KubeConfig();
// In a pod: the ServiceAccount token and the cluster CA; elsewhere: $KUBECONFIG or ~/.kube/config.
kubeConfig.loadFromDefault();

const secretsClient = new KubeClient({ kubeConfig, fieldManager: SERVICE_NAME });
const platformSecret = env.PLATFORM_POSTGRES_SECRET;
const operator = new SwitchboardOperator({
  kubeConfig,
  config: operatorConfigFromEnv(env),
  watchNamespaces: env.WATCH_NAMESPACES,
  leaderElection: {
    namespace: env.LEADER_ELECTION_NAMESPACE ?? env.POD_NAMESPACE,
    name: env.LEADER_ELECTION_LEASE_NAME,
    identity: env.POD_NAME,
  },
  ...(platformSecret
    ? {
        platformDatabaseUrl: () =>
          platformDatabaseUrlFromSecret(secretsClient, env.POD_NAMESPACE, platformSecret),
      }
    : {}),
  metrics: telemetry.metrics,
  logger,
  concurrency: env.RECONCILE_WORKERS,
  resyncPeriodMs: env.RESYNC_PERIOD_SECONDS * 1000,
  rateLimit: { qps: env.KUBE_API_QPS, burst: env.KUBE_API_BURST },
  metricsPort: env.METRICS_PORT,
  healthPort: env.HEALTH_PORT,
  // A replica that lost its Lease may have missed events while it believed it led: start over.
  onLostLeadership: () => {
    logger.error({}, 'lost the leader Lease; exiting so the Deployment restarts this replica');
    process.exit(1);
  },
});

const ports = await operator.start();
logger.info({ ...ports, watchNamespaces: env.WATCH_NAMESPACES }, 'operator started');

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    logger.info({ signal }, 'stopping: finishing reconciles and releasing the Lease');
    void operator.stop().then(
      async () => {
        secretsClient.close();
        await telemetry.shutdown();
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'stop failed');
        process.exit(1);
      },
    );
  });
}
