// The database statements of a send, gathered across the sends in flight in a process: the reads
// (with the sending intent) that arrive while one runs go into the next single statement, and so do
// the records of `sent`. A worker's consumers (one per held session) share one SendStatements, so
// N sends in flight cost one read and one record statement per turn instead of N each. Each
// statement is one round trip (tenantSql: BEGIN, the tenant's setting, the statement and COMMIT
// pipelined on one connection).
import { type Db, type MessageStatus, Prisma, tenantSql } from '@switchboard/db';
import { traceContextFromTraceparent } from '@switchboard/telemetry';
import { providerMessageIdFor } from '../contracts.ts';
import type { OutboundMessageColumns } from './content.ts';

/** Options for {@link SendStatements}. */
export interface SendStatementsOptions {
  db: Db;
  tenantId: string;
  /** The most reads, or records, in one statement (default 100). */
  maxBatch?: number;
  /**
   * Called with the message ids of each record statement just before it runs (after their sends
   * returned). A test holds it here to force a crash between the provider's accept and the record.
   */
  beforeRecord?: (messageIds: readonly string[]) => void | Promise<void>;
  /** Told after each statement: which kind, how many sends it carried, and whether it fell back to one by one. */
  onBatch?: (batch: { kind: 'claim' | 'record'; size: number; outcome: 'committed' | 'one-by-one' }) => void;
}

/** One read of a send: the message, and whether to write its sending intent in the same statement. */
export interface SendClaim {
  messageId: string;
  sessionId: string;
  epoch: bigint;
  /** Write the intent (`SB<id hex>`) of a `queued` row of `sessionId` that has none (channels that reuse ids). */
  writeIntent: boolean;
}

/** One record of a send the channel accepted. */
export interface SendRecord {
  messageId: string;
  at: Date;
  providerMessageId: string;
  epoch: bigint;
  /** The send's traceparent, kept on the row (ignored unless well-formed). */
  traceparent: string | undefined;
}

/** The message row a send reads: its content columns, state, conversation's contact and that contact's ids. */
export interface SendRow extends OutboundMessageColumns {
  id: string;
  sessionId: string;
  conversationId: string;
  contactId: string;
  status: MessageStatus;
  providerMessageId: string | null;
  failureReason: string | null;
  updatedAt: Date;
  pn: string | null;
  lid: string | null;
  /** Whether the read's statement wrote the sending intent. */
  intentWritten: boolean;
}

/** The columns of a {@link SendRow} (messages `m`, conversations `c`). */
const SEND_ROW_COLUMNS = Prisma.sql`
  m.id::text, m.session_id::text AS "sessionId", m.conversation_id::text AS "conversationId",
  c.contact_id::text AS "contactId", m.status::text AS status,
  m.provider_message_id AS "providerMessageId", m.failure_reason AS "failureReason",
  m.updated_at AS "updatedAt", m.type::text AS type, m.body, m.reaction,
  m.reply_to_provider_message_id AS "replyToProviderMessageId", m.template, m.interactive,
  m.media_storage_key AS "mediaStorageKey", m.media_mime_type AS "mediaMimeType",
  m.media_file_name AS "mediaFileName",
  (SELECT i.value FROM contact_identities i
    WHERE i.contact_id = c.contact_id AND i.kind = 'pn' ORDER BY i.created_at LIMIT 1) AS pn,
  (SELECT i.value FROM contact_identities i
    WHERE i.contact_id = c.contact_id AND i.kind = 'lid' ORDER BY i.created_at LIMIT 1) AS lid`;

/**
 * The reads and records of a tenant's sends, each kind gathered into one statement (group commit,
 * as the inbound pipeline does): the first request waits for the next turn of the event loop, so
 * the requests of sends in flight together share it; requests that arrive while a statement runs
 * go into the next one. Nothing waits on a timer. Each request's promise settles only after the
 * statement holding it committed, so a send still starts only once its intent is committed, and a
 * job completes only once its `sent` is. A statement that fails is run again one request per
 * statement, so one message Postgres refuses fails alone.
 */
