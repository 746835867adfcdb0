import { type Channel, type ChannelEvents, parseCloudApiWebhook } from '@switchboard/channels';
import type { Db } from '@switchboard/db';
import {
  cloudApiInboundJobSchema,
  DEFAULT_HUMAN_DELAY,
  InboundPipeline,
  type InboundPipelineOptions,
  MediaDownloadWorker,
  NO_HUMAN_DELAY,
  OutboundConsumer,
  type OutboundLimits,
  type OutboxRelay,
  QUEUE_NAMES,
  queuePrefix,
  SendStatements,
  subscriptionSecretResolver,
  WebhookDeliveryWorker,
  type WebhookSealingKeyring,
} from '@switchboard/messaging';
import type { SecretResolver } from '@switchboard/secrets';
import type { OwnedSession } from '@switchboard/sessions';
import { captureError, type Logger, queueTelemetry } from '@switchboard/telemetry';
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { PipelineMediaOptions } from './media.ts';

/**
 * The message pipelines of one worker process (packages/messaging), attached to the sessions it
 * holds and to the tenant-wide queues:
 *
 * - per held session: the channel's messages, receipts and identity links stored through an
 *   InboundPipeline carrying the claim's epoch, and the session's own outbound queue consumed by
 *   an OutboundConsumer, started when the session is claimed and stopped before its channel
 *   closes, so only the lease holder ever sends for it;
 * - per process: Meta's webhook payloads (accepted and signature-checked by the API, then put on
 *   the cloud-api-inbound queue) parsed and stored like any channel's events, and the tenant's
 *   own webhook deliveries, and the downloads of inbound media into storage (any channel's: no
 *   socket is needed). Any worker may take these: storing is idempotent.
 */

/** Options for {@link MessagePipelines}. */
export interface MessagePipelinesOptions {
  db: Db;
  /** The command connection (streams, Queue.add). */
  redis: Redis;
  /** A worker-role connection (BullMQ Workers block on duplicates of it). */
  workerConnection: Redis;
  tenantId: string;
  keyPrefix: string;
  logger: Logger;
  secrets: SecretResolver;
  /** SEALING_KEYS: opens sealed webhook secrets; without it only `secretRef` subscriptions can be delivered. */
  sealingKeys?: WebhookSealingKeyring;
  typingDelay: boolean;
  /** Per-contact and per-session send limits (defaults: 10 and 60 per minute). */
  limits?: Partial<OutboundLimits>;
  /** phone_number_id -> session id of the tenant's Cloud API sessions. */
  cloudApiSessions: () => Promise<ReadonlyMap<string, string>>;
  /**
   * Inbound media downloads (`pipelineMediaFromConfig` in media.ts). Without it the
   * media-downloads queue is not consumed here and messages keep no files.
   */
  media?: PipelineMediaOptions;
  /** The process's outbox relay: every session's inbound pipeline kicks it after a commit. */
  relay?: OutboxRelay;
  /** Webhook receivers delivered to although they are or resolve to internal addresses. */
  allowedWebhookHosts?: readonly string[];
}

/** See the module comment. */
export class MessagePipelines {
  private readonly options: MessagePipelinesOptions;
  private cloudApiInbound: Worker | undefined;
  private readonly tenantInbound: InboundPipeline;
  private readonly webhooks: WebhookDeliveryWorker;
  private readonly mediaDownloads: MediaDownloadWorker | undefined;
  // Every held session's sends share it: the reads and records of the sends in flight across
  // sessions go into one statement each.
  private readonly sendStatements: SendStatements;

