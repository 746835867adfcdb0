import { type Channel, ChannelError, type OutboundContent } from '@switchboard/channels';
import { type Db, tenantStatement, withTenant } from '@switchboard/db';
import {
  captureError,
  currentTraceparent,
  logFields,
  pipelineMetrics,
  queueTelemetry,
  withLogContext,
} from '@switchboard/telemetry';
import { DelayedError, type Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  type OutboundJob,
  outboundJobOptions,
  outboundJobSchema,
  providerMessageIdFor,
  publishRealtimeEvent,
  QUEUE_NAMES,
  queuePrefix,
  requestIdOf,
} from '../contracts.ts';
import { groupSendTarget } from '../groups/store.ts';
import { setMessageStatus } from '../inbound/receipts.ts';
import { DEFAULT_OUTBOUND_RETRY, type OutboundRetryPolicy, outboundBackoffMs } from './backoff.ts';
import {
  DEFAULT_HUMAN_DELAY,
  type HumanDelay,
  humanDelayMs,
  messageColumnsFor,
  type OutboundMediaSource,
  outboundContentSchema,
  resolveOutboundContent,
} from './content.ts';
import { type DeadLetter, listDeadLetters, replayDeadLetter } from './dead-letters.ts';
import { DEFAULT_OUTBOUND_LIMITS, type OutboundLimits, takeSendSlot } from './rate-limit.ts';
import { type SendRow, SendStatements } from './statements.ts';

/** Options for {@link OutboundConsumer}. */
export interface OutboundConsumerOptions {
  db: Db;
  tenantId: string;
  sessionId: string;
  /** The fencing epoch of this worker's claim; recorded on what it writes. The channel refuses stale sends. */
  epoch: bigint;
  channel: Channel;
  /** A `worker`-role connection (`maxRetriesPerRequest: null`): BullMQ blocks on it. */
  connection: Redis;
  keyPrefix: string;
  limits?: Partial<OutboundLimits>;
  retry?: Partial<OutboundRetryPolicy>;
  /** Where the files of outbound media messages are read from; without it media rows fail as INVALID_CONTENT. */
  mediaStorage?: OutboundMediaSource;
  /** The tenant's typing pause (default {@link DEFAULT_HUMAN_DELAY}; {@link NO_HUMAN_DELAY} in tests). */
  humanDelay?: HumanDelay;
  /**
   * The reads and records of sends, gathered into one statement each across the sends in flight
   * (the worker gives every session's consumer the process's one). Default: the consumer's own.
   */
  statements?: SendStatements;
  /** Jobs processed at once (default 1: a session sends in order). */
  concurrency?: number;
  /** After STALE_EPOCH the job waits this long for the new owner (default 5 s). */
  staleEpochRetryMs?: number;
  /**
   * Whether the channel honours `providerMessageId` (Baileys does), so a resend after a crash
   * reuses the id and the recipient de-duplicates it. Default: `channel.kind === 'baileys'`.
   */
  reusesProviderMessageIds?: boolean;
  /**
   * How often the session's `queued` messages are re-enqueued while consuming (default 60 s; 0
   * turns it off). Postgres holds the truth: a job Redis lost (a Sentinel failover acknowledges
   * writes the new primary never received; an API request that stored the message but could
   * not reach Redis) is added again under its jobId, which is a no-op for jobs that still exist.
   */
  requeueIntervalMs?: number;
  /** BullMQ lock and stall check (defaults 30 s / 30 s); shorter in tests of crashes. */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /**
   * How long a message whose send outcome is unknown (a crash between a Cloud API send and its
   * record) waits for a status from the provider before it is failed (default 15 min). A status
   * carrying our callback data resolves it meanwhile ({@link applyReceipt}).
   */
  unknownOutcomeTimeoutMs?: number;
  /**
   * Called when a message's outcome becomes unknown (`pending`) and when its wait ends without a
   * status (`expired`, the message is then failed): the alert-able signal.
   */
  onOutcomeUnknown?: (event: { messageId: string; stage: 'pending' | 'expired' }) => void;
  onError?: (error: unknown, context: { jobId?: string; what: string }) => void;
  /** Called when a job's run ends without throwing (inside the job's log context: its request id). */
  onProcessed?: (event: { jobId?: string; outcome: OutboundOutcome }) => void;
}