export class SendStatements {
  private readonly options: SendStatementsOptions;
  private readonly claims: Gathered<SendClaim, SendRow | undefined>;
  private readonly records: Gathered<SendRecord, boolean>;

  constructor(options: SendStatementsOptions) {
    this.options = options;
    const max = options.maxBatch ?? 100;
    const report = options.onBatch;
    this.claims = new Gathered(
      max,
      (claims) => this.claimAll(claims),
      (size, outcome) => report?.({ kind: 'claim', size, outcome }),
    );
    this.records = new Gathered(
      max,
      async (records) => {
        await options.beforeRecord?.(records.map((r) => r.messageId));
        return await this.recordAll(records);
      },
      (size, outcome) => report?.({ kind: 'record', size, outcome }),
    );
  }

  /**
   * Reads the message for its send. With `writeIntent`, the same statement writes the sending
   * intent of a `queued` row of the claim's session that has none (the row read is the one before
   * that write: `intentWritten` says it happened). Undefined when the message does not exist.
   */
  claim(claim: SendClaim): Promise<SendRow | undefined> {
    return this.claims.submit(claim);
  }

  /**
   * Records a send the channel accepted: a `queued` message moves to `sent` with the provider's id,
   * the epoch, the send time and traceparent, and its status event; a message a receipt overtook
   * (already delivered, read or failed) keeps its status and gets the send time and traceparent
   * where it has none; a scheduled message it came from becomes `sent`. True when the message moved.
   */
  record(record: SendRecord): Promise<boolean> {
    return this.records.submit(record);
  }

  private async claimAll(claims: readonly SendClaim[]): Promise<(SendRow | undefined)[]> {
    const { db, tenantId } = this.options;
    const rows = await tenantSql<SendRow>(
      db,
      tenantId,
      Prisma.sql`
          WITH req AS (
            SELECT * FROM unnest(${claims.map((c) => c.messageId)}::uuid[], ${claims.map((c) => c.sessionId)}::uuid[],
                                 ${claims.map((c) => (c.writeIntent ? providerMessageIdFor(c.messageId) : null))}::text[],
                                 ${claims.map((c) => String(c.epoch))}::bigint[]) AS r(id, session_id, intent, epoch)
          ), intent AS (
            UPDATE messages m SET provider_message_id = r.intent, epoch = r.epoch, updated_at = now()
              FROM req r
             WHERE m.id = r.id AND r.intent IS NOT NULL AND m.session_id = r.session_id AND m.status = 'queued'
               AND m.provider_message_id IS NULL
            RETURNING m.id
          )
          SELECT ${SEND_ROW_COLUMNS}, EXISTS (SELECT 1 FROM intent WHERE intent.id = m.id) AS "intentWritten"
            FROM messages m JOIN conversations c ON c.id = m.conversation_id
           WHERE m.id IN (SELECT id FROM req)`,
    );
    const byId = new Map(rows.map((row) => [row.id, row]));
    return claims.map((claim) => byId.get(claim.messageId));
  }