  constructor(options: MessagePipelinesOptions) {
    this.options = options;
    this.sendStatements = new SendStatements({ db: options.db, tenantId: options.tenantId });
    this.tenantInbound = new InboundPipeline({
      db: options.db,
      redis: options.redis,
      tenantId: options.tenantId,
      keyPrefix: options.keyPrefix,
      ...(options.relay ? { relay: options.relay } : {}),
      onBatch: batchFallbackLogger(options.logger, {}),
    });
    this.webhooks = new WebhookDeliveryWorker({
      db: options.db,
      connection: options.workerConnection,
      keyPrefix: options.keyPrefix,
      resolveSecret: subscriptionSecretResolver({
        keyring: options.sealingKeys,
        resolveReference: (reference) => options.secrets.resolve(reference),
      }),
      ...(options.allowedWebhookHosts ? { allowedHosts: options.allowedWebhookHosts } : {}),
      onError: (error, context) =>
        options.logger.error({ err: error, ...context }, 'webhook delivery failed'),
    });
    const media = options.media;
    this.mediaDownloads = media
      ? new MediaDownloadWorker({
          db: options.db,
          connection: options.workerConnection,
          keyPrefix: options.keyPrefix,
          storage: media.storage,
          fetchMedia: media.fetchMedia,
          maxBytes: media.maxBytes,
          // The error names the message and why, never its content.
          onError: (error, context) =>
            options.logger.warn({ err: error, ...context }, `${context.what} failed`),
        })
      : undefined;
  }

