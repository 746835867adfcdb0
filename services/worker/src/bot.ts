// Session bots (packages/messaging/src/bot): every customer message (customer-messages.ts) is
// offered to its session's bot (dispatchToBot decides: off, taken by an agent, a
// hand-off or restart keyword, or a delivery), and the deliveries are performed by a
// BotDeliveryWorker, signed and retried like tenant webhooks.
import type { Db } from '@switchboard/db';
import {
  BOT_SECRET_PURPOSE,
  BotDeliveryWorker,
  type BotSecretSource,
  dispatchToBot,
  type WebhookSealingKeyring,
} from '@switchboard/messaging';
import type { SecretResolver } from '@switchboard/secrets';
import type { Redis } from 'ioredis';

/** Options of {@link SessionBots}. */
export interface SessionBotsOptions {
  db: Db;
  /** A worker-role connection: the bot-deliveries queue and Worker, the replies' outbound queues. */
  connection: Redis;
  tenantId: string;
  keyPrefix: string;
  secrets: SecretResolver;
  /** SEALING_KEYS: opens sealed bot secrets; without it only `secret://` references work. */
  sealingKeys?: WebhookSealingKeyring;
  allowedHosts?: readonly string[];
  relay?: { kick(ids: readonly string[]): Promise<void> };
  onError?: (error: unknown, context: { what: string; messageId?: string }) => void;
}

/** A bot's signing secret: its provider reference resolved, or its sealed value opened. */
export function botSecretResolver(
  secrets: SecretResolver,
  keyring: WebhookSealingKeyring | undefined,
): (settings: BotSecretSource) => Promise<string> {
  return async (settings) => {
    if (settings.secretRef) return await secrets.resolve(settings.secretRef);
    if (settings.secretCiphertext && keyring)
      return keyring.open(settings.secretCiphertext, BOT_SECRET_PURPOSE);
    throw new Error(
      `the bot of session ${settings.sessionId} has no secret this worker can read (SEALING_KEYS unset?)`,
    );
  };
}

/**
 * Every worker replica runs one: each is handed every customer message, and the delivery row's
 * unique key (one per message) makes one delivery of the replicas' dispatches (and of a message
 * handed on again after a restart, customer-messages.ts).
 */
export class SessionBots {
  private readonly options: SessionBotsOptions;
  readonly deliveries: BotDeliveryWorker;

  constructor(options: SessionBotsOptions) {
    this.options = options;
    this.deliveries = new BotDeliveryWorker({
      db: options.db,
      connection: options.connection,
      keyPrefix: options.keyPrefix,
      resolveSecret: botSecretResolver(options.secrets, options.sealingKeys),
      ...(options.allowedHosts ? { allowedHosts: options.allowedHosts } : {}),
      ...(options.relay ? { relay: options.relay } : {}),
      ...(options.onError ? { onError: options.onError } : {}),
    });
  }

  /** Starts the deliveries, after re-adding what a crash left pending. */
  async start(): Promise<void> {
    await this.deliveries.start(this.options.tenantId);
  }

  async close(): Promise<void> {
    await this.deliveries.close();
  }

  /** Offers stored message `messageId` to its session's bot and adds the delivery's job. */
  async dispatch(messageId: string): Promise<void> {
    const { db, tenantId, relay } = this.options;
    const result = await dispatchToBot(db, tenantId, messageId);
    if (result.outboxIds.length > 0)
      void relay
        ?.kick(result.outboxIds)
        .catch((error: unknown) => this.options.onError?.(error, { what: 'kick outbox', messageId }));
    if (result.outcome === 'queued') await this.deliveries.enqueue(tenantId, result.deliveryId);
  }
}
