// The operator's view of the configured tenant (GET /internal/status).
import { type SessionState, tenantIdForSlug, withTenant } from '@switchboard/db';
import type { ApiContext } from '../context.ts';

/** Every session state, in the order the status lists them. */
export const SESSION_STATES = [
  'unpaired',
  'pairing',
  'connecting',
  'connected',
  'disconnected',
  'logged_out',
] as const satisfies readonly SessionState[];

/** How many sessions of the configured tenant are in each state, and in all. */
export async function sessionSummary(
  ctx: ApiContext,
): Promise<{ tenant: string; sessions: { total: number; byState: Record<SessionState, number> } }> {
  const slug = ctx.defaultTenant;
  const groups = await withTenant(ctx.db, tenantIdForSlug(slug), (tx) =>
    tx.session.groupBy({ by: ['state'], _count: { _all: true } }),
  );
  const byState = Object.fromEntries(SESSION_STATES.map((s) => [s, 0])) as Record<SessionState, number>;
  for (const g of groups) byState[g.state] = g._count._all;
  return { tenant: slug, sessions: { total: groups.reduce((n, g) => n + g._count._all, 0), byState } };
}
