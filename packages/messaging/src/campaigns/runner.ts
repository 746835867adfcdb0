// The campaign runner: queues each running campaign's pending recipients through the normal
// outbound path (a queued template message, then its job on the session's outbound queue),
// paced per minute, exactly once per (campaign, contact) across crashes and replicas.
import { randomUUID } from 'node:crypto';
import { type Db, type TenantTx, withTenant } from '@switchboard/db';
import type { Redis } from 'ioredis';
import { conversationForNumber } from '../inbound/identities.ts';
import { DEFAULT_OUTBOUND_LIMITS, type OutboundLimits } from '../outbound/rate-limit.ts';
import { outboundCreatedEffect, SendJobs } from '../outbound/send-jobs.ts';
import { writeOutbox } from '../outbox/entries.ts';
import {
  campaignIdempotencyKey,
  campaignTemplateSchema,
  optedOut,
  recordCampaignProgress,
} from './campaigns.ts';

/** Options of {@link CampaignRunner}. */
export interface CampaignRunnerOptions {
  db: Db;
  /** A command-role connection: the outbound queues. */
  redis: Redis;
  tenantId: string;
  keyPrefix: string;
  /**
   * The session's outbound limits (the consumer enforces them per send): a campaign queues at
   * most `perSessionPerMinute` a minute, so it never fills the queue ahead of agents' replies.
   */
  limits?: OutboundLimits;
  /** At most this many recipients per transaction (default 50). */
  batchSize?: number;
  /**
   * Test-only: runs after a batch's commit and before its jobs are added (a test holds the
   * process here and kill -9s it: the crash between the two, forced without timing).
   */
  afterCommit?: (messageIds: string[]) => Promise<void>;
  onError?: (error: unknown, context: { what: string; campaignId?: string }) => void;
}

/** What one {@link CampaignRunner.tick} did to one campaign. */
export interface CampaignTickResult {
  campaignId: string;
  queued: number;
  skipped: number;
  completed: boolean;
}

/**
 * Runs a tenant's campaigns. Exactly once per recipient: a recipient row is taken `FOR UPDATE
 * SKIP LOCKED` (another replica's runner skips it), and its message (idempotency key
 * `campaign:<campaign>:<contact>`, unique per tenant) is created in the same transaction that
 * marks the row `queued`; a crash before the commit leaves it pending (nothing was created), one
 * after the commit leaves a queued message, whose job {@link CampaignRunner.recover} adds again
 * (the jobId makes a second add a no-op, and the consumer sends a message only while `queued`).
 */
export class CampaignRunner {
  private readonly options: CampaignRunnerOptions;
  private readonly sends: SendJobs;

  constructor(options: CampaignRunnerOptions) {
    this.options = options;
    this.sends = new SendJobs({ connection: options.redis, keyPrefix: options.keyPrefix });
  }

  /**
   * Adds the jobs of campaign messages still `queued` (their job may never have been added: a
   * crash between the commit and the add). Returns how many it added.
   */
  async recover(): Promise<number> {
    const { db, tenantId } = this.options;
    const rows = await withTenant(
      db,
      tenantId,
      (tx) =>
        tx.$queryRaw<{ id: string; sessionId: string }[]>`
        SELECT m.id::text AS id, m.session_id::text AS "sessionId"
          FROM campaign_recipients r
          JOIN campaigns c ON c.tenant_id = r.tenant_id AND c.id = r.campaign_id
          JOIN messages m ON m.tenant_id = r.tenant_id AND m.id = r.message_id
         WHERE c.status IN ('running', 'paused', 'completed') AND r.state = 'queued' AND m.status = 'queued'`,
    );
    await this.enqueue(rows);
    return rows.length;
  }

  /** Queues the next allowance of every running campaign; completes those with none pending. */
  async tick(): Promise<CampaignTickResult[]> {
    const { db, tenantId } = this.options;
    const running = await withTenant(db, tenantId, (tx) =>
      tx.campaign.findMany({
        where: { status: 'running' },
        select: { id: true },
        orderBy: { createdAt: 'asc' },
      }),
    );
    const results: CampaignTickResult[] = [];
    for (const { id } of running) {
      try {
        results.push(await this.runCampaign(id));
      } catch (error) {
        this.options.onError?.(error, { what: 'campaign batch', campaignId: id });
      }
    }
    return results;
  }

