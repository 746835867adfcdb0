import { type Db, withTenant } from '@switchboard/db';
import { captureError, pipelineMetrics, queueTelemetry } from '@switchboard/telemetry';
import { type Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { QUEUE_NAMES, queuePrefix, webhookDeliveryJobSchema } from '../contracts.ts';
import { WEBHOOK_EVENT_VERSION } from './events.ts';
import { replayWebhookDelivery } from './replay.ts';
import { DEFAULT_WEBHOOK_RETRY, jitteredDelayMs, type WebhookRetryPolicy } from './schedule.ts';
import { WEBHOOK_HEADERS } from './signature.ts';
import { postSigned } from './signed-post.ts';

/** The subscription fields a secret is resolved from (a provider reference or the encrypted value). */
export interface SubscriptionSecretSource {
  id: string;
  secretRef: string | null;
  secretCiphertext: Uint8Array | null;
}

/** Options for {@link WebhookDeliveryWorker}. */
export interface WebhookDeliveryWorkerOptions {
  db: Db;
  /** A `worker`-role connection. */
  connection: Redis;
  keyPrefix: string;
  /** Returns the signing secret of a subscription (from the tenant's secret provider, or decrypted). */
  resolveSecret: (subscription: SubscriptionSecretSource) => Promise<string>;
  retry?: WebhookRetryPolicy;
  /** Per attempt (default 10 s). */
  timeoutMs?: number;
  concurrency?: number;
  /**
   * WEBHOOK_ALLOWED_HOSTS: receiver hosts delivered to although they are or resolve to internal
   * addresses (lower case). Every other receiver is resolved before each attempt, refused when
   * any address is internal, and connected to at the address that was checked.
   */
  allowedHosts?: readonly string[];
  onError?: (error: unknown, context: { what: string }) => void;
}

/** A failed attempt; carries the delay before the next one so the row and BullMQ agree on it. */
class DeliveryAttemptError extends Error {
  readonly retryInMs: number;
  constructor(message: string, retryInMs: number) {
    super(message);
    this.name = 'DeliveryAttemptError';
    this.retryInMs = retryInMs;
  }
}

/** What one attempt did. */
export type DeliveryOutcome = 'delivered' | 'already-delivered';

/**
 * Delivers tenants' webhook events: POSTs the delivery's payload as JSON, signed
 * (`X-Switchboard-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>`), and logs
 * every attempt on its webhook_deliveries row (status, response code, latency, attempts, next
 * attempt). A non-2xx answer, a timeout or a connection error is retried with exponential backoff
 * and jitter; after the last attempt the row is `failed` (the dead letter, replayable) and the job
 * stays in BullMQ's failed set within FAILED_WEBHOOK_JOB_RETENTION (contracts.ts).
 */
export class WebhookDeliveryWorker {
  private readonly options: WebhookDeliveryWorkerOptions;
  private readonly retry: WebhookRetryPolicy;
  private readonly allowedHosts: ReadonlySet<string>;
  private readonly queue: Queue;
  private worker: Worker | undefined;

  constructor(options: WebhookDeliveryWorkerOptions) {
    this.options = options;
    this.retry = options.retry ?? DEFAULT_WEBHOOK_RETRY;
    this.allowedHosts = new Set((options.allowedHosts ?? []).map((h) => h.toLowerCase()));
    this.queue = new Queue(QUEUE_NAMES.webhookDeliveries, {
      connection: options.connection,
      prefix: queuePrefix(options.keyPrefix),
      telemetry: queueTelemetry(),
    });
  }

  async start(): Promise<void> {
    if (this.worker) return;
    this.worker = new Worker(QUEUE_NAMES.webhookDeliveries, async (job) => await this.process(job), {
      connection: this.options.connection,
      prefix: queuePrefix(this.options.keyPrefix),
      telemetry: queueTelemetry(),
      concurrency: this.options.concurrency ?? 10,
      settings: {
        backoffStrategy: (attemptsMade: number, _type?: string, error?: Error) =>
          error instanceof DeliveryAttemptError ? error.retryInMs : jitteredDelayMs(this.retry, attemptsMade),
      },
    });
    this.worker.on('error', (error) => this.options.onError?.(error, { what: 'webhook worker' }));
    this.worker.on('failed', (job, error) => {
      // Its last attempt (or unrecoverable): stays failed until replayed.
      if (!job || !(error instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1)))
        return;
      captureError(error, {
        queue: QUEUE_NAMES.webhookDeliveries,
        jobId: job.id,
        what: 'webhook delivery failed',
      });
    });
    await this.worker.waitUntilReady();
  }

  async close(): Promise<void> {
    await this.worker?.close();
    this.worker = undefined;
    await this.queue.close();
  }

  /** Sends a delivery again (after a fix on the receiver's side), whatever its status; attempts keep counting. */
  async replay(tenantId: string, deliveryId: string): Promise<void> {
    await replayWebhookDelivery(this.options.db, this.queue, tenantId, deliveryId, this.retry);
  }

  /** One attempt of one delivery (the Worker's processor). */
  async process(job: Job): Promise<DeliveryOutcome> {
    const parsed = webhookDeliveryJobSchema.safeParse(job.data);
    if (!parsed.success)
      throw new UnrecoverableError(`webhook job ${job.id} is malformed: ${parsed.error.message}`);
    const { tenantId, deliveryId } = parsed.data;
    const { db } = this.options;
    const delivery = await withTenant(db, tenantId, (tx) =>
      tx.webhookDelivery.findUnique({ where: { id: deliveryId }, include: { subscription: true } }),
    );
    if (!delivery) throw new UnrecoverableError(`webhook delivery ${deliveryId} does not exist`);
    if (delivery.status === 'succeeded') return 'already-delivered';
    if (!delivery.subscription.active) {
      await withTenant(db, tenantId, (tx) =>
        tx.webhookDelivery.update({
          where: { id: deliveryId },
          data: { status: 'failed', lastError: 'subscription inactive', nextAttemptAt: null },
        }),
      );
      throw new UnrecoverableError(`webhook subscription ${delivery.subscriptionId} is inactive`);
    }

    const rawBody = JSON.stringify(delivery.payload);
    const started = performance.now();
    let responseCode: number | null = null;
    let error: string | null = null;
    // A secret that cannot be read (a sealing key removed too early, a provider outage) is a
    // failed attempt recorded on the row and retried, not a delivery left pending with no reason.
    let secret: string | undefined;
    try {
      secret = await this.options.resolveSecret(delivery.subscription);
    } catch (caught) {
      error = `signing secret unreadable: ${(caught as Error).message}`;
    }
    if (secret !== undefined)
      ({ responseCode, error } = await postSigned({
        url: delivery.subscription.url,
        secret,
        rawBody,
        headers: {
          [WEBHOOK_HEADERS.eventId]: delivery.eventId,
          [WEBHOOK_HEADERS.eventType]: delivery.eventType,
          [WEBHOOK_HEADERS.eventVersion]: String(WEBHOOK_EVENT_VERSION),
        },
        allowedHosts: this.allowedHosts,
        timeoutMs: this.options.timeoutMs ?? 10_000,
        userAgent: 'Switchboard-Webhooks/1',
      }));
    const latencyMs = Math.round(performance.now() - started);
    const attempt = delivery.attempts + 1;
    const attemptsLeft = (job.opts.attempts ?? 1) - (job.attemptsMade + 1);
    const result = !error ? 'delivered' : attemptsLeft > 0 ? 'retry' : 'failed';
    pipelineMetrics().webhookDeliveries.inc({ result });
    pipelineMetrics().webhookDuration.observe({ result }, latencyMs / 1000);

    if (!error) {
      await withTenant(db, tenantId, (tx) =>
        tx.webhookDelivery.update({
          where: { id: deliveryId },
          data: {
            status: 'succeeded',
            attempts: attempt,
            responseCode,
            latencyMs,
            lastError: null,
            deliveredAt: new Date(),
            nextAttemptAt: null,
          },
        }),
      );
      return 'delivered';
    }
    const retryInMs = jitteredDelayMs(this.retry, job.attemptsMade + 1);
    await withTenant(db, tenantId, (tx) =>
      tx.webhookDelivery.update({
        where: { id: deliveryId },
        data: {
          status: attemptsLeft > 0 ? 'pending' : 'failed',
          attempts: attempt,
          responseCode,
          latencyMs,
          lastError: error,
          nextAttemptAt: attemptsLeft > 0 ? new Date(Date.now() + retryInMs) : null,
        },
      }),
    );
    throw new DeliveryAttemptError(`webhook delivery ${deliveryId} attempt ${attempt}: ${error}`, retryInMs);
  }
}