/** The reason kept on a still-`queued` message whose send outcome is unknown, while it waits for a status. */
export const OUTCOME_UNKNOWN = 'OUTCOME_UNKNOWN';
/** The failure reason of a message whose outcome stayed unknown past the bound. */
export const SEND_OUTCOME_UNKNOWN = 'SEND_OUTCOME_UNKNOWN';
/** Default of {@link OutboundConsumerOptions.unknownOutcomeTimeoutMs}. */
export const DEFAULT_UNKNOWN_OUTCOME_TIMEOUT_MS = 15 * 60_000;

/** What processing one job did. */
export type OutboundOutcome = 'sent' | 'already-sent' | 'skipped';

/** Errors for which the channel guarantees nothing was sent (checked before sending). */
const NOT_SENT_CODES = new Set(['STALE_EPOCH', 'NOT_CONNECTED', 'FENCE_UNAVAILABLE', 'LOGGED_OUT']);

/**
 * Sends the outbound messages of ONE session: a BullMQ Worker on the session's queue, started when
 * this worker gains the session and closed when it loses it.
 *
 * Guarantee (see README): before sending, the message row records the provider id it will be sent
 * under (the "sending" intent). A job that finds a message already past `queued` does nothing; one
 * that finds the intent but no `sent` (a crash between send and record) resends under the SAME
 * provider id when the channel honours it, which WhatsApp recipients de-duplicate. Otherwise
 * (Cloud API) it never resends: the message stays `queued` with reason `OUTCOME_UNKNOWN` until a
 * provider status carrying our message id as callback data names Meta's id for it (then the
 * receipt adopts that id and moves the row forward), or until `unknownOutcomeTimeoutMs` passes
 * (then it is failed with `SEND_OUTCOME_UNKNOWN`).
 */
export class OutboundConsumer {
  private readonly options: OutboundConsumerOptions;
  private readonly limits: OutboundLimits;
  private readonly retry: OutboundRetryPolicy;
  private readonly humanDelay: HumanDelay;
  private readonly reuseIds: boolean;
  private readonly queue: Queue;
  private readonly statements: SendStatements;
  private worker: Worker | undefined;
  private requeueTimer: NodeJS.Timeout | undefined;

  constructor(options: OutboundConsumerOptions) {
    this.options = options;
    this.limits = { ...DEFAULT_OUTBOUND_LIMITS, ...options.limits };
    this.retry = { ...DEFAULT_OUTBOUND_RETRY, ...options.retry };
    this.humanDelay = options.humanDelay ?? DEFAULT_HUMAN_DELAY;
    this.reuseIds = options.reusesProviderMessageIds ?? options.channel.kind === 'baileys';
    this.statements =
      options.statements ?? new SendStatements({ db: options.db, tenantId: options.tenantId });
    this.queue = new Queue(QUEUE_NAMES.outbound(options.sessionId), {
      connection: options.connection,
      prefix: queuePrefix(options.keyPrefix),
      telemetry: queueTelemetry(),
    });
  }

  /** The session's queue (for producers in tests and for dead-letter tools). */
  get outboundQueue(): Queue {
    return this.queue;
  }

