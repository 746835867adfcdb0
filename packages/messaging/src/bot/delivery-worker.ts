import { type Db, withTenant } from '@switchboard/db';
import { captureError, queueTelemetry } from '@switchboard/telemetry';
import { type Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { queuePrefix } from '../contracts.ts';
import { SendJobs } from '../outbound/send-jobs.ts';
import { WEBHOOK_EVENT_VERSION } from '../webhooks/events.ts';
import { DEFAULT_WEBHOOK_RETRY, jitteredDelayMs, type WebhookRetryPolicy } from '../webhooks/schedule.ts';
import { WEBHOOK_HEADERS } from '../webhooks/signature.ts';
import { postSigned } from '../webhooks/signed-post.ts';
import {
  BOT_EVENT_TYPE,
  BOT_MAX_ANSWER_BYTES,
  type BotAnswer,
  type BotDeliveryPayload,
  parseBotAnswer,
} from './answer.ts';
import { automationMayAnswer, stopAutomation, storeAutomatedReplies } from './automation.ts';
import { BOT_DELIVERIES_QUEUE, botDeliveryJobOptions, botDeliveryJobSchema } from './dispatch.ts';

/** The settings fields a bot's secret is resolved from (a provider reference or the sealed value). */
export interface BotSecretSource {
  sessionId: string;
  secretRef: string | null;
  secretCiphertext: Uint8Array | null;
}

/** Options for {@link BotDeliveryWorker}. */
export interface BotDeliveryWorkerOptions {
  db: Db;
  /** A `worker`-role connection (the bot-deliveries Worker, and the outbound queues replies go on). */
  connection: Redis;
  keyPrefix: string;
  /** Returns the signing secret of a session's bot (from the tenant's secret provider, or unsealed). */
  resolveSecret: (settings: BotSecretSource) => Promise<string>;
  retry?: WebhookRetryPolicy;
  /** Per attempt (default 10 s): the engine answers within it or the attempt fails. */
  timeoutMs?: number;
  concurrency?: number;
  /** WEBHOOK_ALLOWED_HOSTS: engines delivered to although they are or resolve to internal addresses. */
  allowedHosts?: readonly string[];
  /** Kicked with the replies' outbox rows (their realtime events); else the relay's sweep performs them. */
  relay?: { kick(ids: readonly string[]): Promise<void> };
  onError?: (error: unknown, context: { what: string }) => void;
}

/** A failed attempt; carries the delay before the next one so the row and BullMQ agree on it. */
class BotAttemptError extends Error {
  readonly retryInMs: number;
  constructor(message: string, retryInMs: number) {
    super(message);
    this.name = 'BotAttemptError';
    this.retryInMs = retryInMs;
  }
}

/** What one attempt of a bot delivery did. */
export type BotDeliveryOutcome =
  | { outcome: 'answered'; replies: number; handoff: boolean }
  | { outcome: 'already-delivered' | 'skipped' };

/**
 * Delivers customers' messages to sessions' flow engines exactly as tenant webhooks are delivered
 * (webhooks/signed-post.ts: the receiver's address checked, the body signed with
 * `X-Switchboard-Signature`, the same retry policy and backoff), and acts on the engine's answer
 * (answer.ts): its replies are stored as automated outbound messages under idempotency keys made
 * from the customer's message and the reply's index, so a delivery performed twice (a retry after
 * a lost acknowledgement, a stalled job run again) sends each reply once; `handoff` stops the bot
 * for the conversation. A conversation taken by an agent (or handed off) before an attempt is not
 * delivered (`skipped`); one taken while the engine answered gets none of the replies.
 */
export class BotDeliveryWorker {
  private readonly options: BotDeliveryWorkerOptions;
  private readonly retry: WebhookRetryPolicy;
  private readonly allowedHosts: ReadonlySet<string>;
  private readonly queue: Queue;
  private readonly sends: SendJobs;
  private worker: Worker | undefined;

  constructor(options: BotDeliveryWorkerOptions) {
    this.options = options;
    this.retry = options.retry ?? DEFAULT_WEBHOOK_RETRY;
    this.allowedHosts = new Set((options.allowedHosts ?? []).map((h) => h.toLowerCase()));
    this.queue = new Queue(BOT_DELIVERIES_QUEUE, {
      connection: options.connection,
      prefix: queuePrefix(options.keyPrefix),
      telemetry: queueTelemetry(),
    });
    this.sends = new SendJobs({
      connection: options.connection,
      keyPrefix: options.keyPrefix,
      relay: options.relay,
      onError: options.onError,
    });
  }

  /** Consumes the queue, after adding the jobs of deliveries a crash left pending without one. */
  async start(tenantId?: string): Promise<void> {
    if (this.worker) return;
    if (tenantId) await this.requeuePending(tenantId);
    this.worker = new Worker(BOT_DELIVERIES_QUEUE, async (job) => await this.process(job), {
      connection: this.options.connection,
      prefix: queuePrefix(this.options.keyPrefix),
      telemetry: queueTelemetry(),
      concurrency: this.options.concurrency ?? 10,
      settings: {
        backoffStrategy: (attemptsMade: number, _type?: string, error?: Error) =>
          error instanceof BotAttemptError ? error.retryInMs : jitteredDelayMs(this.retry, attemptsMade),
      },
    });
    this.worker.on('error', (error) => this.options.onError?.(error, { what: 'bot delivery worker' }));
    this.worker.on('failed', (job, error) => {
      if (!job || !(error instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1)))
        return;
      captureError(error, { queue: BOT_DELIVERIES_QUEUE, jobId: job.id, what: 'bot delivery failed' });
    });
    await this.worker.waitUntilReady();
  }

  async close(): Promise<void> {
    await this.worker?.close();
    this.worker = undefined;
    await this.queue.close();
    await this.sends.close();
  }

  /** Adds the job of delivery `deliveryId` (a no-op when it exists). */
  async enqueue(tenantId: string, deliveryId: string): Promise<void> {
    await this.queue.add('deliver', { tenantId, deliveryId }, botDeliveryJobOptions(deliveryId, this.retry));
  }

  /** Adds the jobs of pending deliveries older than a minute (their dispatcher died before adding them). */
  async requeuePending(tenantId: string): Promise<number> {
    const rows = await withTenant(this.options.db, tenantId, (tx) =>
      tx.botDelivery.findMany({
        where: { status: 'pending', createdAt: { lt: new Date(Date.now() - 60_000) } },
        select: { id: true },
        take: 1000,
      }),
    );
    for (const row of rows) await this.enqueue(tenantId, row.id);
    return rows.length;
  }

  /** One attempt of one delivery (the Worker's processor). */
  async process(job: Job): Promise<BotDeliveryOutcome> {
    const parsed = botDeliveryJobSchema.safeParse(job.data);
    if (!parsed.success)
      throw new UnrecoverableError(`bot job ${job.id} is malformed: ${parsed.error.message}`);
    const { tenantId, deliveryId } = parsed.data;
    const { db } = this.options;
    const loaded = await withTenant(db, tenantId, async (tx) => {
      const delivery = await tx.botDelivery.findUnique({ where: { id: deliveryId } });
      if (!delivery) return undefined;
      // One statement at a time: a transaction's queries share its connection.
      const settings = await tx.sessionBotSettings.findUnique({
        where: { tenantId_sessionId: { tenantId, sessionId: delivery.sessionId } },
      });
      const conversation = await tx.conversation.findUnique({
        where: { id: delivery.conversationId },
        include: { contact: { include: { identities: { where: { kind: 'pn' }, take: 1 } } } },
      });
      const message = await tx.message.findUnique({ where: { id: delivery.messageId } });
      return { delivery, settings, conversation, message };
    });
    if (!loaded) throw new UnrecoverableError(`bot delivery ${deliveryId} does not exist`);
    const { delivery, settings, conversation, message } = loaded;
    if (delivery.status === 'succeeded' || delivery.status === 'skipped')
      return { outcome: 'already-delivered' };
    const skip = async (reason: string): Promise<BotDeliveryOutcome> => {
      await withTenant(db, tenantId, (tx) =>
        tx.botDelivery.update({
          where: { id: deliveryId },
          data: { status: 'skipped', lastError: reason, nextAttemptAt: null },
        }),
      );
      return { outcome: 'skipped' };
    };
    if (!settings?.enabled) return await skip('the bot is off');
    if (!conversation || !message) return await skip('the message is gone');
    if (!automationMayAnswer(conversation)) return await skip('the conversation was taken by the team');

    const payload: BotDeliveryPayload = {
      id: delivery.id,
      type: BOT_EVENT_TYPE,
      createdAt: delivery.createdAt.toISOString(),
      data: {
        sessionId: delivery.sessionId,
        conversationId: conversation.id,
        message: {
          id: message.id,
          type: message.type,
          body: message.body,
          createdAt: message.createdAt.toISOString(),
        },
        contact: {
          id: conversation.contact.id,
          name: conversation.contact.displayName ?? conversation.contact.pushName,
          phoneNumber: conversation.contact.identities[0]?.value ?? null,
        },
      },
    };
    const started = performance.now();
    let responseCode: number | null = null;
    let error: string | null = null;
    let body: string | undefined;
    let secret: string | undefined;
    try {
      secret = await this.options.resolveSecret(settings);
    } catch (caught) {
      error = `signing secret unreadable: ${(caught as Error).message}`;
    }
    if (secret !== undefined)
      ({ responseCode, error, body } = await postSigned({
        url: settings.url,
        secret,
        rawBody: JSON.stringify(payload),
        headers: {
          [WEBHOOK_HEADERS.eventId]: delivery.id,
          [WEBHOOK_HEADERS.eventType]: BOT_EVENT_TYPE,
          [WEBHOOK_HEADERS.eventVersion]: String(WEBHOOK_EVENT_VERSION),
        },
        allowedHosts: this.allowedHosts,
        timeoutMs: this.options.timeoutMs ?? 10_000,
        userAgent: 'Switchboard-Bot/1',
        maxResponseBytes: BOT_MAX_ANSWER_BYTES,
      }));
    const latencyMs = Math.round(performance.now() - started);
    const attempt = delivery.attempts + 1;

    if (!error) {
      const answer = parseBotAnswer(body ?? '');
      if (!answer.ok) {
        // The engine answered, wrongly: the same request would get the same answer.
        await withTenant(db, tenantId, (tx) =>
          tx.botDelivery.update({
            where: { id: deliveryId },
            data: {
              status: 'failed',
              attempts: attempt,
              responseCode,
              latencyMs,
              lastError: answer.reason,
              nextAttemptAt: null,
            },
          }),
        );
        throw new UnrecoverableError(`bot delivery ${deliveryId}: ${answer.reason}`);
      }
      return await this.applyAnswer(tenantId, deliveryId, answer.answer, {
        attempt,
        responseCode,
        latencyMs,
      });
    }
    const attemptsLeft = (job.opts.attempts ?? 1) - (job.attemptsMade + 1);
    const retryInMs = jitteredDelayMs(this.retry, job.attemptsMade + 1);
    await withTenant(db, tenantId, (tx) =>
      tx.botDelivery.update({
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
    throw new BotAttemptError(`bot delivery ${deliveryId} attempt ${attempt}: ${error}`, retryInMs);
  }

  /**
   * The engine's answer, in one transaction with the delivery's success: its replies (unless the
   * team took the conversation meanwhile) and its hand-off; then the replies' outbound jobs.
   */
  private async applyAnswer(
    tenantId: string,
    deliveryId: string,
    answer: BotAnswer,
    attempt: { attempt: number; responseCode: number | null; latencyMs: number },
  ): Promise<BotDeliveryOutcome> {
    const result = await withTenant(this.options.db, tenantId, async (tx) => {
      const delivery = await tx.botDelivery.findUniqueOrThrow({ where: { id: deliveryId } });
      const conversation = await tx.conversation.findUniqueOrThrow({
        where: { id: delivery.conversationId },
        select: { id: true, sessionId: true, assigneeId: true, automationStoppedAt: true },
      });
      const open = automationMayAnswer(conversation);
      const stored = open
        ? await storeAutomatedReplies(tx, tenantId, conversation, `bot:${delivery.messageId}`, answer.replies)
        : { messageIds: [], created: 0, outboxIds: [] };
      const outboxIds = [...stored.outboxIds];
      if (open && answer.handoff) {
        const stopped = await stopAutomation(tx, tenantId, conversation.id, 'bot');
        outboxIds.push(...stopped.outboxIds);
        if (stopped.changed)
          await tx.auditLogEntry.create({
            data: {
              tenantId,
              actorType: 'system',
              actorId: null,
              action: 'conversation.automation_stopped',
              targetType: 'conversation',
              targetId: conversation.id,
              metadata: { via: 'bot', deliveryId },
            },
          });
      }
      await tx.botDelivery.update({
        where: { id: deliveryId },
        data: {
          status: 'succeeded',
          attempts: attempt.attempt,
          responseCode: attempt.responseCode,
          latencyMs: attempt.latencyMs,
          lastError: open
            ? null
            : 'the conversation was taken by the team before the answer: replies dropped',
          replies: stored.messageIds.length,
          deliveredAt: new Date(),
          nextAttemptAt: null,
        },
      });
      return { sessionId: conversation.sessionId, messageIds: stored.messageIds, outboxIds, open };
    });
    await this.sends.afterCommit(tenantId, result.sessionId, result.messageIds, result.outboxIds);
    return { outcome: 'answered', replies: result.messageIds.length, handoff: result.open && answer.handoff };
  }
}
