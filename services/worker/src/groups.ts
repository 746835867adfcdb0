// WhatsApp groups of a held session: the channel's `group` events stored (a group's info as the
// channel read it; a change as a thread line with its realtime event and webhook), and the group
// operations the API asks for through the session's command queue.
import { type Channel, ChannelError, type GroupEvent, type GroupInfo } from '@switchboard/channels';
import type { Db } from '@switchboard/db';
import {
  type GroupCommandResult,
  type GroupInfoResult,
  type GroupOperation,
  recordGroupChange,
  storeGroupInfo,
} from '@switchboard/messaging';
import { UnrecoverableError } from 'bullmq';

/** Options of {@link GroupEventHandler}. */
export interface GroupEventHandlerOptions {
  db: Db;
  tenantId: string;
  /** Kicked with a change's outbox rows; else the relay's sweep performs them. */
  relay?: { kick(ids: readonly string[]): Promise<void> };
  onError?: (error: unknown, context: { sessionId: string; what: string }) => void;
}

/** What {@link GroupEventHandler.handle} did with one event. */
export type GroupEventOutcome =
  | { outcome: 'info-stored' | 'recorded-before' }
  | { outcome: 'recorded'; messageId: string; conversationId: string };

/** Stores the `group` events of every held session's channel (attach it with the session). */
export class GroupEventHandler {
  private readonly options: GroupEventHandlerOptions;

  constructor(options: GroupEventHandlerOptions) {
    this.options = options;
  }

  /**
   * Subscribes to `channel`'s group events; returns the unsubscribe. A session's events are
   * stored one after the other, in the order the channel emitted them (the lines of a thread
   * follow WhatsApp's order).
   */
  attach(sessionId: string, channel: Channel): () => void {
    let last: Promise<unknown> = Promise.resolve();
    return channel.on('group', (event) => {
      last = last.then(() =>
        this.handle(event).catch((error: unknown) =>
          this.options.onError?.(error, { sessionId, what: `store group ${event.kind}` }),
        ),
      );
      return last.then(() => undefined);
    });
  }

  async handle(event: GroupEvent): Promise<GroupEventOutcome> {
    const { db, tenantId } = this.options;
    if (event.kind === 'metadata') {
      await storeGroupInfo(db, tenantId, event.info);
      return { outcome: 'info-stored' };
    }
    const result = await recordGroupChange(db, tenantId, event);
    if (result.outcome === 'recorded-before') return result;
    void this.options.relay
      ?.kick(result.outboxIds)
      .catch((error: unknown) =>
        this.options.onError?.(error, { sessionId: event.sessionId, what: 'kick outbox' }),
      );
    return { outcome: 'recorded', messageId: result.messageId, conversationId: result.conversationId };
  }
}

/**
 * Runs one group operation on the session's channel; its result is the command job's return
 * value, which the API waits for. Every channel failure becomes unrecoverable with its code and
 * status first (`NOT_CONNECTED 503: ...`), so the API can answer with them instead of the job
 * being retried.
 * The group's info that follows (the channel emits it as a `group` metadata event) is stored by
 * {@link GroupEventHandler}.
 */
export async function runGroupOperation(
  channel: Channel,
  operation: GroupOperation,
): Promise<GroupCommandResult> {
  const groups = channel.groups;
  if (!groups)
    throw new UnrecoverableError(`GROUPS_UNSUPPORTED 422: ${channel.kind} sessions have no WhatsApp groups`);
  try {
    switch (operation.op) {
      case 'create': {
        const info = await groups.create(operation.subject, operation.participants);
        return { group: info.address, info: infoResult(info) };
      }
      case 'participants': {
        const results = await groups.updateParticipants(
          operation.group,
          operation.participants,
          operation.action,
        );
        return {
          group: operation.group,
          participants: results.map((r) => ({ phone: r.pn ?? null, status: r.status })),
        };
      }
      case 'subject':
        await groups.updateSubject(operation.group, operation.subject);
        return { group: operation.group };
      case 'refresh': {
        const info = await groups.metadata(operation.group);
        return { group: operation.group, info: infoResult(info) };
      }
    }
  } catch (error) {
    if (error instanceof ChannelError)
      throw new UnrecoverableError(`${error.code} ${error.status}: ${error.message}`);
    throw error;
  }
}

function infoResult(info: GroupInfo): GroupInfoResult {
  return {
    subject: info.subject ?? null,
    description: info.description ?? null,
    owner: info.owner?.address ?? null,
    createdAt: info.createdAt?.toISOString() ?? null,
    participants: info.participants.map((p) => ({ jid: p.address, pn: p.pn ?? null, role: p.role })),
  };
}