  /** Starts the tenant-wide consumers. */
  async start(): Promise<void> {
    await this.webhooks.start();
    await this.mediaDownloads?.start();
    this.cloudApiInbound = new Worker(
      QUEUE_NAMES.cloudApiInbound,
      async (job: Job) => await this.processCloudApiPayload(job),
      {
        connection: this.options.workerConnection,
        prefix: queuePrefix(this.options.keyPrefix),
        // The job carries the trace of Meta's POST to the API (queue-telemetry.ts).
        telemetry: queueTelemetry(),
        concurrency: 4,
      },
    );
    this.cloudApiInbound.on('error', (error) =>
      this.options.logger.error({ err: error }, 'cloud-api inbound consumer error'),
    );
    this.cloudApiInbound.on('failed', (job, error) => {
      // Failed for good (unrecoverable, or its last attempt): what Meta sent is not stored, and the
      // job stays failed for a look. Reported like a dead-lettered send: the queue and job id as
      // tags, the error through Sentry's scrubbers (never the payload, which holds numbers and text).
      if (!job || !(error instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1)))
        return;
      this.options.logger.error({ err: error, jobId: job.id }, 'cloud-api inbound job failed');
      captureError(error, {
        queue: QUEUE_NAMES.cloudApiInbound,
        jobId: job.id,
        what: 'cloud-api inbound job failed',
      });
    });
    await this.cloudApiInbound.waitUntilReady();
  }

  /** Stops the tenant-wide consumers (sessions detach through the runtime). */
  async stop(): Promise<void> {
    await Promise.allSettled([
      this.cloudApiInbound?.close(),
      this.webhooks.close(),
      this.mediaDownloads?.close(),
      this.tenantInbound.close(),
    ]);
  }

  /** The SessionRuntime attachment: inbound storage and the outbound consumer of one held session. */
  async attach(session: OwnedSession, channel: Channel): Promise<() => Promise<void>> {
    const { db, redis, tenantId, keyPrefix, logger } = this.options;
    const context = { sessionId: session.sessionId, epoch: String(session.fence.epoch) };
    const inbound = new InboundPipeline({
      db,
      redis,
      tenantId,
      keyPrefix,
      epoch: session.fence.epoch,
      ...(this.options.relay ? { relay: this.options.relay } : {}),
      onBatch: batchFallbackLogger(logger, context),
    });
    const guard =
      <E extends keyof ChannelEvents>(what: string, fn: (payload: ChannelEvents[E]) => Promise<unknown>) =>
      async (payload: ChannelEvents[E]) => {
        try {
          await fn(payload);
        } catch (error) {
          logger.error({ err: error, ...context }, `${what} failed`);
          throw error;
        }
      };
    const unsubscribe = [
      channel.on(
        'message',
        guard<'message'>('storing an inbound message', (m) => inbound.handleMessage(m)),
      ),
      channel.on(
        'receipt',
        guard<'receipt'>('applying a receipt', (r) => inbound.handleReceipt(r)),
      ),
      channel.on(
        'identity',
        guard<'identity'>('linking identities', (l) => inbound.handleIdentity(l)),
      ),
      channel.on('unsupported', (event) =>
        logger.info(
          { ...context, source: event.source, reason: event.reason, detail: event.detail },
          'unsupported event',
        ),
      ),
    ];
    const outbound = new OutboundConsumer({
      db,
      tenantId,
      sessionId: session.sessionId,
      epoch: session.fence.epoch,
      channel,
      connection: this.options.workerConnection,
      keyPrefix,
      humanDelay: this.options.typingDelay ? DEFAULT_HUMAN_DELAY : NO_HUMAN_DELAY,
      statements: this.sendStatements,
      ...(this.options.limits ? { limits: this.options.limits } : {}),
      ...(this.options.media?.storage ? { mediaStorage: this.options.media.storage } : {}),
      onError: (error, where) => logger.error({ err: error, ...context, ...where }, 'outbound'),
      // A send whose outcome is unknown (pending a provider status, or failed at the bound): the alert signal.
      onOutcomeUnknown: (event) => logger.warn({ ...context, ...event }, 'outbound send outcome unknown'),
      // Written inside the job's log context, so it carries the request id of the send.
      onProcessed: (event) => logger.info({ ...context, ...event }, 'outbound job processed'),
    });
    await outbound.start();
    return async () => {
      for (const off of unsubscribe) off();
      await outbound.close();
      await inbound.close();
    };
  }

  /** One accepted Meta POST: every message and status in it, stored like a channel's events. */
  private async processCloudApiPayload(job: Job): Promise<{ stored: number; unrouted: string[] }> {
    const parsed = cloudApiInboundJobSchema.safeParse(job.data);
    if (!parsed.success) {
      throw new UnrecoverableError(`cloud-api inbound job ${job.id} is malformed: ${parsed.error.message}`);
    }
    if (parsed.data.tenantId !== this.options.tenantId) {
      throw new UnrecoverableError(`cloud-api inbound job ${job.id} belongs to another tenant`);
    }
    const result = parseCloudApiWebhook(parsed.data.payload, {
      sessionsByPhoneNumberId: await this.options.cloudApiSessions(),
    });
    // Every event queued at once, in the payload's order: the pipeline stores consecutive messages
    // in one transaction. The job completes (the queue's acknowledgement) only after all committed;
    // if one failed, the job fails and its retry finds the others stored (duplicates).
    const handled: Promise<unknown>[] = [];
    for (const item of result.events) {
      if (item.event === 'message') handled.push(this.tenantInbound.handleMessage(item.payload));
      else if (item.event === 'receipt') handled.push(this.tenantInbound.handleReceipt(item.payload));
      else {
        const { source, reason, detail } = item.payload;
        this.options.logger.info({ jobId: job.id, source, reason, detail }, 'unsupported cloud-api event');
      }
    }
    const settled = await Promise.allSettled(handled);
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    const stored = handled.length;
    if (result.unrouted.length > 0) {
      this.options.logger.warn(
        { jobId: job.id, phoneNumberIds: result.unrouted },
        'cloud-api payload for unknown numbers',
      );
    }
    return { stored, unrouted: result.unrouted };
  }
}

/** Logs an inbound batch that could not commit as one transaction (its messages were then stored one by one). */
function batchFallbackLogger(
  logger: Logger,
  context: Record<string, string>,
): NonNullable<InboundPipelineOptions['onBatch']> {
  return (batch) => {
    if (batch.outcome === 'one-by-one')
      logger.warn({ err: batch.error, ...context, size: batch.size }, 'inbound batch stored one by one');
  };
}
