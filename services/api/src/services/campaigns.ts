// Campaigns (issue #20.3): create one (its recipients stored from the segment at once, opted-out
// contacts skipped), list and read them with their counts, pause / resume / cancel, and the
// per-recipient results. The worker's campaign runner (packages/messaging campaigns/runner.ts)
// does the sending.
import type { Conversation, Prisma, Session } from '@switchboard/db';
import {
  type CampaignCounts,
  type CampaignSegment,
  campaignCounts,
  campaignSegmentSchema,
  createRecipients,
  recordCampaignProgress,
} from '@switchboard/messaging/producer';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { audit } from '../audit.ts';
import { type ApiContext, tenantTx } from '../context.ts';
import { ApiError, notFound } from '../errors.ts';
import { type TemplateComponent, templateComponentSchema } from '../templates-meta.ts';
import { templateMessageColumns } from './templates.ts';

const status = z.enum(['running', 'paused', 'cancelled', 'completed']);

/** A campaign's counts (see campaignCounts). */
export const campaignCountsSchema = z.strictObject({
  total: z.number().int(),
  pending: z.number().int().describe('Not queued yet.'),
  queued: z.number().int(),
  sent: z.number().int(),
  delivered: z.number().int(),
  read: z.number().int(),
  failed: z.number().int(),
  skipped: z.number().int().describe('Opted out, without a phone number, or cancelled before sending.'),
});

/** A campaign as the API answers it. */
export const campaignSchema = z.strictObject({
  id: z.uuid(),
  name: z.string(),
  sessionId: z.uuid(),
  template: z.strictObject({ name: z.string(), language: z.string() }),
  segment: campaignSegmentSchema,
  status,
  perMinute: z.number().int(),
  counts: campaignCountsSchema,
  createdAt: z.iso.datetime(),
  completedAt: z.iso.datetime().nullable(),
});
export type CampaignView = z.infer<typeof campaignSchema>;

/** What creates a campaign. */
export const createCampaignSchema = z.strictObject({
  name: z.string().trim().min(1).max(120),
  sessionId: z.uuid().describe('A Cloud API session: templates are Meta templates.'),
  template: z.strictObject({
    name: z
      .string()
      .regex(/^[a-z0-9_]{1,512}$/, 'must be a Meta template name (lowercase letters, digits, underscores)'),
    language: z.string().min(2).max(15),
    components: z.array(templateComponentSchema).max(20).optional(),
  }),
  segment: campaignSegmentSchema,
  perMinute: z
    .number()
    .int()
    .min(1)
    .max(6000)
    .default(60)
    .describe("Sends queued per minute at most (the session's outbound limit applies too)."),
  paused: z.boolean().default(false).describe('Create it paused (resume to start sending).'),
});

/** One recipient's result. */
export const recipientSchema = z.strictObject({
  contactId: z.uuid(),
  phoneNumber: z.string(),
  status: z
    .enum(['pending', 'queued', 'sent', 'delivered', 'read', 'failed', 'skipped'])
    .describe("pending: not queued yet; skipped: never sent (see reason); otherwise its message's status."),
  reason: z
    .string()
    .nullable()
    .describe('Why it failed (the provider code and title) or was skipped (opted_out, ...).'),
  messageId: z.uuid().nullable(),
  contactName: z.string().nullable(),
});

type CampaignRow = {
  id: string;
  name: string;
  sessionId: string;
  template: Prisma.JsonValue;
  segment: Prisma.JsonValue;
  status: string;
  perMinute: number;
  createdAt: Date;
  completedAt: Date | null;
};

function view(row: CampaignRow, counts: CampaignCounts): CampaignView {
  const template = row.template as { name: string; language: string };
  return {
    id: row.id,
    name: row.name,
    sessionId: row.sessionId,
    template: { name: template.name, language: template.language },
    segment: campaignSegmentSchema.parse(row.segment),
    status: status.parse(row.status),
    perMinute: row.perMinute,
    counts,
    createdAt: row.createdAt.toISOString(),
    completedAt: row.completedAt?.toISOString() ?? null,
  };
}

