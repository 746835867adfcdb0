import type { TenantTx } from '@switchboard/db';
import { currentTraceparent, traceContextFromTraceparent } from '@switchboard/telemetry';
import { z } from 'zod';
import {
  type MediaDownloadJob,
  mediaDownloadJobSchema,
  type RealtimeEvent,
  realtimeEventSchema,
} from '../contracts.ts';

/**
 * The effects that must follow an inbound commit, as rows of the `outbox` table written in the
 * same transaction as what they announce. The relay (relay.ts) performs them after the commit
 * and deletes each row once its effect happened; every effect is idempotent at its destination,
 * so a row performed twice (a relay that died between the effect and the delete) is seen once.
 * Each row keeps the W3C traceparent of the span that wrote it, so whichever relay performs it,
 * right after the commit or in a sweep after a crash, continues the trace of the commit.
 */

const uuid = z.uuid({ error: 'must be a uuid' });

/** Every kind of outbox row, with the payload it carries. */
export const outboxPayloadSchemas = {
  /** Append a realtime event to the tenant's stream (once per row: a marker keyed by the row id). */
  'realtime.event': realtimeEventSchema,
  /** Add the BullMQ jobs of webhook_deliveries rows created in the same transaction (jobId = delivery). */
  'webhook.enqueue': z.strictObject({ deliveryIds: z.array(uuid).min(1, 'must name a delivery') }),
  /** Add the media download job of a stored message (jobId = `media-<message id>`). */
  'media.download': mediaDownloadJobSchema,
} as const;

/** The kind of an outbox row (matches the table's CHECK: `^[a-z][a-z0-9.-]*$`). */
export type OutboxKind = keyof typeof outboxPayloadSchemas;

/** What every effect may carry beside its kind and payload. */
interface OutboxEffectTrace {
  /**
   * The W3C traceparent the effect continues (default: the active span's, when tracing is on).
   * A malformed value is not stored.
   */
  traceparent?: string;
}

/** One effect to write into the outbox. */
export type OutboxEffect = OutboxEffectTrace &
  (
    | { kind: 'realtime.event'; payload: RealtimeEvent }
    | { kind: 'webhook.enqueue'; payload: { deliveryIds: string[] } }
    | { kind: 'media.download'; payload: MediaDownloadJob }
  );

/** An outbox row as the relay reads it, its payload validated for its kind (and its traceparent, when valid). */
export type ParsedOutboxEntry = OutboxEffect & { id: string; attempts: number };

/** Whether `kind` is one this relay knows. */
export function isOutboxKind(kind: string): kind is OutboxKind {
  return Object.hasOwn(outboxPayloadSchemas, kind);
}

/**
 * Validates a row read back from the table: the payload is external input by the time it is read
 * (another version may have written it). Throws naming the kind and the field.
 */
export function parseOutboxEntry(row: {
  id: string;
  kind: string;
  payload: unknown;
  attempts: number;
  /** The row's `traceparent` column; a malformed one is dropped (the effect then starts a trace). */
  traceparent?: string | null;
}): ParsedOutboxEntry {
  if (!isOutboxKind(row.kind)) throw new Error(`outbox row ${row.id}: unknown kind "${row.kind}"`);
  const parsed = outboxPayloadSchemas[row.kind].safeParse(row.payload);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`)
      .join('; ');
    throw new Error(`outbox row ${row.id} (${row.kind}): ${issues}`);
  }
  const traceparent = traceContextFromTraceparent(row.traceparent) ? row.traceparent! : undefined;
  return {
    id: row.id,
    attempts: row.attempts,
    kind: row.kind,
    payload: parsed.data,
    ...(traceparent ? { traceparent } : {}),
  } as ParsedOutboxEntry;
}

/**
 * Writes effects into the outbox inside the caller's transaction (validated first, so a malformed
 * effect aborts the transaction instead of poisoning the relay), each with the traceparent it
 * continues: its own, else the active span's. Returns the row ids in order.
 */
export async function writeOutbox(
  tx: TenantTx,
  tenantId: string,
  effects: OutboxEffect[],
): Promise<string[]> {
  if (effects.length === 0) return [];
  const active = currentTraceparent();
  // One INSERT: created_at is clock_timestamp(), evaluated row by row, so the relay's
  // oldest-first scan performs a transaction's effects in the order they were written.
  const rows = await tx.outboxEntry.createManyAndReturn({
    data: effects.map((effect) => {
      const traceparent =
        effect.traceparent !== undefined && traceContextFromTraceparent(effect.traceparent)
          ? effect.traceparent
          : active;
      return {
        tenantId,
        kind: effect.kind,
        payload: outboxPayloadSchemas[effect.kind].parse(effect.payload),
        ...(traceparent ? { traceparent } : {}),
      };
    }),
    select: { id: true },
  });
  const ids = rows.map((row) => row.id);
  return ids;
}
