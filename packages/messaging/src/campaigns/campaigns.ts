// Campaigns (issue #20.3): an approved template sent to a segment of contacts through one Cloud
// API session. This file holds what the API and the worker's runner share: the segment and
// template shapes, resolving a segment into recipients, opt-outs, and a campaign's counts.
import { Prisma, type TenantTx } from '@switchboard/db';
import { z } from 'zod';
import { recordWebhookEvent } from '../webhooks/events.ts';

/** Who a campaign goes to. */
export const campaignSegmentSchema = z.discriminatedUnion('type', [
  z
    .strictObject({ type: z.literal('label'), labelId: z.uuid() })
    .describe('Contacts with the label, or with a conversation that has it.'),
  z.strictObject({ type: z.literal('import'), importId: z.uuid() }).describe('The contacts of a CSV import.'),
  z
    .strictObject({ type: z.literal('recent'), days: z.number().int().min(1).max(365) })
    .describe('Contacts with a conversation that had a message in the last `days` days.'),
]);
export type CampaignSegment = z.infer<typeof campaignSegmentSchema>;

/** The template a campaign sends, as stored on the campaign (`body`: the rendered text the thread shows). */
export const campaignTemplateSchema = z.object({
  name: z.string(),
  language: z.string(),
  components: z.array(z.unknown()),
  body: z.string(),
});
export type CampaignTemplate = z.infer<typeof campaignTemplateSchema>;

/** A campaign's state. */
export type CampaignStatus = 'running' | 'paused' | 'cancelled' | 'completed';

/** The opt-out keywords when the tenant set none. */
export const DEFAULT_OPT_OUT_KEYWORDS = ['STOP', 'UNSUBSCRIBE'];

/** The opt-in keywords (back in after an opt-out) when the tenant set none. */
export const DEFAULT_OPT_IN_KEYWORDS = ['START', 'UNSTOP'];

/** The idempotency key of a campaign's message to one contact: one message per (campaign, contact). */
export function campaignIdempotencyKey(campaignId: string, contactId: string): string {
  return `campaign:${campaignId}:${contactId}`;
}

/** The contacts of `segment` with their phone number (the oldest `pn` identity; null when none). */
export async function resolveSegment(
  tx: TenantTx,
  segment: CampaignSegment,
): Promise<{ contactId: string; phoneNumber: string | null }[]> {
  let contacts: Prisma.Sql;
  switch (segment.type) {
    case 'label':
      contacts = Prisma.sql`
        SELECT contact_id AS id FROM contact_labels WHERE label_id = ${segment.labelId}::uuid
        UNION
        SELECT c.contact_id FROM conversation_labels cl
          JOIN conversations c ON c.tenant_id = cl.tenant_id AND c.id = cl.conversation_id
         WHERE cl.label_id = ${segment.labelId}::uuid`;
      break;
    case 'import':
      contacts = Prisma.sql`
        SELECT unnest(contact_ids) AS id FROM contact_imports WHERE id = ${segment.importId}::uuid`;
      break;
    case 'recent':
      contacts = Prisma.sql`
        SELECT DISTINCT contact_id AS id FROM conversations
         WHERE last_message_at > now() - make_interval(days => ${segment.days}::int)`;
      break;
  }
  return await tx.$queryRaw<{ contactId: string; phoneNumber: string | null }[]>`
    SELECT ct.id::text AS "contactId",
           (SELECT i.value FROM contact_identities i
             WHERE i.tenant_id = ct.tenant_id AND i.contact_id = ct.id AND i.kind = 'pn'
             ORDER BY i.created_at, i.id LIMIT 1) AS "phoneNumber"
      FROM (${contacts}) s
      JOIN contacts ct ON ct.id = s.id
     ORDER BY ct.id`;
}

/** The tenant's opt-out and opt-in keywords, uppercase. */
export async function optKeywords(tx: TenantTx, tenantId: string): Promise<{ out: string[]; in: string[] }> {
  const row = await tx.campaignSettings.findUnique({ where: { tenantId } });
  const clean = (keywords: string[]) => keywords.map((k) => k.trim().toUpperCase());
  return {
    out: clean(row?.optOutKeywords ?? DEFAULT_OPT_OUT_KEYWORDS),
    in: clean(row?.optInKeywords ?? DEFAULT_OPT_IN_KEYWORDS),
  };
}

/**
 * Which of `contactIds` are opted out of campaigns. Each contact's latest inbound text that is
 * one of the tenant's keywords (trimmed, any case) is applied first when it is newer than the
 * contact's last recorded change: an opt-out keyword records the opt-out (keyword and message),
 * an opt-in keyword ends it. A contact is opted out while its row has no `opted_in_at`. Read where
 * it matters (a campaign's recipients are made, each is sent to), so a change counts however it
 * arrived; an older keyword never undoes a newer change (the API's included).
 */