/** Checks that the segment's label or import is the tenant's (400 naming the field otherwise). */
async function checkSegment(
  tx: Parameters<Parameters<typeof tenantTx>[2]>[0],
  segment: CampaignSegment,
): Promise<void> {
  const missing =
    (segment.type === 'label' && !(await tx.label.findUnique({ where: { id: segment.labelId } }))) ||
    (segment.type === 'import' && !(await tx.contactImport.findUnique({ where: { id: segment.importId } })));
  if (missing) {
    const path = segment.type === 'label' ? 'body.segment.labelId' : 'body.segment.importId';
    throw new ApiError('validation_failed', `${path} is not one of this tenant's`, {
      issues: [{ path, message: 'not found' }],
    });
  }
}

/**
 * Creates a campaign and its recipients (one per contact of the segment, opted-out contacts and
 * those without a phone number skipped): the template must be stored (GET /v1/templates), not
 * rejected or paused at Meta, with the body parameters it needs, and the session a Cloud API one.
 */
export async function createCampaign(
  ctx: ApiContext,
  request: FastifyRequest,
  input: z.infer<typeof createCampaignSchema>,
): Promise<CampaignView> {
  const tenantId = request.principal.tenantId;
  return await tenantTx(ctx, request, async (tx) => {
    const session = await tx.session.findUnique({ where: { id: input.sessionId } });
    if (!session)
      throw new ApiError('validation_failed', 'body.sessionId is not a session of this tenant', {
        issues: [{ path: 'body.sessionId', message: 'not found' }],
      });
    const stored = await tx.messageTemplate.findFirst({
      where: { name: input.template.name, language: input.template.language },
    });
    if (!stored)
      throw new ApiError(
        'validation_failed',
        `template ${input.template.name} (${input.template.language}) is not stored; add it under /v1/templates`,
        { issues: [{ path: 'body.template', message: 'unknown template' }] },
      );
    // The same checks and rendering as a single template send (channel, Meta status, parameters).
    const columns = await templateMessageColumns(
      tx,
      // Only the session is read from the conversation.
      { session } as Conversation & { session: Session },
      {
        type: 'template',
        name: input.template.name,
        language: input.template.language,
        components: input.template.components as TemplateComponent[] | undefined,
      } as Parameters<typeof templateMessageColumns>[2],
    );
    await checkSegment(tx, input.segment);
    const campaign = await tx.campaign.create({
      data: {
        tenantId,
        name: input.name,
        sessionId: session.id,
        template: {
          name: input.template.name,
          language: input.template.language,
          components: (input.template.components ?? []) as Prisma.InputJsonArray,
          body: columns.body ?? '',
        },
        segment: input.segment,
        status: input.paused ? 'paused' : 'running',
        perMinute: input.perMinute,
        createdById: request.principal.kind === 'user' ? request.principal.userId : null,
      },
    });
    const recipients = await createRecipients(tx, tenantId, campaign.id, input.segment);
    await audit(
      tx,
      request,
      'campaign.created',
      { type: 'campaign', id: campaign.id },
      { name: input.name, template: input.template.name, segment: input.segment, recipients },
    );
    return view(campaign, await campaignCounts(tx, campaign.id));
  });
}

/** Every campaign, newest first (at most 100), with its counts. */
export async function listCampaigns(ctx: ApiContext, request: FastifyRequest): Promise<CampaignView[]> {
  return await tenantTx(ctx, request, async (tx) => {
    const rows = await tx.campaign.findMany({ orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], take: 100 });
    const out: CampaignView[] = [];
    for (const row of rows) out.push(view(row, await campaignCounts(tx, row.id)));
    return out;
  });
}

/** Campaign `id` with its counts. */
export async function getCampaign(
  ctx: ApiContext,
  request: FastifyRequest,
  id: string,
): Promise<CampaignView> {
  return await tenantTx(ctx, request, async (tx) => {
    const row = await tx.campaign.findUnique({ where: { id } });
    if (!row) throw notFound('campaign');
    return view(row, await campaignCounts(tx, row.id));
  });
}

