import type { TenantTx } from '@switchboard/db';
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

/** One effect to write into the outbox. */
export type OutboxEffect =
  | { kind: 'realtime.event'; payload: RealtimeEvent }
  | { kind: 'webhook.enqueue'; payload: { deliveryIds: string[] } }
  | { kind: 'media.download'; payload: MediaDownloadJob };

/** An outbox row as the relay reads it, its payload validated for its kind. */
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
}): ParsedOutboxEntry {
  if (!isOutboxKind(row.kind)) throw new Error(`outbox row ${row.id}: unknown kind "${row.kind}"`);
  const parsed = outboxPayloadSchemas[row.kind].safeParse(row.payload);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`)
      .join('; ');
    throw new Error(`outbox row ${row.id} (${row.kind}): ${issues}`);
  }
  return { id: row.id, attempts: row.attempts, kind: row.kind, payload: parsed.data } as ParsedOutboxEntry;
}

/**
 * Writes effects into the outbox inside the caller's transaction (validated first, so a malformed
 * effect aborts the transaction instead of poisoning the relay). Returns the row ids in order.
 */
export async function writeOutbox(
  tx: TenantTx,
  tenantId: string,
  effects: OutboxEffect[],
): Promise<string[]> {
  if (effects.length === 0) return [];
  // One INSERT: created_at is clock_timestamp(), evaluated row by row, so the relay's
  // oldest-first scan performs a transaction's effects in the order they were written.
  const rows = await tx.outboxEntry.createManyAndReturn({
    data: effects.map((effect) => ({
      tenantId,
      kind: effect.kind,
      payload: outboxPayloadSchemas[effect.kind].parse(effect.payload),
    })),
    select: { id: true },
  });
  const ids = rows.map((row) => row.id);
  return ids;
}
