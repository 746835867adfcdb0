// Away replies: a customer's message that arrives outside the tenant's business hours gets the
// tenant's away message, at most once per conversation per window, through the normal outbound
// path (a queued message row, then its job on the session's outbound queue), unless the session's
// assistant or bot answers that customer.
import { randomUUID } from 'node:crypto';
import { tenantPausedKey } from '@switchboard/assistant';
import { type Db, type TenantTx, withTenant } from '@switchboard/db';
import {
  businessHoursSchema,
  isWithinBusinessHours,
  type OutboundJob,
  outboundJobOptions,
  QUEUE_NAMES,
  queuePrefix,
  REALTIME_EVENT_FIELD,
  realtimeEventSchema,
  realtimeStreamKey,
  writeOutbox,
} from '@switchboard/messaging';
import { queueTelemetry } from '@switchboard/telemetry';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

/** Options of {@link AwayReplier}. */
export interface AwayReplierOptions {
  db: Db;
  /** A command-role connection: the outbound queues. */
  redis: Redis;
  /**
   * A connection of its own for reading the realtime stream (XREAD BLOCK holds it); without it
   * `start()` does not read, and replies happen only through {@link AwayReplier.replyIfAway}.
   */
  streamConnection?: Redis;
  tenantId: string;
  keyPrefix: string;
  /** The clock business hours and windows are read on (tests inject one). */
  now?: () => Date;
  /** Kicked with the reply's outbox row (its realtime `message.created`); else the relay's sweep performs it. */
  relay?: { kick(ids: readonly string[]): Promise<void> };
  /**
   * Whether the platform lets the AI assistant answer (ASSISTANT_ENABLED; default true): with it
   * off, a session's assistant never answers, so the away message does.
   */
  assistantEnabled?: boolean;
  /** Test-only: runs after the checks and before the claim of the window (forces two replicas' race). */
  beforeClaim?: () => Promise<void>;
  onError?: (error: unknown, context: { what: string; messageId?: string }) => void;
}

/** What {@link AwayReplier.replyIfAway} did with a message. */
export type AwayReplyOutcome =
  | { outcome: 'replied'; replyId: string }
  | { outcome: 'off' | 'not-customer-message' | 'within-hours' | 'within-window' | 'automation-answers' };

/**
 * Sends the away reply for customers' messages outside business hours. Every worker replica runs
 * one and reads every `message.created` of the tenant's realtime stream, so each customer message
 * is seen by all of them; the window's claim decides which replica replies: one statement,
 * `INSERT ... ON CONFLICT DO UPDATE ... WHERE` the last reply is older than the window, in the
 * transaction that creates the reply's message row. A second replica's claim waits for the first's
 * commit on the conflicting row, then finds the window taken and replies nothing.
 */
export class AwayReplier {
  private readonly options: AwayReplierOptions;
  private readonly queues = new Map<string, Queue>();
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(options: AwayReplierOptions) {
    this.options = options;
  }

  /**
   * Whether the session's automation answers the conversation's customer now: its bot when on and
   * nobody on the team has the conversation; its assistant when on, the tenant has a provider, the
   * platform and the tenant kill switches are off and, answering `until_agent`, no agent has it.
   * Neither when automation was stopped for the conversation (a hand-off). A spent budget is not
   * looked at: the assistant then answers nothing, and neither does the away message.
   */
  private async automationAnswers(
    tx: TenantTx,
    message: { sessionId: string; conversationId: string },
  ): Promise<boolean> {
    const { tenantId } = this.options;
    const conversation = await tx.conversation.findUnique({
      where: { id: message.conversationId },
      select: { assigneeId: true, automationStoppedAt: true },
    });
    if (!conversation || conversation.automationStoppedAt !== null) return false;
    const session = { tenantId_sessionId: { tenantId, sessionId: message.sessionId } };
    const bot = await tx.sessionBotSettings.findUnique({ where: session, select: { enabled: true } });
    if (bot?.enabled && conversation.assigneeId === null) return true;
    if (this.options.assistantEnabled === false) return false;
    const assistant = await tx.sessionAssistantSettings.findUnique({
      where: session,
      select: { enabled: true, answerMode: true },
    });
    if (!assistant?.enabled) return false;
    if (!(await tx.assistantTenantSettings.findUnique({ where: { tenantId }, select: { tenantId: true } })))
      return false;
    if ((await this.options.redis.exists(tenantPausedKey(this.options.keyPrefix))) === 1) return false;
    if (assistant.answerMode !== 'until_agent') return true;
    if (conversation.assigneeId !== null) return false;
    const agentReplied = await tx.message.findFirst({
      where: { conversationId: message.conversationId, direction: 'outbound', sentById: { not: null } },
      select: { id: true },
    });
    return agentReplied === null;
  }

  /** Reads the realtime stream from now on and answers customers' new messages. */
  start(): void {
    const stream = this.options.streamConnection;
    if (this.running || !stream) return;
    this.running = true;
    this.loop = this.read(stream);
  }

  async close(): Promise<void> {
    this.running = false;
    // Ends a blocked XREAD at once (the connection is this replier's alone).
    this.options.streamConnection?.disconnect();
    await this.loop?.catch(() => undefined);
    await Promise.all([...this.queues.values()].map((queue) => queue.close()));
    this.queues.clear();
  }