  /** One batch of campaign `campaignId`: up to its per-minute allowance. */
  async runCampaign(campaignId: string): Promise<CampaignTickResult> {
    const { db, tenantId } = this.options;
    const limits = this.options.limits ?? DEFAULT_OUTBOUND_LIMITS;
    const batchSize = this.options.batchSize ?? 50;
    const batch = await withTenant(db, tenantId, async (tx) => {
      // Shared: a pause or cancel (an UPDATE of the row) waits for this batch, then holds.
      const [campaign] = await tx.$queryRaw<
        { id: string; status: string; sessionId: string; template: unknown; perMinute: number }[]
      >`SELECT id::text, status, session_id::text AS "sessionId", template, per_minute AS "perMinute"
          FROM campaigns WHERE id = ${campaignId}::uuid FOR SHARE`;
      if (campaign?.status !== 'running') return undefined;
      const template = campaignTemplateSchema.parse(campaign.template);
      const [recent] = await tx.$queryRaw<{ n: number }[]>`
        SELECT count(*)::int AS n FROM campaign_recipients
         WHERE campaign_id = ${campaignId}::uuid AND state = 'queued'
           AND updated_at > now() - interval '1 minute'`;
      const allowance = Math.min(
        batchSize,
        Math.min(campaign.perMinute, limits.perSessionPerMinute) - (recent?.n ?? 0),
        await messagingLimitLeft(tx, campaign.sessionId),
      );
      const pending =
        allowance <= 0
          ? []
          : await tx.$queryRaw<{ contactId: string; phoneNumber: string }[]>`
              SELECT contact_id::text AS "contactId", phone_number AS "phoneNumber"
                FROM campaign_recipients
               WHERE campaign_id = ${campaignId}::uuid AND state = 'pending'
               ORDER BY contact_id
               LIMIT ${allowance}
                 FOR UPDATE SKIP LOCKED`;
      const out = await optedOut(
        tx,
        tenantId,
        pending.map((p) => p.contactId),
      );
      const queued: { id: string; sessionId: string }[] = [];
      const created: Parameters<typeof outboundCreatedEffect>[0][] = [];
      let skipped = 0;
      for (const recipient of pending) {
        const where = {
          tenantId_campaignId_contactId: { tenantId, campaignId, contactId: recipient.contactId },
        };
        if (out.has(recipient.contactId)) {
          await tx.campaignRecipient.update({ where, data: { state: 'skipped', reason: 'opted_out' } });
          skipped++;
          continue;
        }
        const key = campaignIdempotencyKey(campaignId, recipient.contactId);
        // The recipient is pending, so no message has this key (they commit together); the read
        // keeps a hand-edited row from failing the batch on the unique index.
        let message = await tx.message.findFirst({ where: { idempotencyKey: key } });
        if (!message) {
          const conversationId = await conversationForNumber(
            tx,
            tenantId,
            campaign.sessionId,
            recipient.phoneNumber,
          );
          message = await tx.message.create({
            data: {
              id: randomUUID(),
              tenantId,
              sessionId: campaign.sessionId,
              conversationId,
              direction: 'outbound',
              status: 'queued',
              type: 'template',
              body: template.body,
              template: {
                name: template.name,
                language: template.language,
                components: template.components as never,
              },
              idempotencyKey: key,
            },
          });
          await tx.conversation.update({
            where: { id: conversationId },
            data: { lastMessageAt: message.createdAt },
          });
          created.push(message);
        }
        await tx.campaignRecipient.update({ where, data: { state: 'queued', messageId: message.id } });
        queued.push({ id: message.id, sessionId: message.sessionId });
      }
      if (created.length > 0) await writeOutbox(tx, tenantId, created.map(outboundCreatedEffect));
      const left = await tx.campaignRecipient.count({ where: { campaignId, state: 'pending' } });
      let completed = false;
      if (left === 0) {
        await tx.campaign.update({
          where: { id: campaignId },
          data: { status: 'completed', completedAt: new Date() },
        });
        await recordCampaignProgress(
          tx,
          tenantId,
          { id: campaignId, status: 'completed' },
          'campaign.completed',
        );
        completed = true;
      } else if (pending.length > 0) {
        await recordCampaignProgress(
          tx,
          tenantId,
          { id: campaignId, status: 'running' },
          'campaign.progress',
        );
      }
      return { queued, skipped, completed };
    });
    if (!batch) return { campaignId, queued: 0, skipped: 0, completed: false };
    await this.options.afterCommit?.(batch.queued.map((q) => q.id));
    await this.enqueue(batch.queued);
    return { campaignId, queued: batch.queued.length, skipped: batch.skipped, completed: batch.completed };
  }

  async close(): Promise<void> {
    await this.sends.close();
  }

  /** Adds the send jobs of committed queued messages, session by session. */
  private async enqueue(messages: { id: string; sessionId: string }[]): Promise<void> {
    const bySession = Map.groupBy(messages, (message) => message.sessionId);
    for (const [sessionId, rows] of bySession)
      await this.sends.afterCommit(
        this.options.tenantId,
        sessionId,
        rows.map((row) => row.id),
      );
  }
}

/**
 * How many more unique customers the number of session `sessionId` may start conversations with
 * now: its messaging limit (Meta's tier, per rolling 24 hours) less the customers its template
 * messages reached in the last 24 hours (any template counts: a campaign's, the API's, a
 * scheduled one). Infinity without a limit. Conservative: a template to a customer already in an
 * open conversation counts too, though Meta would not count it.
 */
async function messagingLimitLeft(tx: TenantTx, sessionId: string): Promise<number> {
  const session = await tx.session.findUnique({ where: { id: sessionId }, select: { messagingLimit: true } });
  if (session?.messagingLimit == null) return Number.POSITIVE_INFINITY;
  const [reached] = await tx.$queryRaw<{ n: number }[]>`
    SELECT count(DISTINCT c.contact_id)::int AS n
      FROM messages m
      JOIN conversations c ON c.tenant_id = m.tenant_id AND c.id = m.conversation_id
     WHERE m.session_id = ${sessionId}::uuid AND m.direction = 'outbound' AND m.type = 'template'
       AND m.created_at > now() - interval '24 hours'`;
  return Math.max(0, session.messagingLimit - (reached?.n ?? 0));
}
