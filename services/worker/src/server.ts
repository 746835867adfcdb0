// The worker process: reads the environment once, starts telemetry and the worker, and on
// SIGTERM (a rollout, a scale-in) hands its sessions over before exiting, well inside the pod's
// termination grace period. Nothing else in the worker reads process.env.
import { captureError, instrumentModules } from '@switchboard/telemetry';
import type { startWorker as StartWorker } from './worker.ts';

// The libraries' OpenTelemetry instrumentations patch modules as they are imported, so they are
// enabled before anything imports ioredis, pg, Prisma or BullMQ: the rest is imported dynamically.
await instrumentModules();
const { loadConfigFromProcess } = await import('@switchboard/config');
const { createSecretResolver } = await import('@switchboard/secrets');
const { startTelemetry } = await import('@switchboard/telemetry');
const { workerConfigSchema } = await import('./config.ts');
const { startWorker } = await import('./worker.ts');

const config = await loadConfigFromProcess(workerConfigSchema);
const telemetry = startTelemetry(config, {
  defaultLabels: { pod: config.POD_NAME, tenant: config.SWITCHBOARD_TENANT },
});
const { logger } = telemetry;
// A promise nobody awaited that failed: logged, and the process keeps running (Node's default
// would exit). Sentry's own handlers (on with a DSN) report it, and uncaught exceptions (crashes).
process.on('unhandledRejection', (reason) => {
  logger.error({ err: reason }, 'unhandled promise rejection');
});

let worker: Awaited<ReturnType<typeof StartWorker>>;
try {
  worker = await startWorker(config, {
    logger,
    metrics: telemetry.metrics,
    secrets: createSecretResolver({ env: process.env }),
  });
} catch (error) {
  logger.fatal({ err: error }, 'worker failed to start');
  captureError(error, { what: 'worker failed to start' });
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
