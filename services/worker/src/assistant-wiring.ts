// The assistant's replier wired from the worker's configuration: its own connection for the
// realtime stream's blocking read, the platform settings (ASSISTANT_ENABLED,
// ASSISTANT_ALLOWED_MODELS), the secret resolver of API keys, and its metrics.
import type { Db } from '@switchboard/db';
import { createRedis, redisConnectionFromSettings } from '@switchboard/redis';
import type { SecretResolver } from '@switchboard/secrets';
import type { Logger, MetricsRegistry } from '@switchboard/telemetry';
import type { Redis } from 'ioredis';
import { registerAssistantMetrics } from './assistant-metrics.ts';
import { AssistantReplier } from './assistant-replies.ts';
import type { WorkerConfig } from './config.ts';

/** What {@link startAssistantReplies} wires. */
export interface AssistantWiringOptions {
  config: WorkerConfig;
  deps: { logger: Logger; metrics: MetricsRegistry; secrets: SecretResolver };
  db: Db;
  redis: Redis;
  tenantId: string;
  keyPrefix: string;
  relay: { kick(ids: readonly string[]): Promise<void> };
}

/** Starts the assistant's replier; the returned one is closed at the worker's stop. */
export function startAssistantReplies(options: AssistantWiringOptions): AssistantReplier {
  const { config, deps } = options;
  const stream = createRedis({
    ...redisConnectionFromSettings(config),
    role: 'worker',
    connectionName: `${config.OTEL_SERVICE_NAME}:${config.POD_NAME}:assistant`,
  }) as Redis;
  stream.on('error', (error: Error) => deps.logger.warn({ err: error }, 'redis assistant connection error'));
  const replier = new AssistantReplier({
    db: options.db,
    redis: options.redis,
    streamConnection: stream,
    tenantId: options.tenantId,
    keyPrefix: options.keyPrefix,
    platform: { enabled: config.ASSISTANT_ENABLED, allowedModels: config.ASSISTANT_ALLOWED_MODELS },
    secrets: deps.secrets,
    metrics: registerAssistantMetrics(deps.metrics),
    relay: options.relay,
    onError: (error, context) => deps.logger.warn({ err: error, ...context }, `${context.what} failed`),
  });
  replier.start();
  return replier;
}
