// Campaign opt-outs: the tenant's opt-out and opt-in keywords, and one contact's state (opted out
// by a keyword reply or through the API, back in by an opt-in keyword or through the API). The
// rules that apply keyword replies are packages/messaging campaigns.ts `optedOut`, which the
// campaign runner reads too.
import { DEFAULT_OPT_IN_KEYWORDS, DEFAULT_OPT_OUT_KEYWORDS, optedOut } from '@switchboard/messaging/producer';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { audit } from '../audit.ts';
import { type ApiContext, tenantTx } from '../context.ts';
import { ApiError, notFound } from '../errors.ts';
import { isoOrNull } from '../schemas.ts';

/** Which keywords: those that opt a contact out, or back in. */
export type KeywordKind = 'out' | 'in';

/** The tenant's keywords of `kind` (the defaults when never set). */
export async function getOptKeywords(
  ctx: ApiContext,
  request: FastifyRequest,
  kind: KeywordKind,
): Promise<string[]> {
  return await tenantTx(ctx, request, async (tx) => {
    const row = await tx.campaignSettings.findUnique({ where: { tenantId: request.principal.tenantId } });
    return kind === 'out'
      ? (row?.optOutKeywords ?? DEFAULT_OPT_OUT_KEYWORDS)
      : (row?.optInKeywords ?? DEFAULT_OPT_IN_KEYWORDS);
  });
}

/** Replaces the tenant's keywords of `kind` (trimmed, uppercase, without repeats), audited. */
export async function putOptKeywords(
  ctx: ApiContext,
  request: FastifyRequest,
  kind: KeywordKind,
  keywords: string[],
): Promise<string[]> {
  const tenantId = request.principal.tenantId;
  const clean = [...new Set(keywords.map((k) => k.trim().toUpperCase()))];
  const field = kind === 'out' ? 'optOutKeywords' : 'optInKeywords';
  await tenantTx(ctx, request, async (tx) => {
    // A word cannot both opt out and opt back in: the other list is checked in the same transaction.
    const row = await tx.campaignSettings.findUnique({ where: { tenantId } });
    const other =
      kind === 'out'
        ? (row?.optInKeywords ?? DEFAULT_OPT_IN_KEYWORDS)
        : (row?.optOutKeywords ?? DEFAULT_OPT_OUT_KEYWORDS);
    const both = clean.filter((k) => other.includes(k));
    const words = both.join(', ');
    const otherKind = `opt-${kind === 'out' ? 'in' : 'out'}`;
    if (both.length > 0)
      throw new ApiError(
        'validation_failed',
        `body.keywords: ${words} ${both.length === 1 ? 'is' : 'are'} already an ${otherKind} keyword`,
        { issues: [{ path: 'body.keywords', message: `${words}: already ${otherKind} keywords` }] },
      );
    await tx.campaignSettings.upsert({
      where: { tenantId },
      create: { tenantId, [field]: clean },
      update: { [field]: clean },
    });
    await audit(
      tx,
      request,
      `settings.opt_${kind}_keywords_updated`,
      { type: 'tenant', id: tenantId },
      { keywords: clean },
    );
  });
  return clean;
}

/** A contact's campaign opt-out as the API answers it. */
export const optOutStateSchema = z.strictObject({
  optedOut: z.boolean().describe('True: left out of campaigns.'),
  keyword: z.string().nullable().describe("The opt-out keyword the contact sent, or 'api'."),
  optedOutAt: isoOrNull,
  optedInAt: isoOrNull.describe('When the contact opted back in after the opt-out (null while opted out).'),
  optedInBy: z.string().nullable().describe("The opt-in keyword the contact sent, or 'api'."),
});
export type OptOutState = z.infer<typeof optOutStateSchema>;

/**
 * Contact `contactId`'s opt-out, after applying its keyword replies (optedOut); `change` first
 * records an opt-out or an opt-in through the API (keyword 'api', audited), which a keyword reply
 * older than it never undoes. not_found without the contact.
 */
export async function contactOptOut(
  ctx: ApiContext,
  request: FastifyRequest,
  contactId: string,
  change?: 'opt_out' | 'opt_in',
): Promise<OptOutState> {
  const tenantId = request.principal.tenantId;
  return await tenantTx(ctx, request, async (tx) => {
    if (!(await tx.contact.findUnique({ where: { id: contactId }, select: { id: true } })))
      throw notFound('contact');
    // Keyword replies up to now first, so the API's change is the newest.
    await optedOut(tx, tenantId, [contactId]);
    if (change === 'opt_out') {
      const changed = await tx.$executeRaw`
        INSERT INTO contact_opt_outs AS o (tenant_id, contact_id, keyword, opted_out_at)
        VALUES (${tenantId}::uuid, ${contactId}::uuid, 'api', clock_timestamp())
        ON CONFLICT (tenant_id, contact_id) DO UPDATE
           SET keyword = 'api', message_id = NULL, opted_out_at = clock_timestamp(),
               opted_in_at = NULL, opted_in_by = NULL
         WHERE o.opted_in_at IS NOT NULL`;
      if (changed > 0) await audit(tx, request, 'contact.opted_out', { type: 'contact', id: contactId });
    } else if (change === 'opt_in') {
      const changed = await tx.$executeRaw`
        UPDATE contact_opt_outs SET opted_in_at = clock_timestamp(), opted_in_by = 'api'
         WHERE contact_id = ${contactId}::uuid AND opted_in_at IS NULL`;
      if (changed > 0) await audit(tx, request, 'contact.opted_in', { type: 'contact', id: contactId });
    }
    const row = await tx.contactOptOut.findUnique({ where: { tenantId_contactId: { tenantId, contactId } } });
    return {
      optedOut: row !== null && row.optedInAt === null,
      keyword: row?.keyword ?? null,
      optedOutAt: row ? row.optedOutAt.toISOString() : null,
      optedInAt: row?.optedInAt ? row.optedInAt.toISOString() : null,
      optedInBy: row?.optedInBy ?? null,
    };
  });
}