  private async read(stream: Redis): Promise<void> {
    const key = realtimeStreamKey(this.options.keyPrefix);
    let last = '$';
    while (this.running) {
      try {
        const batch = (await stream.xread('COUNT', 100, 'BLOCK', 5_000, 'STREAMS', key, last)) as
          | [string, [string, string[]][]][]
          | null;
        for (const [id, fields] of batch?.[0]?.[1] ?? []) {
          last = id;
          const raw = fields[fields.indexOf(REALTIME_EVENT_FIELD) + 1];
          const parsed = realtimeEventSchema.safeParse(raw === undefined ? undefined : JSON.parse(raw));
          if (!parsed.success || parsed.data.type !== 'message.created') continue;
          if (parsed.data.data.direction !== 'inbound') continue;
          const messageId = parsed.data.data.messageId;
          await this.replyIfAway(messageId).catch((error: unknown) =>
            this.options.onError?.(error, { what: 'away reply', messageId }),
          );
        }
      } catch (error) {
        if (!this.running) return;
        this.options.onError?.(error, { what: 'read realtime stream' });
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
  }

  /**
   * Answers message `messageId` with the away message when it is a customer's message, the
   * tenant's away replies are on, the clock is outside business hours, and its conversation had
   * no away reply within the window. The reply is a queued outbound message (with its realtime
   * `message.created` in the outbox) committed with the window's claim, then its job is added
   * (jobId from the message id: adding it twice is harmless; a crash before the add leaves a
   * queued message, which the session's consumer re-enqueues when it starts).
   */
  async replyIfAway(messageId: string): Promise<AwayReplyOutcome> {
    const { db, tenantId } = this.options;
    const now = this.options.now?.() ?? new Date();
    const result = await withTenant(db, tenantId, async (tx) => {
      const row = await tx.businessHours.findUnique({ where: { tenantId } });
      const hours = row
        ? businessHoursSchema.safeParse({
            enabled: row.enabled,
            timeZone: row.timeZone,
            schedule: row.schedule,
            awayMessage: row.awayMessage,
            awayWindowMinutes: row.awayWindowMinutes,
          })
        : undefined;
      if (!hours?.success || !hours.data.enabled || hours.data.awayMessage === null)
        return { outcome: 'off' } as const;
      const message = await tx.message.findUnique({
        where: { id: messageId },
        select: { direction: true, type: true, conversationId: true, sessionId: true, senderJid: true },
      });
      // A reaction or a call line (services/worker calls.ts) is not a message to answer, and
      // neither is anything in a WhatsApp group (a message with a sender, a group event line).
      if (
        message?.direction !== 'inbound' ||
        message.type === 'reaction' ||
        message.type === 'call' ||
        message.type === 'group_event' ||
        message.senderJid !== null
      )
        return { outcome: 'not-customer-message' } as const;
      if (isWithinBusinessHours(hours.data, now)) return { outcome: 'within-hours' } as const;
      // The session's assistant or bot answers this customer: one answer, not two.
      if (await this.automationAnswers(tx, message)) return { outcome: 'automation-answers' } as const;
      await this.options.beforeClaim?.();
      const replyId = randomUUID();
      const claimed = await tx.$queryRaw<{ message_id: string }[]>`
        INSERT INTO away_replies (tenant_id, conversation_id, sent_at, message_id)
        VALUES (${tenantId}::uuid, ${message.conversationId}::uuid, ${now}, ${replyId}::uuid)
        ON CONFLICT (tenant_id, conversation_id) DO UPDATE
           SET sent_at = EXCLUDED.sent_at, message_id = EXCLUDED.message_id
         WHERE away_replies.sent_at <= EXCLUDED.sent_at - make_interval(mins => ${hours.data.awayWindowMinutes}::int)
        RETURNING message_id::text`;
      if (claimed.length === 0) return { outcome: 'within-window' } as const;
      const reply = await tx.message.create({
        data: {
          id: replyId,
          tenantId,
          sessionId: message.sessionId,
          conversationId: message.conversationId,
          direction: 'outbound',
          status: 'queued',
          type: 'text',
          body: hours.data.awayMessage,
        },
      });
      await tx.conversation.update({
        where: { id: message.conversationId },
        data: { lastMessageAt: reply.createdAt },
      });
      const outboxIds = await writeOutbox(tx, tenantId, [
        {
          kind: 'realtime.event',
          payload: {
            type: 'message.created',
            at: reply.createdAt.toISOString(),
            data: {
              messageId: replyId,
              conversationId: message.conversationId,
              sessionId: message.sessionId,
              direction: 'outbound',
            },
          },
        },
      ]);
      return { outcome: 'replied', replyId, sessionId: message.sessionId, outboxIds } as const;
    });
    if (result.outcome !== 'replied') return result;
    void this.options.relay
      ?.kick(result.outboxIds)
      .catch((error: unknown) => this.options.onError?.(error, { what: 'kick outbox', messageId }));
    const job: OutboundJob = { kind: 'send', tenantId, messageId: result.replyId };
    await this.queue(result.sessionId).add('send', job, outboundJobOptions(job));
    return { outcome: 'replied', replyId: result.replyId };
  }

  private queue(sessionId: string): Queue {
    let queue = this.queues.get(sessionId);
    if (!queue) {
      queue = new Queue(QUEUE_NAMES.outbound(sessionId), {
        connection: this.options.redis,
        prefix: queuePrefix(this.options.keyPrefix),
        telemetry: queueTelemetry(),
      });
      this.queues.set(sessionId, queue);
    }
    return queue;
  }
}