  /**
   * The records of many sends in one statement: the rows locked first (`FOR UPDATE`, in id order,
   * so two statements over the same rows cannot deadlock), which makes each status read and its
   * update one step against concurrent receipts.
   */
  private async recordAll(records: readonly SendRecord[]): Promise<boolean[]> {
    const { db, tenantId } = this.options;
    // One request per message (a repeat would be a second job for it): the first one's values.
    const seen = new Set<string>();
    const first = records.filter((r) => !seen.has(r.messageId) && seen.add(r.messageId));
    const traceparent = (r: SendRecord) =>
      traceContextFromTraceparent(r.traceparent) ? (r.traceparent ?? null) : null;
    const rows = await tenantSql<{ id: string; applied: boolean }>(
      db,
      tenantId,
      Prisma.sql`
          WITH req AS (
            SELECT * FROM unnest(${first.map((r) => r.messageId)}::uuid[], ${first.map((r) => r.at)}::timestamptz[],
                                 ${first.map((r) => r.providerMessageId)}::text[], ${first.map((r) => String(r.epoch))}::bigint[],
                                 ${first.map(traceparent)}::text[]) AS r(id, at, provider_message_id, epoch, traceparent)
          ), prev AS (
            SELECT m.id, m.status FROM messages m WHERE m.id IN (SELECT id FROM req) ORDER BY m.id FOR UPDATE
          ), moved AS (
            UPDATE messages m SET
              status = CASE WHEN prev.status = 'queued' THEN 'sent'::message_status ELSE m.status END,
              sent_at = CASE WHEN prev.status = 'queued' THEN r.at ELSE coalesce(m.sent_at, r.at) END,
              provider_message_id = CASE WHEN prev.status = 'queued' THEN r.provider_message_id ELSE m.provider_message_id END,
              epoch = CASE WHEN prev.status = 'queued' THEN r.epoch ELSE m.epoch END,
              send_traceparent = CASE WHEN prev.status = 'queued' THEN coalesce(r.traceparent, m.send_traceparent)
                                      ELSE coalesce(m.send_traceparent, r.traceparent) END,
              updated_at = now()
            FROM prev JOIN req r ON r.id = prev.id
            WHERE m.id = prev.id
            RETURNING m.id, r.at, prev.status = 'queued' AS applied
          ), event AS (
            INSERT INTO message_status_events (tenant_id, message_id, status, occurred_at)
            SELECT ${tenantId}::uuid, id, 'sent', at FROM moved WHERE applied
          ), scheduled AS (
            UPDATE scheduled_messages s SET status = 'sent', updated_at = now()
              FROM req WHERE s.message_id = req.id AND s.status = 'scheduled'
          )
          SELECT id::text AS id, applied FROM moved`,
    );
    const applied = new Map(rows.map((row) => [row.id, row.applied]));
    const answered = new Set<string>();
    // A repeated request of one message answers false after the first (it moved nothing itself).
    return records.map((r) => {
      const moved = !answered.has(r.messageId) && (applied.get(r.messageId) ?? false);
      answered.add(r.messageId);
      return moved;
    });
  }
}

/**
 * A FIFO of requests worked one statement at a time: what is queued when a statement starts (at
 * most `max`) goes into it. The first request of an idle queue waits for the next turn of the event
 * loop, so the requests of one turn share a statement. A failed statement of several requests is
 * run again per request, so each one's promise settles with its own outcome.
 */
class Gathered<I, O> {
  private readonly queue: { item: I; resolve: (out: O) => void; reject: (error: unknown) => void }[] = [];
  private working = false;
  private readonly max: number;
  private readonly run: (items: readonly I[]) => Promise<O[]>;
  private readonly report: (size: number, outcome: 'committed' | 'one-by-one') => void;

  constructor(
    max: number,
    run: (items: readonly I[]) => Promise<O[]>,
    report: (size: number, outcome: 'committed' | 'one-by-one') => void,
  ) {
    this.max = max;
    this.run = run;
    this.report = report;
  }

  submit(item: I): Promise<O> {
    const settled = new Promise<O>((resolve, reject) => this.queue.push({ item, resolve, reject }));
    if (!this.working) {
      this.working = true;
      setImmediate(() => void this.work());
    }
    return settled;
  }

  private async work(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.max);
      try {
        const out = await this.run(batch.map((entry) => entry.item));
        this.report(batch.length, 'committed');
        for (const [i, entry] of batch.entries()) entry.resolve(out[i]!);
      } catch (error) {
        if (batch.length === 1) {
          batch[0]!.reject(error);
          continue;
        }
        this.report(batch.length, 'one-by-one');
        for (const entry of batch) {
          try {
            const [out] = await this.run([entry.item]);
            entry.resolve(out!);
          } catch (alone) {
            entry.reject(alone);
          }
        }
      }
    }
    this.working = false;
  }
}