  /** Re-enqueues the session's messages still `queued` (idempotent via jobId), then starts consuming. */
  async start(): Promise<void> {
    if (this.worker) return;
    await this.reenqueueQueued();
    const { connection, keyPrefix, sessionId } = this.options;
    this.worker = new Worker(
      QUEUE_NAMES.outbound(sessionId),
      // The job's request id (from the API request that sent it) goes on every log line of its run.
      async (job, token) => {
        const requestId = requestIdOf(job.data);
        return await withLogContext(requestId ? { [logFields.requestId]: requestId } : {}, async () => {
          const outcome = await this.process(job, token);
          this.options.onProcessed?.({ ...(job.id ? { jobId: job.id } : {}), outcome });
          return outcome;
        });
      },
      {
        connection,
        prefix: queuePrefix(keyPrefix),
        telemetry: queueTelemetry(),
        concurrency: this.options.concurrency ?? 1,
        ...(this.options.lockDurationMs ? { lockDuration: this.options.lockDurationMs } : {}),
        ...(this.options.stalledIntervalMs ? { stalledInterval: this.options.stalledIntervalMs } : {}),
        settings: { backoffStrategy: (attemptsMade: number) => outboundBackoffMs(this.retry, attemptsMade) },
      },
    );
    this.worker.on('error', (error) => this.options.onError?.(error, { what: 'worker' }));
    this.worker.on('failed', (job, error) => {
      // Failed for good (unrecoverable, or its last attempt): a dead letter, kept for replay.
      if (!job || !(error instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1)))
        return;
      pipelineMetrics().deadLetters.inc();
      captureError(error, {
        queue: QUEUE_NAMES.outbound(sessionId),
        jobId: job.id,
        what: 'outbound job failed',
      });
    });
    await this.worker.waitUntilReady();
    this.scheduleRequeue();
  }

  private scheduleRequeue(): void {
    const interval = this.options.requeueIntervalMs ?? 60_000;
    if (interval <= 0 || !this.worker) return;
    this.requeueTimer = setTimeout(() => {
      this.reenqueueQueued()
        .catch((error: unknown) => this.options.onError?.(error, { what: 'requeue queued messages' }))
        .finally(() => this.scheduleRequeue());
    }, interval);
    this.requeueTimer.unref();
  }

  /** Stops consuming; waits for the job in progress. */
  async stop(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    clearTimeout(this.requeueTimer);
    this.requeueTimer = undefined;
    await worker?.close();
  }

  /** Stops and closes the queue handle. */
  async close(): Promise<void> {
    await this.stop();
    await this.queue.close();
  }

  /** Jobs that exhausted their attempts or failed for good: the dead letters. */
  async listDeadLetters(start = 0, end = 99): Promise<DeadLetter[]> {
    return await listDeadLetters(this.queue, start, end);
  }

  /** Puts a dead letter back ({@link replayDeadLetter}). */
  async replayDeadLetter(jobId: string): Promise<void> {
    await replayDeadLetter(this.options.db, this.options.tenantId, this.queue, jobId);
  }

  private async reenqueueQueued(): Promise<void> {
    const { db, tenantId, sessionId } = this.options;
    const queued = await withTenant(db, tenantId, (tx) =>
      tx.message.findMany({
        where: { sessionId, direction: 'outbound', status: 'queued' },
        select: { id: true },
        orderBy: { createdAt: 'asc' },
      }),
    );
    if (queued.length === 0) return;
    await this.queue.addBulk(
      queued.map(({ id }) => {
        const data: OutboundJob = { kind: 'send', tenantId, messageId: id };
        return { name: 'send', data, opts: outboundJobOptions(data, this.retry) };
      }),
    );
  }

  /** Processes one job (the Worker's processor). */
  async process(job: Job, token: string | undefined): Promise<OutboundOutcome> {
    const parsed = outboundJobSchema.safeParse(job.data);
    if (!parsed.success)
      throw new UnrecoverableError(`outbound job ${job.id} is malformed: ${parsed.error.message}`);
    const data = parsed.data;
    if (data.tenantId !== this.options.tenantId)
      throw new UnrecoverableError(`outbound job ${job.id} belongs to tenant ${data.tenantId}, not this one`);
    const messageId =
      data.kind === 'send'
        ? data.messageId
        : await this.materialiseScheduled(job, token, data.scheduledMessageId);
    if (!messageId) return 'skipped';
    return await this.sendMessage(job, token, messageId);
  }

  /** Creates the message of a due scheduled message (once: its id is kept on the scheduled row). */
  private async materialiseScheduled(
    job: Job,
    token: string | undefined,
    scheduledId: string,
  ): Promise<string | undefined> {
    const { db, tenantId, sessionId } = this.options;
    const result = await withTenant(db, tenantId, async (tx) => {
      await tx.$queryRaw`SELECT id::text FROM scheduled_messages WHERE id = ${scheduledId}::uuid FOR UPDATE`;
      const scheduled = await tx.scheduledMessage.findUnique({ where: { id: scheduledId } });
      if (!scheduled) return { kind: 'missing' } as const;
      if (scheduled.messageId) return { kind: 'message', id: scheduled.messageId } as const;
      if (scheduled.status !== 'scheduled') return { kind: 'skip' } as const;
      if (scheduled.sessionId !== sessionId) return { kind: 'wrong-session' } as const;
      if (scheduled.sendAt.getTime() > Date.now())
        return { kind: 'early', at: scheduled.sendAt.getTime() } as const;
      const content = outboundContentSchema.safeParse(scheduled.content);
      if (!content.success) {
        const reason = `invalid content: ${content.error.issues.map((i) => `${i.path.join('.') || 'content'}: ${i.message}`).join('; ')}`;
        await tx.scheduledMessage.update({
          where: { id: scheduledId },
          data: { status: 'failed', failureReason: reason },
        });
        return { kind: 'invalid', reason } as const;
      }
      const message = await tx.message.create({
        data: {
          tenantId,
          sessionId,
          conversationId: scheduled.conversationId,
          direction: 'outbound',
          status: 'queued',
          ...messageColumnsFor(content.data),
          sentById: scheduled.createdById,
          epoch: this.options.epoch,
        },
        select: { id: true },
      });
      await tx.scheduledMessage.update({ where: { id: scheduledId }, data: { messageId: message.id } });
      return { kind: 'message', id: message.id } as const;
    });
    switch (result.kind) {
      case 'message':
        return result.id;
      case 'skip':
        return undefined;
      case 'early':
        await job.moveToDelayed(result.at, token);
        throw new DelayedError();
      case 'missing':
        throw new UnrecoverableError(`scheduled message ${scheduledId} does not exist`);
      case 'wrong-session':
        throw new UnrecoverableError(`scheduled message ${scheduledId} belongs to another session`);
      case 'invalid':
        throw new UnrecoverableError(`scheduled message ${scheduledId}: ${result.reason}`);
    }
  }

  private async sendMessage(
    job: Job,
    token: string | undefined,
    messageId: string,
  ): Promise<OutboundOutcome> {
    const { db, tenantId, sessionId, channel, epoch } = this.options;
    // The read; on a channel that reuses provider ids, the sending intent in the same statement.
    const message = await this.claim(messageId);
    if (!message) throw new UnrecoverableError(`message ${messageId} does not exist`);
    if (message.sessionId !== sessionId)
      throw new UnrecoverableError(`message ${messageId} belongs to another session's queue`);
    if (message.status !== 'queued') return 'already-sent';

    // A group's contact has no pn or lid: its conversation sends to the group (groups/store.ts).
    const group = recipientOf(message)
      ? undefined
      : await groupSendTarget(db, tenantId, message.contactId, message.id);
    const to = recipientOf(message) ?? group?.jid;
    if (!to)
      return await this.failForGood(
        message.id,
        message.conversationId,
        'INVALID_NUMBER: contact has no pn or lid',
      );
    const content = await resolveOutboundContent(message, this.options.mediaStorage);
    if (!content)
      return await this.failForGood(
        message.id,
        message.conversationId,
        `INVALID_CONTENT: ${message.type} cannot be sent`,
      );

    const intent = message.providerMessageId;
    if (intent && !this.reuseIds)
      return await this.awaitUnknownOutcome(job, token, message.id, message.conversationId, {
        failureReason: message.failureReason,
        updatedAt: message.updatedAt,
      });

    const wait = await takeSendSlot(
      this.options.connection,
      this.options.keyPrefix,
      sessionId,
      message.contactId,
      message.id,
      this.limits,
    );
    if (wait > 0) {
      pipelineMetrics().rateLimitWait.observe({ channel: channel.kind }, wait / 1000);
      await job.moveToDelayed(Date.now() + wait, token);
      throw new DelayedError();
    }

    await this.showTyping(to, content);

    const providerMessageId = intent ?? providerMessageIdFor(message.id);
    if (!intent && !message.intentWritten)
      await tenantStatement(db, tenantId, () => writeIntent(db, message.id, providerMessageId, epoch));

    let result: Awaited<ReturnType<Channel['send']>>;
    const sendStarted = performance.now();
    try {
      // callbackData (our message id) comes back on the provider's statuses: a status for a send
      // whose record was lost names the message it belongs to (Cloud API's biz_opaque_callback_data).
      result = await channel.send({
        to,
        content,
        callbackData: message.id,
        ...(this.reuseIds ? { providerMessageId } : {}),
        ...(group?.mentions.length ? { mentions: group.mentions } : {}),
      });
    } catch (error) {
      return await this.sendFailed(job, token, message.id, message.conversationId, error, sendStarted);
    }
    this.countSend('sent', 'none', sendStarted);

    // The send's span (the job's), kept on the message: its statuses are processed in this trace.
    const sendTraceparent = currentTraceparent();
    const moved = await this.statements.record({
      messageId: message.id,
      at: result.timestamp,
      providerMessageId: result.providerMessageId,
      epoch,
      traceparent: sendTraceparent,
    });
    if (moved) await this.publishStatus(message.id, message.conversationId, 'sent');
    return 'sent';
  }

  /**
   * Reads the message for its send, in one statement shared with the other sends in flight
   * ({@link SendStatements}). On a channel that reuses provider ids the same statement writes the
   * sending intent of a queued message of this session that has none: a resend after a crash goes
   * out under the same id and the recipient de-duplicates it, so an intent written before the send
   * slot, the typing pause or the content's checks costs nothing (the message is then rate-limited,
   * typed or failed as before, its id already chosen). Otherwise (Cloud API, where an intent means
   * the message may have been sent) the intent is written just before the send, as its own statement.
   */
  private async claim(messageId: string): Promise<SendRow | undefined> {
    const { sessionId, epoch } = this.options;
    return await this.statements.claim({ messageId, sessionId, epoch, writeIntent: this.reuseIds });
  }

  /**
   * A message an earlier attempt may have sent under an id the channel chose: never resent. It is
   * marked `OUTCOME_UNKNOWN` (still `queued`) and its job waits until the bound; a status with our
   * callback data moves it meanwhile (the job then finds it past `queued`). At the bound it fails.
   */
  private async awaitUnknownOutcome(
    job: Job,
    token: string | undefined,
    messageId: string,
    conversationId: string,
    current: { failureReason: string | null; updatedAt: Date },
  ): Promise<never> {
    const { db, tenantId } = this.options;
    const timeout = this.options.unknownOutcomeTimeoutMs ?? DEFAULT_UNKNOWN_OUTCOME_TIMEOUT_MS;
    // The start of the wait is kept in the reason, so other writes to the row do not extend it.
    const marked = current.failureReason?.startsWith(`${OUTCOME_UNKNOWN}:`)
      ? /since (\S+);/.exec(current.failureReason)?.[1]
      : undefined;
    let since = marked && !Number.isNaN(Date.parse(marked)) ? new Date(marked) : current.updatedAt;
    if (!current.failureReason?.startsWith(`${OUTCOME_UNKNOWN}:`)) {
      since = new Date();
      await withTenant(db, tenantId, (tx) =>
        tx.message.updateMany({
          where: { id: messageId, status: 'queued' },
          data: {
            failureReason: `${OUTCOME_UNKNOWN}: since ${since.toISOString()}; a previous attempt may have sent it, waiting for a provider status`,
          },
        }),
      );
      pipelineMetrics().unknownOutcomes.inc({ stage: 'pending' });
      this.options.onOutcomeUnknown?.({ messageId, stage: 'pending' });
    }
    const deadline = since.getTime() + timeout;
    if (Date.now() < deadline) {
      await job.moveToDelayed(deadline, token);
      throw new DelayedError();
    }
    pipelineMetrics().unknownOutcomes.inc({ stage: 'expired' });
    this.options.onOutcomeUnknown?.({ messageId, stage: 'expired' });
    return await this.failForGood(
      messageId,
      conversationId,
      `${SEND_OUTCOME_UNKNOWN}: a previous attempt may have sent it, the channel cannot reuse its id, and no provider status named it within ${Math.round(timeout / 1000)} s`,
    );
  }

  private async showTyping(to: string, content: OutboundContent): Promise<void> {
    const delay = humanDelayMs(this.humanDelay, content);
    if (delay <= 0) return;
    try {
      await this.options.channel.sendPresence(to, 'typing');
      await new Promise((resolve) => setTimeout(resolve, delay));
      await this.options.channel.sendPresence(to, 'paused');
    } catch (error) {
      // Presence is cosmetic: a failure here must not fail the send.
      this.options.onError?.(error, { what: 'typing presence' });
    }
  }

  private async sendFailed(
    job: Job,
    token: string | undefined,
    messageId: string,
    conversationId: string,
    error: unknown,
    sendStarted: number,
  ): Promise<never> {
    const code = error instanceof ChannelError ? error.code : (error as { code?: unknown } | null)?.code;
    const errorClass = typeof code === 'string' ? code : 'unknown';
    const attempts = job.opts.attempts ?? 1;
    const final = (error instanceof ChannelError && error.unrecoverable) || job.attemptsMade + 1 >= attempts;
    this.countSend(code !== 'STALE_EPOCH' && final ? 'failed' : 'retry', errorClass, sendStarted);
    if (typeof code === 'string' && NOT_SENT_CODES.has(code) && !this.reuseIds)
      await withTenant(this.options.db, this.options.tenantId, (tx) =>
        tx.message.updateMany({
          where: { id: messageId, status: 'queued' },
          data: { providerMessageId: null },
        }),
      );
    if (code === 'STALE_EPOCH') {
      // Another worker holds the session now; it will send this. Not an attempt.
      await job.moveToDelayed(Date.now() + (this.options.staleEpochRetryMs ?? 5_000), token);
      throw new DelayedError();
    }
    const reason = error instanceof ChannelError ? `${error.code}: ${error.message}` : String(error);
    if (error instanceof ChannelError && error.unrecoverable) {
      await this.failForGood(messageId, conversationId, reason);
    }
    if (job.attemptsMade + 1 >= attempts) {
      await this.markFailed(messageId, conversationId, `retries exhausted (${attempts}): ${reason}`);
    }
    throw error;
  }

  private countSend(result: 'sent' | 'retry' | 'failed', errorClass: string, started: number): void {
    const metrics = pipelineMetrics();
    const channel = this.options.channel.kind;
    metrics.sends.inc({ channel, result, error_class: errorClass });
    metrics.sendDuration.observe({ channel, result }, (performance.now() - started) / 1000);
  }

  private async failForGood(messageId: string, conversationId: string, reason: string): Promise<never> {
    await this.markFailed(messageId, conversationId, reason);
    throw new UnrecoverableError(`message ${messageId} failed: ${reason}`);
  }

  private async markFailed(messageId: string, conversationId: string, reason: string): Promise<void> {
    const { db, tenantId } = this.options;
    const moved = await withTenant(db, tenantId, async (tx) => {
      const applied = await setMessageStatus(tx, tenantId, messageId, 'failed', new Date(), { reason });
      await tx.scheduledMessage.updateMany({
        where: { messageId, status: 'scheduled' },
        data: { status: 'failed', failureReason: reason },
      });
      return applied;
    });
    if (moved) await this.publishStatus(messageId, conversationId, 'failed', reason);
  }

  private async publishStatus(
    messageId: string,
    conversationId: string,
    status: 'sent' | 'failed',
    reason?: string,
  ): Promise<void> {
    await publishRealtimeEvent(this.options.connection, this.options.keyPrefix, {
      type: 'message.updated',
      at: new Date().toISOString(),
      data: { messageId, conversationId, status, ...(reason ? { reason } : {}) },
    });
  }
}

/** Where the message goes: the contact's phone number, else its LID. */
function recipientOf(message: Pick<SendRow, 'pn' | 'lid'>): string | undefined {
  return message.pn ?? (message.lid ? `${message.lid}@lid` : undefined);
}

/** Records the provider id a queued message is about to be sent under (the sending intent). */
function writeIntent(db: Db, messageId: string, providerMessageId: string, epoch: bigint) {
  return db.$executeRaw`
    UPDATE messages SET provider_message_id = ${providerMessageId}, epoch = ${epoch}, updated_at = now()
     WHERE id = ${messageId}::uuid AND status = 'queued'`;
}