const TRANSITIONS = {
  pause: { from: ['running'], to: 'paused' },
  resume: { from: ['paused'], to: 'running' },
  cancel: { from: ['running', 'paused'], to: 'cancelled' },
} as const;

/**
 * Pauses, resumes or cancels campaign `id` (409 from a state that does not allow it). The row
 * update waits for a runner's batch in flight (it holds the row FOR SHARE), so no recipient is
 * queued after the answer. Cancelling marks the pending recipients skipped (`cancelled`).
 */
export async function changeCampaign(
  ctx: ApiContext,
  request: FastifyRequest,
  id: string,
  action: keyof typeof TRANSITIONS,
): Promise<CampaignView> {
  const tenantId = request.principal.tenantId;
  const transition = TRANSITIONS[action];
  return await tenantTx(ctx, request, async (tx) => {
    const [locked] = await tx.$queryRaw<{ status: string }[]>`
      SELECT status FROM campaigns WHERE id = ${id}::uuid FOR UPDATE`;
    if (!locked) throw notFound('campaign');
    if (!(transition.from as readonly string[]).includes(locked.status))
      throw new ApiError('conflict', `a ${locked.status} campaign cannot ${action}`);
    const row = await tx.campaign.update({
      where: { id },
      data: { status: transition.to, ...(action === 'cancel' ? { completedAt: new Date() } : {}) },
    });
    if (action === 'cancel')
      await tx.campaignRecipient.updateMany({
        where: { campaignId: id, state: 'pending' },
        data: { state: 'skipped', reason: 'cancelled' },
      });
    await audit(tx, request, `campaign.${action === 'cancel' ? 'cancelled' : `${action}d`}`, {
      type: 'campaign',
      id,
    });
    const counts = await recordCampaignProgress(
      tx,
      tenantId,
      { id, status: transition.to },
      action === 'cancel' ? 'campaign.completed' : 'campaign.progress',
    );
    return view(row, counts);
  });
}

/** A recipient row as listed. */
type RecipientRow = z.infer<typeof recipientSchema>;

/** Campaign `id`'s recipients by contact id after `cursor`, `limit + 1` of them, optionally of one status. */
export async function listRecipients(
  ctx: ApiContext,
  request: FastifyRequest,
  id: string,
  query: { cursor?: string | undefined; limit: number; status?: RecipientRow['status'] | undefined },
): Promise<RecipientRow[]> {
  const after = query.cursor ? decodeRecipientCursor(query.cursor) : undefined;
  return await tenantTx(ctx, request, async (tx) => {
    if (!(await tx.campaign.findUnique({ where: { id } }))) throw notFound('campaign');
    const rows = await tx.$queryRaw<RecipientRow[]>`
      SELECT * FROM (
        SELECT r.contact_id::text AS "contactId", r.phone_number AS "phoneNumber",
               CASE WHEN r.state = 'queued' THEN COALESCE(m.status::text, 'queued') ELSE r.state END AS status,
               CASE WHEN r.state = 'skipped' THEN r.reason ELSE m.failure_reason END AS reason,
               r.message_id::text AS "messageId",
               COALESCE(ct.display_name, ct.push_name) AS "contactName"
          FROM campaign_recipients r
          LEFT JOIN messages m ON m.tenant_id = r.tenant_id AND m.id = r.message_id
          LEFT JOIN contacts ct ON ct.tenant_id = r.tenant_id AND ct.id = r.contact_id
         WHERE r.campaign_id = ${id}::uuid AND r.contact_id > ${after ?? '00000000-0000-0000-0000-000000000000'}::uuid
      ) x
      WHERE ${query.status ?? null}::text IS NULL OR x.status = ${query.status ?? null}::text
      ORDER BY "contactId"
      LIMIT ${query.limit + 1}`;
    return rows;
  });
}

/** A recipients page's cursor: the last contact id, base64url. */
export function recipientCursor(contactId: string): string {
  return Buffer.from(contactId).toString('base64url');
}

function decodeRecipientCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id))
    throw new ApiError('invalid_cursor', 'query.cursor is not a cursor this API returned', {
      issues: [{ path: 'query.cursor', message: 'not a valid cursor' }],
    });
  return id;
}
