// Labels (issue #20.4): a tenant's named, coloured tags on conversations and contacts. Every
// change is audited and announced (`label.applied` / `label.removed` webhooks) in its own
// transaction; a bulk apply or remove is one transaction for all its targets.
import type { TenantTx } from '@switchboard/db';
import { recordWebhookEvent } from '@switchboard/messaging/producer';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { audit } from '../audit.ts';
import { type ApiContext, tenantTx } from '../context.ts';
import { ApiError, notFound } from '../errors.ts';

/** The palette the inbox offers (any '#rrggbb' is accepted). */
export const LABEL_PALETTE = [
  '#dc2626',
  '#ea580c',
  '#d97706',
  '#65a30d',
  '#059669',
  '#0891b2',
  '#2563eb',
  '#7c3aed',
  '#c026d3',
  '#6b7280',
] as const;

/** A label's colour: '#rrggbb' (any case in, lowercase stored). */
export const labelColorSchema = z
  .string()
  .regex(/^#[0-9a-fA-F]{6}$/, "must be a colour '#rrggbb'")
  .transform((c) => c.toLowerCase());

/** A label's name: trimmed, 1 to 50 characters. */
export const labelNameSchema = z.string().trim().min(1).max(50);

/** A label as the API answers it. */
export const labelSchema = z.strictObject({
  id: z.uuid(),
  name: z.string(),
  color: z.string().describe("'#rrggbb'"),
  conversationCount: z.number().int().describe('Conversations with the label.'),
  contactCount: z.number().int().describe('Contacts with the label.'),
  createdAt: z.iso.datetime(),
});

/** A label as it appears on a conversation or a contact. */
export const appliedLabelSchema = z.strictObject({ id: z.uuid(), name: z.string(), color: z.string() });

export type LabelView = z.infer<typeof labelSchema>;
/** A labels row (the columns read here). */
type Label = { id: string; tenantId: string; name: string; color: string; createdAt: Date };
export type LabelTarget = 'conversation' | 'contact';

function view(label: Label, counts?: { conversations: number; contacts: number }): LabelView {
  return {
    id: label.id,
    name: label.name,
    color: label.color,
    conversationCount: counts?.conversations ?? 0,
    contactCount: counts?.contacts ?? 0,
    createdAt: label.createdAt.toISOString(),
  };
}

/** The unique violation of (tenant_id, name) as the 409 it is. */
function nameTaken(error: unknown, name: string): never {
  if ((error as { code?: string }).code === 'P2002')
    throw new ApiError('conflict', `a label named "${name}" exists already`, {
      issues: [{ path: 'body.name', message: 'taken' }],
    });
  throw error;
}

/** Every label of the tenant by name, with how many conversations and contacts carry it. */
export async function listLabels(ctx: ApiContext, request: FastifyRequest): Promise<LabelView[]> {
  return await tenantTx(ctx, request, async (tx) => {
    const labels = await tx.label.findMany({
      orderBy: [{ name: 'asc' }, { id: 'asc' }],
      include: { _count: { select: { conversationLabels: true, contactLabels: true } } },
    });
    return labels.map((l) =>
      view(l, { conversations: l._count.conversationLabels, contacts: l._count.contactLabels }),
    );
  });
}

/** Creates a label (admins); its name is unique in the tenant. */
export async function createLabel(
  ctx: ApiContext,
  request: FastifyRequest,
  input: { name: string; color: string },
): Promise<LabelView> {
  return await tenantTx(ctx, request, async (tx) => {
    const label = await tx.label
      .create({ data: { tenantId: request.principal.tenantId, name: input.name, color: input.color } })
      .catch((error: unknown) => nameTaken(error, input.name));
    await audit(tx, request, 'label.created', { type: 'label', id: label.id }, input);
    return view(label);
  });
}

/** Renames or recolours label `id`. */
export async function updateLabel(
  ctx: ApiContext,
  request: FastifyRequest,
  id: string,
  input: { name?: string | undefined; color?: string | undefined },
): Promise<LabelView> {
  return await tenantTx(ctx, request, async (tx) => {
    const before = await tx.label.findUnique({ where: { id } });
    if (!before) throw notFound('label');
    const label = await tx.label
      .update({
        where: { id },
        data: {
          ...(input.name !== undefined ? { name: input.name } : {}),
          ...(input.color !== undefined ? { color: input.color } : {}),
        },
        include: { _count: { select: { conversationLabels: true, contactLabels: true } } },
      })
      .catch((error: unknown) => nameTaken(error, input.name ?? before.name));
    await audit(
      tx,
      request,
      'label.updated',
      { type: 'label', id },
      { before: { name: before.name, color: before.color }, after: { name: label.name, color: label.color } },
    );
    return view(label, {
      conversations: label._count.conversationLabels,
      contacts: label._count.contactLabels,
    });
  });
}

/** Deletes label `id`: it leaves every conversation and contact (one `label.removed` each). */
export async function deleteLabel(ctx: ApiContext, request: FastifyRequest, id: string): Promise<void> {
  await tenantTx(ctx, request, async (tx) => {
    const label = await tx.label.findUnique({ where: { id } });
    if (!label) throw notFound('label');
    const conversations = await tx.conversationLabel.findMany({ where: { labelId: id } });
    const contacts = await tx.contactLabel.findMany({ where: { labelId: id } });
    for (const c of conversations)
      await announce(tx, label, 'label.removed', 'conversation', c.conversationId);
    for (const c of contacts) await announce(tx, label, 'label.removed', 'contact', c.contactId);
    // The join rows go with it (ON DELETE CASCADE).
    await tx.label.delete({ where: { id } });
    await audit(
      tx,
      request,
      'label.deleted',
      { type: 'label', id },
      { name: label.name, conversations: conversations.length, contacts: contacts.length },
    );
  });
}

async function announce(
  tx: TenantTx,
  label: Label,
  type: 'label.applied' | 'label.removed',
  targetType: LabelTarget,
  targetId: string,
): Promise<void> {
  await recordWebhookEvent(tx, label.tenantId, {
    type,
    data: { labelId: label.id, name: label.name, color: label.color, targetType, targetId },
  });
}

/** The ids of `ids` that exist as `target`s of the tenant (RLS scopes the lookup). */
async function existingTargets(tx: TenantTx, target: LabelTarget, ids: string[]): Promise<Set<string>> {
  const rows =
    target === 'conversation'
      ? await tx.conversation.findMany({ where: { id: { in: ids } }, select: { id: true } })
      : await tx.contact.findMany({ where: { id: { in: ids } }, select: { id: true } });
  return new Set(rows.map((r) => r.id));
}

/** What a (bulk) apply or remove changed. */
export interface LabelChangeResult {
  /** Targets whose labels changed. */
  changed: string[];
  /** Targets that already had (apply) or lacked (remove) the label. */
  unchanged: string[];
}

/**
 * Applies label `labelId` to every target of `ids` (conversations or contacts), or removes it,
 * in one transaction: an id that is not the tenant's refuses the whole request (400, naming it);
 * each actual change is audited and announced once; repeating a request changes nothing.
 */
export async function changeLabels(
  ctx: ApiContext,
  request: FastifyRequest,
  change: { labelId: string; target: LabelTarget; ids: string[]; action: 'apply' | 'remove' },
): Promise<LabelChangeResult> {
  const ids = [...new Set(change.ids)];
  const tenantId = request.principal.tenantId;
  return await tenantTx(ctx, request, async (tx) => {
    const label = await tx.label.findUnique({ where: { id: change.labelId } });
    if (!label) throw notFound('label');
    const existing = await existingTargets(tx, change.target, ids);
    const missing = ids.filter((id) => !existing.has(id));
    if (missing.length > 0) {
      throw new ApiError('validation_failed', `${change.target} ${missing[0]} not found`, {
        issues: missing
          .slice(0, 20)
          .map((id) => ({ path: `${change.target}Ids`, message: `${id} not found` })),
      });
    }
    let changed: string[];
    if (change.target === 'conversation') {
      const rows =
        change.action === 'apply'
          ? await tx.conversationLabel.createManyAndReturn({
              data: ids.map((conversationId) => ({ tenantId, conversationId, labelId: label.id })),
              skipDuplicates: true,
            })
          : await tx.conversationLabel.findMany({
              where: { labelId: label.id, conversationId: { in: ids } },
            });
      changed = rows.map((r) => r.conversationId);
      if (change.action === 'remove')
        await tx.conversationLabel.deleteMany({
          where: { labelId: label.id, conversationId: { in: changed } },
        });
    } else {
      const rows =
        change.action === 'apply'
          ? await tx.contactLabel.createManyAndReturn({
              data: ids.map((contactId) => ({ tenantId, contactId, labelId: label.id })),
              skipDuplicates: true,
            })
          : await tx.contactLabel.findMany({ where: { labelId: label.id, contactId: { in: ids } } });
      changed = rows.map((r) => r.contactId);
      if (change.action === 'remove')
        await tx.contactLabel.deleteMany({ where: { labelId: label.id, contactId: { in: changed } } });
    }
    const type = change.action === 'apply' ? 'label.applied' : 'label.removed';
    for (const id of changed) {
      await announce(tx, label, type, change.target, id);
      await audit(tx, request, type, { type: change.target, id }, { labelId: label.id, name: label.name });
    }
    const done = new Set(changed);
    return { changed, unchanged: ids.filter((id) => !done.has(id)) };
  });
}

/** The labels on conversation or contact `id` (404 when it is not the tenant's). */
export async function labelsOf(
  ctx: ApiContext,
  request: FastifyRequest,
  target: LabelTarget,
  id: string,
): Promise<z.infer<typeof appliedLabelSchema>[]> {
  return await tenantTx(ctx, request, async (tx) => {
    if ((await existingTargets(tx, target, [id])).size === 0) throw notFound(target);
    const rows =
      target === 'conversation'
        ? await tx.conversationLabel.findMany({ where: { conversationId: id }, include: { label: true } })
        : await tx.contactLabel.findMany({ where: { contactId: id }, include: { label: true } });
    return rows
      .map((r) => ({ id: r.label.id, name: r.label.name, color: r.label.color }))
      .sort((a, b) => a.name.localeCompare(b.name));
  });
}
