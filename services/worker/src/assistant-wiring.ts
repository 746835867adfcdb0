// The assistant's replier wired from the worker's configuration: the platform settings
// (ASSISTANT_ENABLED, ASSISTANT_ALLOWED_MODELS), the secret resolver of API keys, and its metrics.
// It is fed customers' messages by the worker's one realtime reader (customer-messages.ts).
import type { Db } from '@switchboard/db';
import type { SecretResolver } from '@switchboard/secrets';
import type { Logger, MetricsRegistry } from '@switchboard/telemetry';
import type { Redis } from 'ioredis';
import { registerAssistantMetrics } from './assistant-metrics.ts';
import { type AssistantPlatformSettings, AssistantReplier } from './assistant-replies.ts';
import type { WorkerConfig } from './config.ts';

/** What {@link assistantReplier} wires. */
export interface AssistantWiringOptions {
  config: WorkerConfig;
  deps: { logger: Logger; metrics: MetricsRegistry; secrets: SecretResolver };
  db: Db;
  redis: Redis;
  tenantId: string;
  keyPrefix: string;
  relay: { kick(ids: readonly string[]): Promise<void> };
}

/** The platform team's settings of the assistant, from the worker's configuration. */
export function assistantPlatform(config: WorkerConfig): AssistantPlatformSettings {
  return { enabled: config.ASSISTANT_ENABLED, allowedModels: config.ASSISTANT_ALLOWED_MODELS };
}

/** The assistant's replier; closed at the worker's stop. */
export function assistantReplier(options: AssistantWiringOptions): AssistantReplier {
  const { config, deps } = options;
  return new AssistantReplier({
    db: options.db,
    redis: options.redis,
    tenantId: options.tenantId,
    keyPrefix: options.keyPrefix,
    platform: assistantPlatform(config),
    secrets: deps.secrets,
    metrics: registerAssistantMetrics(deps.metrics),
    relay: options.relay,
    onError: (error, context) => deps.logger.warn({ err: error, ...context }, `${context.what} failed`),
  });
}
