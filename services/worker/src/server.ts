// The worker process: reads the environment once, starts telemetry and the worker, and on
// SIGTERM (a rollout, a scale-in) hands its sessions over before exiting, well inside the pod's
// termination grace period. Nothing else in the worker reads process.env.
import { loadConfigFromProcess } from '@switchboard/config';
import { createSecretResolver } from '@switchboard/secrets';
import { startTelemetry } from '@switchboard/telemetry';
import { workerConfigSchema } from './config.ts';
import { startWorker } from './worker.ts';

const config = await loadConfigFromProcess(workerConfigSchema);
const telemetry = startTelemetry(config, {
  defaultLabels: { pod: config.POD_NAME, tenant: config.SWITCHBOARD_TENANT },
});
const { logger } = telemetry;

let worker: Awaited<ReturnType<typeof startWorker>>;
try {
  worker = await startWorker(config, {
    logger,
    metrics: telemetry.metrics,
    secrets: createSecretResolver({ env: process.env }),
  });
} catch (error) {
  logger.fatal({ err: error }, 'worker failed to start');
  await telemetry.shutdown();
  process.exit(1);
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    logger.info({ signal, sessions: worker.runtime.sessions().length }, 'stopping: handing sessions over');
    void worker.stop().then(
      async () => {
        logger.info({}, 'stopped');
        await telemetry.shutdown();
        process.exit(0);
      },
      async (error: unknown) => {
        logger.error({ err: error }, 'stop failed');
        await telemetry.shutdown();
        process.exit(1);
      },
    );
  });
}