export async function optedOut(tx: TenantTx, tenantId: string, contactIds: string[]): Promise<Set<string>> {
  if (contactIds.length === 0) return new Set();
  const keywords = await optKeywords(tx, tenantId);
  if (keywords.out.length + keywords.in.length > 0) {
    await tx.$executeRaw`
      WITH latest AS (
        SELECT DISTINCT ON (c.contact_id)
               c.contact_id, upper(btrim(m.body)) AS keyword, m.id AS message_id, m.created_at,
               upper(btrim(m.body)) = ANY (${keywords.in}::text[]) AS opts_in
          FROM conversations c
          JOIN messages m ON m.conversation_id = c.id
         WHERE c.contact_id = ANY (${contactIds}::uuid[])
           AND m.direction = 'inbound' AND m.type = 'text'
           AND upper(btrim(m.body)) = ANY (${keywords.out}::text[] || ${keywords.in}::text[])
         ORDER BY c.contact_id, m.created_at DESC, m.id DESC
      ),
      opted_in AS (
        UPDATE contact_opt_outs o
           SET opted_in_at = l.created_at, opted_in_by = l.keyword
          FROM latest l
         WHERE l.opts_in AND o.contact_id = l.contact_id AND o.opted_in_at IS NULL
           AND o.opted_out_at < l.created_at
      )
      INSERT INTO contact_opt_outs AS o (tenant_id, contact_id, keyword, message_id, opted_out_at)
      SELECT ${tenantId}::uuid, l.contact_id, l.keyword, l.message_id, l.created_at
        FROM latest l
       WHERE NOT l.opts_in
      ON CONFLICT (tenant_id, contact_id) DO UPDATE
         SET keyword = EXCLUDED.keyword, message_id = EXCLUDED.message_id,
             opted_out_at = EXCLUDED.opted_out_at, opted_in_at = NULL, opted_in_by = NULL
       WHERE o.opted_in_at IS NOT NULL AND o.opted_in_at < EXCLUDED.opted_out_at`;
  }
  const rows = await tx.contactOptOut.findMany({
    where: { contactId: { in: contactIds }, optedInAt: null },
    select: { contactId: true },
  });
  return new Set(rows.map((r) => r.contactId));
}

/**
 * Stores the recipients of campaign `campaignId` from its segment: one row per contact (the
 * unique key), skipped at once when the contact opted out or has no phone number. Returns how
 * many rows it made.
 */
export async function createRecipients(
  tx: TenantTx,
  tenantId: string,
  campaignId: string,
  segment: CampaignSegment,
): Promise<number> {
  const contacts = await resolveSegment(tx, segment);
  const out = await optedOut(
    tx,
    tenantId,
    contacts.map((c) => c.contactId),
  );
  if (contacts.length === 0) return 0;
  await tx.campaignRecipient.createMany({
    data: contacts.map((c) => ({
      tenantId,
      campaignId,
      contactId: c.contactId,
      phoneNumber: c.phoneNumber ?? '',
      ...(out.has(c.contactId)
        ? { state: 'skipped', reason: 'opted_out' }
        : c.phoneNumber === null
          ? { state: 'skipped', reason: 'no_phone_number' }
          : {}),
    })),
    skipDuplicates: true,
  });
  return contacts.length;
}

/** A campaign's recipients by state; queued ones by their message's status. */
export interface CampaignCounts {
  total: number;
  pending: number;
  queued: number;
  sent: number;
  delivered: number;
  read: number;
  failed: number;
  skipped: number;
}

/** The counts of campaign `campaignId` (one statement; the messages by their primary key). */
export async function campaignCounts(tx: TenantTx, campaignId: string): Promise<CampaignCounts> {
  const [row] = await tx.$queryRaw<Record<keyof CampaignCounts, number>[]>`
    SELECT count(*)::int AS total,
           count(*) FILTER (WHERE r.state = 'pending')::int AS pending,
           count(*) FILTER (WHERE r.state = 'skipped')::int AS skipped,
           count(*) FILTER (WHERE r.state = 'queued' AND (m.status IS NULL OR m.status = 'queued'))::int AS queued,
           count(*) FILTER (WHERE m.status = 'sent')::int AS sent,
           count(*) FILTER (WHERE m.status = 'delivered')::int AS delivered,
           count(*) FILTER (WHERE m.status = 'read')::int AS read,
           count(*) FILTER (WHERE m.status = 'failed')::int AS failed
      FROM campaign_recipients r
      LEFT JOIN messages m ON m.tenant_id = r.tenant_id AND m.id = r.message_id
     WHERE r.campaign_id = ${campaignId}::uuid`;
  return row ?? { total: 0, pending: 0, queued: 0, sent: 0, delivered: 0, read: 0, failed: 0, skipped: 0 };
}

/** Records `campaign.progress` (or `campaign.completed`) with the campaign's counts, in `tx`. */
export async function recordCampaignProgress(
  tx: TenantTx,
  tenantId: string,
  campaign: { id: string; status: string },
  type: 'campaign.progress' | 'campaign.completed',
): Promise<CampaignCounts> {
  const counts = await campaignCounts(tx, campaign.id);
  await recordWebhookEvent(tx, tenantId, {
    type,
    data: { campaignId: campaign.id, status: campaign.status as CampaignStatus, ...counts },
  });
  return counts;
}
