// Incoming WhatsApp calls of a held session: declined at once when the session says so (with an
// optional text answered in the chat), and a missed or declined call recorded in the caller's
// conversation as a line of type `call`, with its realtime event and `call.received` webhook.
import type { CallEvent, Channel } from '@switchboard/channels';
import { type Db, withTenant } from '@switchboard/db';
import {
  outboundCreatedEffect,
  recordWebhookEvent,
  SendJobs,
  upsertContact,
  upsertConversation,
  writeOutbox,
} from '@switchboard/messaging';
import type { Redis } from 'ioredis';

/** Options of {@link CallHandler}. */
export interface CallHandlerOptions {
  db: Db;
  /** A command-role connection: the outbound queues. */
  redis: Redis;
  tenantId: string;
  keyPrefix: string;
  /** Kicked with the call line's outbox rows; else the relay's sweep performs them. */
  relay?: { kick(ids: readonly string[]): Promise<void> };
  onError?: (error: unknown, context: { sessionId: string; what: string }) => void;
}

/** What {@link CallHandler.handle} did with one call event. */
export type CallOutcome =
  | { outcome: 'rejected' | 'missed'; messageId: string; replyId?: string }
  | { outcome: 'recorded-before' | 'ignored' };

/** The line shown in the thread. */
function callLine(call: CallEvent, outcome: 'rejected' | 'missed'): string {
  const kind = call.isVideo ? 'video call' : 'voice call';
  return outcome === 'missed' ? `Missed ${kind}` : `Declined ${kind}`;
}

/**
 * Handles the `call` events of every held session's channel (attach it with the session). An
 * offer, on a session whose settings say so, is declined through the channel, then recorded as
 * `rejected` with the reply text queued on the outbound path; a `timeout` (nobody answered) is
 * recorded as `missed`, a `reject` (declined on the phone) as `rejected`. Each call is one line:
 * its provider id is `call-<call id>`, so a repeat or a second status of the same call records
 * nothing more. Offers delivered while offline (calls already over) are not declined.
 */
export class CallHandler {
  private readonly options: CallHandlerOptions;
  private readonly sends: SendJobs;

  constructor(options: CallHandlerOptions) {
    this.options = options;
    this.sends = new SendJobs({
      connection: options.redis,
      keyPrefix: options.keyPrefix,
      relay: options.relay,
      onError: options.onError,
    });
  }

  /** Subscribes to `channel`'s calls; returns the unsubscribe. */
  attach(sessionId: string, channel: Channel): () => void {
    return channel.on('call', (call) =>
      this.handle(channel, call).then(
        () => undefined,
        (error: unknown) => this.options.onError?.(error, { sessionId, what: 'handle call' }),
      ),
    );
  }

  async handle(channel: Channel, call: CallEvent): Promise<CallOutcome> {
    if (call.status === 'timeout') return await this.record(call, 'missed', null);
    if (call.status !== 'offer' && call.status !== 'reject') return { outcome: 'ignored' };
    const { db, tenantId } = this.options;
    const settings = await withTenant(db, tenantId, (tx) =>
      tx.sessionCallSettings.findUnique({
        where: { tenantId_sessionId: { tenantId, sessionId: call.sessionId } },
      }),
    );
    const declining = settings?.rejectCalls === true && channel.rejectCall !== undefined;
    // WhatsApp's `reject` that follows our own decline is left to the offer's handling, which
    // records the line with the auto-reply; a decline on the phone is recorded here.
    if (call.status === 'reject')
      return declining ? { outcome: 'ignored' } : await this.record(call, 'rejected', null);
    if (!declining || call.offline) return { outcome: 'ignored' };
    await channel.rejectCall!({ callId: call.callId, from: call.from });
    return await this.record(call, 'rejected', settings?.replyText ?? null);
  }

  /** One transaction: the call line (once per call), its realtime event and webhook, the reply row. */
  private async record(
    call: CallEvent,
    outcome: 'rejected' | 'missed',
    replyText: string | null,
  ): Promise<CallOutcome> {
    const { db, tenantId } = this.options;
    const result = await withTenant(db, tenantId, async (tx) => {
      const contactId = await upsertContact(tx, tenantId, call.caller, { sessionId: call.sessionId });
      const conversationId = await upsertConversation(tx, tenantId, call.sessionId, contactId, call.at, 1);
      const inserted = await tx.$queryRaw<{ id: string }[]>`
        INSERT INTO messages (tenant_id, session_id, conversation_id, direction, provider_message_id, status,
                              type, body, provider_timestamp, delivered_at)
        VALUES (${tenantId}::uuid, ${call.sessionId}::uuid, ${conversationId}::uuid, 'inbound',
                ${`call-${call.callId}`}, 'delivered', 'call', ${callLine(call, outcome)}, ${call.at}, ${call.at})
        ON CONFLICT (session_id, provider_message_id) DO NOTHING
        RETURNING id::text AS id`;
      const messageId = inserted[0]?.id;
      if (!messageId) return undefined;
      const reply = replyText
        ? await tx.message.create({
            data: {
              tenantId,
              sessionId: call.sessionId,
              conversationId,
              direction: 'outbound',
              status: 'queued',
              type: 'text',
              body: replyText,
            },
          })
        : undefined;
      const outboxIds = await writeOutbox(tx, tenantId, [
        {
          kind: 'realtime.event',
          payload: {
            type: 'message.created',
            at: new Date().toISOString(),
            data: { messageId, conversationId, sessionId: call.sessionId, direction: 'inbound' },
          },
        },
        ...(reply ? [outboundCreatedEffect(reply)] : []),
      ]);
      outboxIds.push(
        ...(await recordWebhookEvent(tx, tenantId, {
          type: 'call.received',
          data: {
            sessionId: call.sessionId,
            callId: call.callId,
            from: call.caller.pn ?? call.caller.lid ?? call.from,
            isVideo: call.isVideo,
            outcome,
            conversationId,
            messageId,
            ...(reply ? { replyMessageId: reply.id } : {}),
            at: call.at.toISOString(),
          },
        })),
      );
      return { messageId, replyId: reply?.id, outboxIds };
    });
    if (!result) return { outcome: 'recorded-before' };
    await this.sends.afterCommit(
      tenantId,
      call.sessionId,
      result.replyId ? [result.replyId] : [],
      result.outboxIds,
    );
    return {
      outcome,
      messageId: result.messageId,
      ...(result.replyId ? { replyId: result.replyId } : {}),
    };
  }

  async close(): Promise<void> {
    await this.sends.close();
  }
}
